package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tongban/drivers/simulator"
	"tongban/kiosk/terminal"
	"tongban/provisioning/profile"
)

// TestStaffModeInChromium: a staff member holds their badge to the
// scanner (the simulator's), types the PIN on the page, pays a resident's
// bill at the counter, counts a removed cash box and signs out.
func TestStaffModeInChromium(t *testing.T) {
	s := startStackWith(t, func(dir string, sim *simulator.Simulator) *profile.Profile {
		p := &profile.Profile{Devices: map[string]profile.Device{
			"billValidator": {Driver: "id003", Path: sim.Link(simulator.BillValidator), Denominations: []int64{1000, 2000, 5000, 10000}},
			"printer":       {Driver: "escpos", Path: sim.Link(simulator.Printer), Paper: 80},
			"scanner":       {Driver: "scanner", Path: sim.Link(simulator.Scanner), Model: "newland", Mode: "auto"},
		}}
		b, _ := json.Marshal(p)
		p, err := profile.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		return p
	})
	watch := s.dial()
	watch.until("devices ready", func(sn terminal.Snapshot) bool {
		return sn.Services.CashAvailable && sn.Services.PrinterReady && sn.Devices["scanner"].State == "online"
	})
	b := newBrowser(t)
	b.do("open the screen", chromedp.Navigate("http://"+s.uiAddr+"/"), chromedp.WaitVisible(chromedp.ID("tile-water")))
	screen := func(name string) {
		t.Helper()
		b.waitJS(name, `document.getElementById('app').dataset.screen === '`+name+`'`)
	}

	badge, err := s.platform.IssueStaffBadge("S1001")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.simPost("/scan", map[string]string{"code": badge.QR})
	screen("staffPin")
	t.Logf("badge scanned to PIN pad in %v", time.Since(start))
	b.shot("staff-pin")
	for _, d := range "246810" {
		b.click("staff-key-" + string(d))
	}
	if got := b.text("#staff-pin-display"); got != "●●●●●●" {
		t.Fatalf("PIN display %q", got)
	}
	b.shot("staff-pin-typed")
	start = time.Now()
	b.click("staff-btn-signin")
	screen("staffMenu")
	t.Logf("PIN sent to staff menu in %v (platform check included)", time.Since(start))
	if who := b.text("#staff-who"); !strings.Contains(who, "S1001") {
		t.Fatalf("signed in as %q", who)
	}
	if strings.Contains(b.eval(`document.body.innerHTML`), "246810") {
		t.Fatal("the PIN is still on the page")
	}
	b.shot("staff-menu")

	// A counter payment: the resident's 100 yuan taken at the counter.
	b.click("staff-open-topup")
	screen("staffTopUp")
	b.shot("staff-topup-account")
	for _, d := range "100100100001" {
		b.click("staff-acct-" + string(d))
	}
	b.click("staff-btn-lookup")
	b.waitJS("bill", `!!document.getElementById('staff-amount-due')`)
	b.click("staff-note-10000-plus")
	b.waitJS("total", `document.getElementById('staff-topup-total').textContent.includes('100.00')`)
	b.shot("staff-topup-cash")
	b.click("staff-btn-pay")
	b.waitJS("paid and printed", `(() => { const s = document.getElementById('staff-topup-status'), r = document.getElementById('staff-topup-receipt');
		return s && s.dataset.status === 'acknowledged' && r && r.dataset.receipt === 'printed'; })()`)
	b.shot("staff-topup-done")
	pays, err := s.platform.Payments()
	if err != nil || len(pays) != 1 || pays[0].Payment.Amount != 10000 {
		t.Fatalf("platform payments %+v (%v), want one of 100 yuan", pays, err)
	}
	if rs := s.sim.Printer().Receipts(); len(rs) != 1 || !strings.Contains(rs[0].Text, "柜台代缴") || len(rs[0].QRPayloads) != 1 {
		t.Fatalf("receipts %+v", rs)
	}

	// The cash box comes out: the validator reports it, the count goes in.
	b.click("staff-btn-back")
	screen("staffMenu")
	s.simPost("/fault", map[string]string{"device": "billValidator", "fault": "stackerOpen"})
	b.waitJS("removal noticed", `!!document.getElementById('staff-box-removed')`)
	b.shot("staff-menu-box-removed")
	b.click("staff-open-cashbox")
	screen("staffCashBox")
	b.waitJS("count form", `!!document.getElementById('staff-box-removed-at')`)
	b.click("staff-count-2000-plus") // a note the journal never saw
	b.shot("staff-cashbox-count")
	b.click("staff-btn-count")
	b.waitJS("result", `document.getElementById('staff-box-verdict') && document.getElementById('staff-box-verdict').dataset.mismatch === 'true'`)
	b.waitJS("sent", `document.getElementById('staff-box-sent').dataset.sent === 'true'`)
	b.shot("staff-cashbox-result")
	if d := b.text("#staff-box-diff"); !strings.HasPrefix(d, "+20.00") {
		t.Fatalf("a surplus shows as %q, want it signed +20.00", d)
	}
	reps, err := s.platform.StaffReports()
	if err != nil || len(reps) != 1 || !reps[0].Flagged || reps[0].CashBox.Difference != 2000 {
		t.Fatalf("platform staff reports %+v (%v)", reps, err)
	}
	s.simPost("/fault", map[string]string{"device": "billValidator", "fault": "stackerOpen:off"})

	b.click("staff-btn-back")
	screen("staffMenu")
	b.click("staff-open-refund")
	screen("staffRefund")
	b.shot("staff-refund")
	b.click("staff-btn-back")
	screen("staffMenu")
	b.click("staff-btn-signout")
	screen("home")
	b.shot("staff-signed-out")
	deadline := time.Now().Add(10 * time.Second)
	for {
		reps, _ := s.platform.StaffReports()
		if len(reps) == 2 && reps[1].Shift != nil && reps[1].Shift.TopUpTotal == 10000 && len(reps[1].Shift.CashBoxes) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no shift report at the platform: %+v", reps)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
