package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tongban/drivers/device"
	"tongban/kiosk/terminal"
)

// TestNotesArriveWhileThePageIsBusy inserts notes while the page's main
// thread is blocked (a slow kiosk PC, a long layout): the daemon credits
// each note as it is stacked, and when the page wakes up it draws the
// latest snapshot, so the resident sees every yuan and nothing twice.
func TestNotesArriveWhileThePageIsBusy(t *testing.T) {
	s := startStack(t)
	watch := s.dial()
	watch.until("devices ready", func(sn terminal.Snapshot) bool { return sn.Services.CashAvailable && sn.Services.PrinterReady })

	b := newBrowser(t)
	b.do("open the screen", chromedp.Navigate("http://"+s.uiAddr+"/"), chromedp.WaitVisible(chromedp.ID("tile-water")))
	b.click("tile-water")
	b.waitJS("account screen", `document.getElementById('app').dataset.screen === 'account'`)
	for _, d := range "100100100001" {
		b.click("key-" + string(d))
	}
	b.click("btn-lookup")
	b.waitJS("bill screen", `document.getElementById('app').dataset.screen === 'bill'`)
	b.click("btn-cash")
	b.waitJS("cash screen", `document.getElementById('app').dataset.screen === 'cash'`)
	watch.until("acceptor enabled", func(sn terminal.Snapshot) bool { return sn.Devices["billValidator"].Detail == "accepting notes" })

	// Block the page for 3 s from a timer, so this call returns at once
	// and the notes go in while the page cannot run.
	b.eval(`setTimeout(() => { const end = Date.now() + 3000; while (Date.now() < end) {} }, 0); 'blocked'`)
	time.Sleep(50 * time.Millisecond)
	for _, v := range []int64{2000, 5000, 1000} {
		if err := s.sim.InsertNote(v); err != nil {
			t.Fatalf("insert %d: %v", v, err)
		}
	}
	// The daemon credits all three while the page is still blocked.
	watch.until("three notes credited", func(sn terminal.Snapshot) bool { return sn.Cash != nil && sn.Cash.Credit == 8000 && !sn.Cash.InFlight })
	// When the page wakes up it draws the latest snapshot.
	b.waitJS("page shows 80.00", `document.getElementById('app').dataset.screen === 'cash' && document.getElementById('credit')?.textContent === '80.00'`)
	notes := b.text("#notes")
	for _, want := range []string{"10 ", "20 ", "50 "} {
		if !strings.Contains(notes, want) {
			t.Fatalf("notes list %q lacks %q", notes, want)
		}
	}
	b.shot("cash-notes-while-busy")

	// One more note completes the bill; a double-tap on confirm pays once.
	if err := s.sim.InsertNote(1000); err != nil {
		t.Fatal(err)
	}
	b.waitJS("credit 90", `document.getElementById('credit').textContent === '90.00' && !document.getElementById('btn-confirm').disabled`)
	b.eval(`document.getElementById('btn-confirm').click(); document.getElementById('btn-confirm')?.click(); 'ok'`)
	b.waitJS("done screen", `document.getElementById('app').dataset.screen === 'done'`)
	pays, err := s.platform.Payments()
	if err != nil || len(pays) != 1 || pays[0].Payment.Amount != 9000 {
		t.Fatalf("platform payments %+v (err %v), want one of 90.00", pays, err)
	}
}

// TestTapSurvivesARedrawMidPress presses a keypad key, lets a device
// status change redraw the screen while the finger is still down, then
// releases: the tap must count. Before the page held redraws during a
// press, the button under the finger was replaced and the tap was lost.
func TestTapSurvivesARedrawMidPress(t *testing.T) {
	s := demoStack(t)
	watch := s.dial()
	watch.until("scanner online", func(sn terminal.Snapshot) bool { return sn.Devices["scanner"].State == device.Online })

	b := newBrowser(t)
	b.do("open the screen", chromedp.Navigate("http://"+s.uiAddr+"/"), chromedp.WaitVisible(chromedp.ID("tile-water")))
	b.click("tile-water")
	b.waitJS("account screen", `document.getElementById('app').dataset.screen === 'account'`)
	var x, y float64
	if _, err := fmt.Sscanf(b.eval(`(() => { const r = document.getElementById('key-7').getBoundingClientRect(); return (r.x + r.width/2) + ' ' + (r.y + r.height/2); })()`), "%g %g", &x, &y); err != nil {
		t.Fatal(err)
	}
	b.eval(`window.__redraws = 0; new MutationObserver(() => window.__redraws++).observe(document.getElementById('app'), {childList: true}); 'ok'`)
	b.do("press", chromedp.MouseEvent(chromedp.MousePressed, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	// A device changes while the finger is down: a new snapshot arrives.
	s.simPost("/plug", map[string]any{"device": "scanner", "in": false})
	watch.until("scanner gone", func(sn terminal.Snapshot) bool { return sn.Devices["scanner"].State != device.Online })
	time.Sleep(100 * time.Millisecond) // the page has the snapshot too
	b.do("release", chromedp.MouseEvent(chromedp.MouseReleased, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	b.waitJS("tap counted", `document.getElementById('account-display').textContent === '7'`)
	b.waitJS("redrawn after the release", `window.__redraws > 0`)
	s.simPost("/plug", map[string]any{"device": "scanner", "in": true})
}
