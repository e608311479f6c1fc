package receipt

import (
	"strings"
	"testing"
	"time"

	"tongban/drivers/escpos/codec"
	"tongban/kiosk/terminal"
	"tongban/kiosk/uplink"
)

func TestStaffDocuments(t *testing.T) {
	l := Layout{Paper: codec.Paper80}
	at := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	base := terminal.StaffDoc{TerminalID: "TB-1", Time: at, StaffID: "S1001", StaffName: "王芳"}

	top := base
	top.Kind = "topUp"
	top.TopUp = &terminal.Receipt{Utility: "water", Account: "100100100001", Amount: 14000, Applied: 8650, Prepaid: 5350,
		Notes: []terminal.NoteCount{{Value: 10000, Count: 1}, {Value: 2000, Count: 2}}, PaymentID: "P1", VerifyCode: "ABC123",
		VerifyURL: "http://127.0.0.1:8790/verify/P1?c=ABC123", Reference: "0123abcd"}
	box := base
	box.Kind = "cashBox"
	box.CashBox = &uplink.CashBoxReport{ReportID: "Z1", RemovedAt: at, CountedAt: at, ExpectedTotal: 26000, CountedTotal: 18000,
		Difference: -8000, Mismatch: true, Lines: []uplink.CashBoxLine{{Value: 2000, Counted: 1}, {Value: 10000, Expected: 2, Counted: 1}}}
	ref := base
	ref.Kind = "refund"
	ref.Refund = &uplink.ShiftRefund{VoucherID: "V0123456789AB", Amount: 5000}
	sh := base
	sh.Kind = "shift"
	sh.Shift = &uplink.ShiftReport{ShiftID: "SH1", StaffID: "S1001", SignedInAt: at, SignedOutAt: at.Add(time.Hour), EndedBy: "signOut",
		TopUps: []uplink.ShiftTopUp{{Utility: "water", Account: "100100100001", Amount: 14000, Status: "acknowledged"}}, TopUpTotal: 14000,
		Refunds: []uplink.ShiftRefund{{VoucherID: "V0123456789AB", Amount: 5000}}, RefundTotal: 5000, CashBoxes: []string{"Z1"},
		Differences: -8000, CashToDeposit: 9000}
	for _, c := range []struct {
		doc  terminal.StaffDoc
		want []string
		qr   int
	}{
		{top, []string{"缴费凭证", "柜台代缴", "140.00", "86.50", "53.50", "ABC123", "王芳"}, 1},
		{box, []string{"钱箱清点报告", "Z1", "260.00", "180.00", "-80.00", "+1", "-1", "未做任何调整"}, 0},
		{ref, []string{"凭证退款", "V0123456789AB", "50.00", "居民签收"}, 0},
		{sh, []string{"班次报告", "SH1", "柜台代缴 1 笔", "140.00", "凭证退款 1 笔", "钱箱清点 1 次", "-80.00", "应交现金", "90.00", "****0001"}, 0},
	} {
		job, err := l.StaffJob(c.doc)
		if err != nil {
			t.Fatalf("%s: %v", c.doc.Kind, err)
		}
		r := render(t, job)
		for _, w := range c.want {
			if !strings.Contains(r.Text, w) {
				t.Errorf("%s lacks %q:\n%s", c.doc.Kind, w, r.Text)
			}
		}
		if len(r.QRPayloads) != c.qr {
			t.Errorf("%s: %d QR codes, want %d", c.doc.Kind, len(r.QRPayloads), c.qr)
		}
	}
	if _, err := l.StaffJob(terminal.StaffDoc{Kind: "cashBox"}); err == nil {
		t.Error("a cash-box report without its count was laid out")
	}
}
