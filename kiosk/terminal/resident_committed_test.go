package terminal

import (
	"testing"

	"tongban/drivers/scanner/codec"
)

// While an application is submitted and its receipt printed, nothing ends
// or replaces the session: not the idle clock, a cancel, a scanned bill or
// a new session. Before, any of them wiped the session under the
// submitting goroutine, which then lost the receipt or crashed the daemon
// on the wiped application.
func TestApplicationBeingSubmittedIsNotEndedUnderTheResident(t *testing.T) {
	dir := t.TempDir()
	plat, url := newAppsPlatform(t, dir, nil)
	rd, card := newCardReader(t)
	a := startApps(t, dir, url, plat, rd, card, nil)

	a.toForm("sole-trader-change")
	a.must("Apply.Set", map[string]string{"fieldId": "changeItem", "value": "premises"})
	a.must("Apply.Set", map[string]string{"fieldId": "changeTo", "value": "城关镇幸福路16号"})
	a.prn.mu.Lock() // the receipt printer is slow: Print waits for this
	locked := true
	defer func() {
		if locked {
			a.prn.mu.Unlock()
		}
	}()
	a.must("Apply.Submit", nil)
	a.until("receipt printing", func(s Snapshot) bool {
		return s.Screen == ScreenApplySubmitting && s.Gov.Apply.App != nil && s.Gov.Apply.App.Receipt == "printing"
	})
	a.term.mu.Lock()
	ss := a.term.sess
	a.term.mu.Unlock()

	if err := a.do("Session.Cancel", nil); err == nil {
		t.Error("Session.Cancel ended a session whose application is being submitted")
	}
	if err := a.do("Session.Start", map[string]string{"utility": "water"}); err == nil {
		t.Error("Session.Start replaced a session whose application is being submitted")
	}
	code, _ := codec.BillBarcode("water", "100100100001")
	a.term.Scanned(code)
	a.term.warnIdle(ss)
	a.term.idleExpired(ss)
	s := a.term.Snapshot()
	if s.Screen != ScreenApplySubmitting || (s.Idle != nil && s.Idle.Warning) {
		t.Fatalf("during submission: screen %s idle %+v", s.Screen, s.Idle)
	}

	a.prn.mu.Unlock()
	locked = false
	done := a.until("done", func(s Snapshot) bool { return s.Screen == ScreenApplyDone })
	if app := done.Gov.Apply.App; app.Receipt != "printed" || app.Case == nil {
		t.Fatalf("app %+v", app)
	}
	if rs := a.prn.receipts(); len(rs) != 1 || rs[0].Case == nil {
		t.Fatalf("receipts %+v", rs)
	}
}
