package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"tongban/kiosk/terminal"
)

// TestMobilePaymentInChromium: a resident picks "pay by phone", the screen
// shows the platform's payment QR, the phone pays, and the receipt prints.
func TestMobilePaymentInChromium(t *testing.T) {
	s := startStack(t)
	watch := s.dial()
	watch.until("ready", func(sn terminal.Snapshot) bool { return sn.Services.PrinterReady && sn.Services.MobileAvailable })

	b := newBrowser(t)
	b.do("open", chromedp.Navigate("http://"+s.uiAddr+"/"), chromedp.WaitVisible(chromedp.ID("tile-electricity")))
	b.click("tile-electricity")
	for _, d := range "200200200001" {
		b.click("key-" + string(d))
	}
	b.click("btn-lookup")
	b.waitJS("bill", `document.getElementById('app').dataset.screen === 'bill'`)
	b.click("btn-mobile")
	b.waitJS("QR on screen", `(() => { const q = document.getElementById('mobile-qr'); return !!q && q.complete && q.naturalWidth > 0 })()`)
	b.shot("07-mobile-qr")
	sn := watch.until("order pending", func(sn terminal.Snapshot) bool { return sn.Order != nil && sn.Order.QRPayload != "" })
	if !strings.Contains(sn.Order.QRPayload, sn.Order.OrderID) {
		t.Fatalf("QR payload %q", sn.Order.QRPayload)
	}
	// The resident's phone pays (the platform's pay page does this POST).
	resp, err := http.Post(s.platURL+"/ref/orders/"+sn.Order.OrderID+"/pay", "application/json", strings.NewReader("{}"))
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("pay: %v %v", err, resp)
	}
	resp.Body.Close()
	b.waitJS("done", `document.getElementById('app').dataset.screen === 'done'`)
	b.shot("08-mobile-done")
	if title := b.text("#done-title"); !strings.Contains(title, "缴费成功") {
		t.Fatalf("done title %q", title)
	}
	rs := s.sim.Printer().Receipts()
	if len(rs) != 1 || !strings.Contains(rs[0].Text, "扫码") || len(rs[0].QRPayloads) != 1 {
		t.Fatalf("receipt %+v", rs)
	}
	pays, _ := s.platform.Payments()
	if len(pays) != 1 || pays[0].Payment.Amount != 12830 {
		t.Fatalf("platform payments %+v", pays)
	}
}
