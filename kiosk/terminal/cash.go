package terminal

import (
	"maps"
	"slices"
	"sync"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/kiosk/journal"
)

// onCash is the bill validator's handler. It runs on the driver's
// goroutine, which waits for it: every event is journaled (fsync) here
// before the driver acts on the device and before the screen hears of it.
//
// After a restart it also reconciles the device's report with the journal:
// a note the journal ordered stacked but never saw credited is matched
// against what the device says now (escrow again, vend valid, power up
// with the note in the stacker or the acceptor); one whose fate the device
// never tells is credited to the resident once the device settles.
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
		if ss != nil && ss.restored && ev.Value <= 0 && len(ss.flight) > 0 {
			// The note the journal ordered stacked is back in escrow but the
			// device cannot value it: it goes back to the resident, so it is
			// no longer in flight (and never credited as of unknown fate).
			rec.Kind = journal.NoteEscrowed
			ret := rec
			ret.Kind, ret.Amount, ret.Detail = journal.NoteReturnOrdered, ss.flight[0], unvaluedReturn
			if _, err := t.cfg.Journal.AppendAll([]journal.Record{rec, ret}); err != nil {
				t.log.Error("journal", "err", err)
			}
			ss.flight = ss.flight[1:]
			t.afterNoteLocked()
			return cash.Return
		}
		resumed := ss != nil && ss.restored && slices.Contains(ss.flight, ev.Value)
		take := ss != nil && ev.Value > 0 && (resumed || ss.accepting && ss.screen == ScreenCash && t.withinLimitLocked(ss, ev.Value))
		rec.Kind = journal.NoteEscrowed
		order := rec
		order.Kind = journal.NoteReturnOrdered
		if take {
			order.Kind = journal.NoteStackOrdered
		}
		if resumed {
			order.Detail = "escrowed again after a restart: the same note"
		}
		if _, err := t.cfg.Journal.AppendAll([]journal.Record{rec, order}); err != nil {
			// Without a journal we cannot prove the credit: hand it back.
			t.log.Error("journal: returning escrowed note", "err", err)
			return cash.Return
		}
		if !take {
			if ss != nil && ss.screen == ScreenCash && ss.accepting && ev.Value > 0 {
				ss.notice = &Notice{Code: "offlineLimit", Message: "over the offline limit: note returned"}
				t.publishLocked()
			}
			return cash.Return
		}
		if ss.restored {
			// The acceptor takes a note, so whatever it held before the
			// restart is settled: the old notes' fate is final and unknown,
			// and the resident gets them before this one counts. A note
			// escrowed again is not one of them: the device tells its fate
			// in this life (settled as unknown too, its vend valid credited
			// it a second time).
			t.settleRestoredLocked(ss, ev.Value)
		} else {
			ss.flight = append(ss.flight, ev.Value)
		}
		t.ackRepeat = false
		t.touchLocked()
		t.publishLocked()
		return cash.Stack

	case cash.Credited:
		if ev.Value == 0 && ss != nil && len(ss.flight) > 0 {
			// The driver restarted with the note already past escrow, so it
			// cannot name the value; the journal can.
			ev.Value, rec.Amount = ss.flight[0], ss.flight[0]
		}
		if ss == nil || !takeValue(&ss.flight, ev.Value) {
			if t.ackRepeat {
				// The journal credited this note just before the crash; the
				// acceptor repeats vend valid because our ACK never left.
				t.ackRepeat = false
				rec.Kind, rec.Detail = journal.NoteRepeat, "vend valid repeated after a restart: already credited"
				t.appendLocked(rec)
				return cash.Return
			}
			t.log.Warn("credit for a note not ordered stacked", "value", ev.Value)
			rec.Detail = "credit without a stack order"
			if ev.Value <= 0 {
				// A note of unknown value: it cannot be credited honestly. The
				// cash-box count at the next removal settles it with staff.
				rec.Kind, rec.Detail = journal.NoteRepeat, "credit of unknown value: left to the cash-box count"
				t.appendLocked(rec)
				return cash.Return
			}
		}
		rec.Kind = journal.NoteCredited
		t.creditLocked(ss, rec)
		return cash.Return

	case cash.Stacked:
		rec.Kind = journal.NoteStacked
		t.ackRepeat = false
	case cash.Returned:
		rec.Kind = journal.NoteReturned
		if ss != nil && takeValue(&ss.flight, ev.Value) {
			t.afterNoteLocked()
		} else if ss != nil && ss.restored && ev.Value <= 0 && len(ss.flight) > 0 {
			// A return the driver cannot value after a restart: the note in
			// flight came back to the resident.
			rec.Amount = ss.flight[0]
			ss.flight = ss.flight[1:]
			t.afterNoteLocked()
		}
	case cash.Rejected:
		rec.Kind = journal.NoteRejected
		if ss != nil {
			ss.notice = &Notice{Code: "noteRejected", Message: ev.Detail}
		}
	case cash.PowerUpWithNote:
		rec.Kind = journal.NotePowerUp
		t.appendLocked(rec)
		switch {
		case t.ackRepeat:
			// The note in the stacker is the one credited before the crash.
			t.ackRepeat = false
		case ss != nil && len(ss.flight) > 0 && ev.Detail == "stacker":
			v := ss.flight[0]
			ss.flight = ss.flight[1:]
			t.creditLocked(ss, journal.Record{Kind: journal.NoteCredited, Session: ss.id, Amount: v,
				Detail: "power up with the note in the stacker"})
			return cash.Return
		case ss != nil && len(ss.flight) > 0:
			// In the acceptor: the device hands it back after its reset.
			ss.flight = ss.flight[1:]
			t.afterNoteLocked()
		}
		t.publishLocked()
		return cash.Return
	default:
		return cash.Return
	}
	t.appendLocked(rec)
	t.publishLocked()
	return cash.Return
}

// unvaluedReturn marks the return order of a note from before a restart
// that the device could not value: replay takes it out of flight too.
const unvaluedReturn = "escrowed again after a restart, value unknown: returned"

// creditLocked journals a credit and adds it to the session; with no
// session open the credit is not lost: it becomes a voucher.
func (t *Terminal) creditLocked(ss *session, rec journal.Record) {
	if _, err := t.cfg.Journal.Append(rec); err != nil {
		// The note is past the point of no return; credit it anyway so the
		// resident is not robbed, and say so loudly.
		t.log.Error("journal: credit not journaled", "err", err, "value", rec.Amount)
	}
	t.ackRepeat = false
	if ss == nil {
		t.log.Warn("note credited with no session open: issuing a voucher", "value", rec.Amount)
		t.orphanVoucherLocked(rec.Amount)
		return
	}
	ss.credit += rec.Amount
	ss.notes[rec.Amount]++
	if ss.notice != nil && ss.notice.Code == "noteRejected" {
		ss.notice = nil // a note went in: the rejection is old news
	}
	t.touchLocked()
	t.afterNoteLocked()
}

func (t *Terminal) appendLocked(rec journal.Record) {
	if _, err := t.cfg.Journal.Append(rec); err != nil {
		t.log.Error("journal", "err", err, "kind", rec.Kind)
	}
}

// takeValue removes one note of value v from the list.
func takeValue(list *[]int64, v int64) bool {
	if i := slices.Index(*list, v); i >= 0 {
		*list = slices.Delete(*list, i, i+1)
		return true
	}
	return false
}

// settleLocked runs when the acceptor reports it is up and idle: any note
// from before a restart that the device never accounted for has an unknown
// fate, and the resident gets the benefit of the doubt. Online with a note
// in transport is not idle: that note's fate is about to be told.
func (t *Terminal) settleLocked(h device.Health) {
	ss := t.sess
	if ss == nil || !ss.restored || h.State != device.Online || h.Detail == cash.DetailInTransport {
		return
	}
	t.settleRestoredLocked(ss)
	t.publishLocked()
}

// settleRestoredLocked credits the notes still in flight from before the
// restart and ends the restored state, so notes of this life are never
// taken for them. The note now in the acceptor (in this life, when there
// is one) stays in flight, and is in flight while the others are credited,
// so a confirmed session does not pay before it lands.
func (t *Terminal) settleRestoredLocked(ss *session, now ...int64) {
	flight := ss.flight
	for _, v := range now {
		takeValue(&flight, v) // escrowed again: the same note
	}
	ss.flight, ss.restored = slices.Clone(now), false
	for _, v := range flight {
		t.creditLocked(ss, journal.Record{Kind: journal.NoteCredited, Session: ss.id, Amount: v,
			Detail: "fate unknown after a restart: credited to the resident"})
	}
}

// afterNoteLocked proceeds to payment once the last note in flight has
// landed after the resident confirmed.
func (t *Terminal) afterNoteLocked() {
	ss := t.sess
	if ss != nil && ss.confirm && len(ss.flight) == 0 && ss.pay == nil {
		ss.busy = ""
		if ss.credit > 0 {
			t.beginPaymentLocked()
			return
		}
		// Every note came back: nothing to pay.
		ss.confirm = false
		ss.accepting = true
		t.enableCashLocked(true)
	}
	t.publishLocked()
}

// onCoin is the coin acceptor's handler. Coins have no escrow: a coin
// counted is money in, journaled at once and credited to the session open
// now, or to a voucher when there is none.
func (t *Terminal) onCoin(ev cash.Event) cash.Decision {
	if ev.Kind != cash.Credited || ev.Value <= 0 {
		return cash.Return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.sess
	rec := journal.Record{Kind: journal.CoinCounted, Amount: ev.Value, Detail: ev.Detail}
	if ss != nil && (ss.screen == ScreenCash || ss.credit > 0) {
		rec.Session = ss.id
		t.creditLocked(ss, rec)
		return cash.Return
	}
	t.creditLocked(nil, rec)
	return cash.Return
}

// enableCashLocked switches every cash device on (for the values the
// profile allows) or off together.
func (t *Terminal) enableCashLocked(on bool) {
	if t.cfg.Cash != nil {
		if on {
			t.cfg.Cash.Enable(t.acceptedValues())
		} else {
			t.cfg.Cash.Enable(nil)
		}
	}
	if t.cfg.Coins != nil {
		if on {
			t.cfg.Coins.Enable(t.cfg.Coins.Denominations())
		} else {
			t.cfg.Coins.Enable(nil)
		}
	}
}

// boxCount is the cash box counted from the journal so far: CashBox reads
// only the records appended since, so a heartbeat or a removal seen under
// the core's lock does not re-read a journal of 100,000 records.
type boxCount struct {
	mu  sync.Mutex
	seq uint64 // last record counted
	box map[int64]int
}

// CashBox is the cash box's content per value (fen) as the journal tells
// it: every note stacked and coin counted since the journal began, less
// what staff removed: the count restarts at each cash-box removal.
func (t *Terminal) CashBox() (map[int64]int, error) {
	b := &t.box
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.box == nil {
		b.box = map[int64]int{}
	}
	err := t.cfg.Journal.Scan(b.seq+1, func(r journal.Record) error {
		switch r.Kind {
		case journal.NoteStacked, journal.CoinCounted:
			if r.Amount > 0 {
				b.box[r.Amount]++
			}
		case journal.CashBoxRemoved:
			clear(b.box) // staff took the box out: the count restarts (staff_cash.go)
		}
		b.seq = r.Seq
		return nil
	})
	return maps.Clone(b.box), err
}

// ReassertCash puts the acceptors back to what the core wants now: taking
// cash only while a resident's cash screen is. A technician's validator
// cycle ends with it, so a resident who reached the cash screen during the
// cycle is not left facing an inhibited acceptor. It says whether cash is
// being taken.
func (t *Terminal) ReassertCash() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	on := t.sess != nil && t.sess.accepting
	t.enableCashLocked(on)
	return on
}
