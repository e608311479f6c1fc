package terminal

import (
	"tongban/drivers/cash"
	"tongban/kiosk/journal"
)

// onCash is the bill validator's handler. It runs on the driver's
// goroutine, which waits for it: every event is journaled (fsync) here
// before the driver acts on the device and before the screen hears of it.
func (t *Terminal) onCash(ev cash.Event) cash.Decision {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.sess
	sid := ""
	if ss != nil {
		sid = ss.id
	}
	rec := journal.Record{Session: sid, Amount: ev.Value, Code: int(ev.Code), Detail: ev.Detail}
	switch ev.Kind {
	case cash.Escrowed:
		take := ss != nil && ss.accepting && ss.screen == ScreenCash && ev.Value > 0
		rec.Kind = journal.NoteEscrowed
		order := rec
		order.Kind = journal.NoteReturnOrdered
		if take {
			order.Kind = journal.NoteStackOrdered
		}
		if _, err := t.cfg.Journal.AppendAll([]journal.Record{rec, order}); err != nil {
			// Without a journal we cannot prove the credit: hand it back.
			t.log.Error("journal: returning escrowed note", "err", err)
			return cash.Return
		}
		if !take {
			return cash.Return
		}
		ss.inFlight++
		t.touchLocked()
		t.publishLocked()
		return cash.Stack

	case cash.Credited:
		rec.Kind = journal.NoteCredited
		if _, err := t.cfg.Journal.Append(rec); err != nil {
			// The note is already past the point of no return; log loudly,
			// credit it anyway so the resident is not robbed.
			t.log.Error("journal: credit not journaled", "err", err, "value", ev.Value)
		}
		if ss == nil {
			t.log.Warn("note credited with no session open", "value", ev.Value)
			return cash.Return
		}
		ss.credit += ev.Value
		ss.notes[ev.Value]++
		if ss.inFlight > 0 {
			ss.inFlight--
		}
		t.touchLocked()
		t.afterNoteLocked()
		return cash.Return

	case cash.Stacked:
		rec.Kind = journal.NoteStacked
	case cash.Returned:
		rec.Kind = journal.NoteReturned
		if ss != nil && ss.inFlight > 0 {
			ss.inFlight--
			t.afterNoteLocked()
		}
	case cash.Rejected:
		rec.Kind = journal.NoteRejected
		if ss != nil {
			ss.notice = &Notice{Code: "noteRejected", Message: ev.Detail}
		}
	case cash.PowerUpWithNote:
		rec.Kind = journal.NotePowerUp
	default:
		return cash.Return
	}
	if _, err := t.cfg.Journal.Append(rec); err != nil {
		t.log.Error("journal", "err", err, "kind", rec.Kind)
	}
	t.publishLocked()
	return cash.Return
}

// afterNoteLocked proceeds to payment once the last note in flight has
// landed after the resident confirmed.
func (t *Terminal) afterNoteLocked() {
	ss := t.sess
	if ss != nil && ss.confirm && ss.inFlight == 0 && ss.pay == nil {
		ss.busy = ""
		if ss.credit > 0 {
			t.beginPaymentLocked()
			return
		}
		// Every note came back: nothing to pay.
		ss.confirm = false
		ss.accepting = true
		t.cfg.Cash.Enable(t.acceptedValues())
	}
	t.publishLocked()
}
