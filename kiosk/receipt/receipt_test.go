package receipt

import (
	"strings"
	"testing"
	"time"

	"tongban/drivers/escpos/codec"
	"tongban/kiosk/terminal"
)

func render(t *testing.T, job []byte) codec.Rendering {
	t.Helper()
	cmds, errs := codec.Parse(job)
	if len(errs) > 0 {
		t.Fatalf("receipt does not parse: %v", errs)
	}
	return codec.Render(cmds)
}

func TestPaymentReceiptCarriesAmountAndVerifyQR(t *testing.T) {
	job, err := Layout{Paper: codec.Paper80}.Job(terminal.Receipt{TerminalID: "TB-1", Time: time.Now(), Utility: "water",
		Account: "100100100001", Payee: "县自来水公司", Period: "2026-10", Amount: 10000, Applied: 8650, Prepaid: 1350,
		Notes: []terminal.NoteCount{{Value: 5000, Count: 2}}, PaymentID: "P1", VerifyCode: "ABC123",
		VerifyURL: "http://127.0.0.1:8790/verify/P1?c=ABC123", Reference: "0123abcd-0000"})
	if err != nil {
		t.Fatal(err)
	}
	r := render(t, job)
	for _, want := range []string{"缴费凭证", "水费", "100100100001", "100.00", "86.50", "13.50", "ABC123"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("receipt lacks %q:\n%s", want, r.Text)
		}
	}
	if len(r.QRPayloads) != 1 || r.QRPayloads[0] != "http://127.0.0.1:8790/verify/P1?c=ABC123" {
		t.Fatalf("QR %q", r.QRPayloads)
	}
}

func TestPendingAndVoucherReceipts(t *testing.T) {
	job, _ := Layout{Paper: codec.Paper58}.Job(terminal.Receipt{Time: time.Now(), Utility: "gas", Account: "300300300001",
		Amount: 5000, Pending: true, Reference: "k"})
	if r := render(t, job); !strings.Contains(r.Text, "待确认") || len(r.QRPayloads) != 0 {
		t.Fatalf("pending receipt:\n%s", r.Text)
	}
	v := terminal.Voucher{ID: "VABCDEFGHJKMN", Code: "123456", Amount: 2000, TerminalID: "TB-1"}
	job, _ = Layout{Paper: codec.Paper80}.Job(terminal.Receipt{Kind: "voucher", Time: time.Now(), Amount: 2000, Reference: v.ID,
		VerifyCode: v.Code, VerifyURL: v.Payload(), Reason: "timeout"})
	r := render(t, job)
	if !strings.Contains(r.Text, "现金凭证") || !strings.Contains(r.Text, "20.00") || len(r.QRPayloads) != 1 ||
		!strings.HasPrefix(r.QRPayloads[0], "tongban-voucher:VABCDEFGHJKMN?") {
		t.Fatalf("voucher:\n%s\n%q", r.Text, r.QRPayloads)
	}
}
