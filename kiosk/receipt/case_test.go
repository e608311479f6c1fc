package receipt

import (
	"strings"
	"testing"
	"time"

	"tongban/drivers/escpos/codec"
	"tongban/kiosk/terminal"
	"tongban/kiosk/uplink"
)

func TestCaseReceiptCarriesCaseNumberTrackingQRAndMaskedApplicant(t *testing.T) {
	track := "http://127.0.0.1:8790/track/CABCDEFGHJKMNPQRS"
	c := &terminal.CaseReceipt{ApplicationID: "A0123456789ABCDEF", CaseNumber: "2026-CG-000001", MatterName: "个体工商户注销登记",
		Township: "城关镇", Applicant: uplink.Applicant{Name: "张三", IDNumber: "110101199001010015"}.String(), TrackURL: track,
		Centre: uplink.ServicePoint{Name: uplink.Text{Zh: "城关镇便民服务中心"}, Address: "城关镇人民路88号", Hours: uplink.Text{Zh: "周一至周五"}}}
	for _, paper := range []codec.PaperWidth{codec.Paper58, codec.Paper80} {
		job, err := Layout{Paper: paper}.Job(terminal.Receipt{Kind: "case", TerminalID: "TB-1", Time: time.Now(), Case: c})
		if err != nil {
			t.Fatal(err)
		}
		r := render(t, job)
		for _, want := range []string{"受理回执", "2026-CG-000001", "个体工商户注销登记", "张* 1101**********0015", "城关镇人民路88号"} {
			if !strings.Contains(r.Text, want) {
				t.Errorf("%v receipt lacks %q:\n%s", paper, want, r.Text)
			}
		}
		if strings.Contains(r.Text, "110101199001010015") || strings.Contains(r.Text, "张三") {
			t.Fatalf("receipt carries the applicant unmasked:\n%s", r.Text)
		}
		if len(r.QRPayloads) != 1 || r.QRPayloads[0] != track {
			t.Fatalf("QR %q", r.QRPayloads)
		}
	}
	pending := *c
	pending.CaseNumber, pending.TrackURL, pending.Pending = "", "", true
	job, _ := Layout{Paper: codec.Paper80}.Job(terminal.Receipt{Kind: "case", Time: time.Now(), Case: &pending})
	if r := render(t, job); !strings.Contains(r.Text, "待送达") || len(r.QRPayloads) != 0 {
		t.Fatalf("pending receipt:\n%s", r.Text)
	}
}
