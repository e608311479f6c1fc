package terminal

import (
	"encoding/json"
	"fmt"
	"sort"

	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// replayed is one session as the journal tells it.
type replayed struct {
	id       string
	seq      uint64
	opened   *openedData
	credit   int64
	notes    map[int64]int
	flight   []int64 // stack ordered, neither credited nor returned
	consumed int64   // paid or vouchered
	vouchers []uplink.VoucherUse
}

// recover replays the journal: it rebuilds the payments still to forward
// and the vouchers still to deliver, and finds any session that held
// credit (or a note on its way in) when the daemon stopped. The newest such
// session is restored on screen, so a resident still standing there can
// finish; older ones become vouchers at once.
func (t *Terminal) recover() error {
	sessions := map[string]*replayed{}
	get := func(r journal.Record) *replayed {
		rs := sessions[r.Session]
		if rs == nil {
			rs = &replayed{id: r.Session, notes: map[int64]int{}}
			sessions[r.Session] = rs
		}
		rs.seq = r.Seq
		return rs
	}
	lastNote := journal.Kind("")
	err := t.cfg.Journal.Scan(1, func(r journal.Record) error {
		t.replayStaff(r) // staff mode, in the same scan (staff.go)
		switch r.Kind {
		case journal.SessionOpened:
			var od openedData
			if json.Unmarshal(r.Data, &od) == nil {
				get(r).opened = &od
			}
		case journal.NoteStackOrdered:
			if r.Session != "" {
				rs := get(r)
				if r.Detail == "" { // a resumed escrow is the same note again
					rs.flight = append(rs.flight, r.Amount)
				}
			}
		case journal.NoteCredited:
			if r.Session != "" {
				rs := get(r)
				takeValue(&rs.flight, r.Amount)
				rs.credit += r.Amount
				rs.notes[r.Amount]++
			}
		case journal.NoteReturned:
			if r.Session != "" {
				takeValue(&get(r).flight, r.Amount)
			}
		case journal.NoteReturnOrdered:
			if r.Session != "" && r.Detail == unvaluedReturn {
				takeValue(&get(r).flight, r.Amount)
			}
		case journal.PaymentSubmitted:
			var pp pendingPayment
			if err := json.Unmarshal(r.Data, &pp); err != nil {
				t.log.Error("journal: unreadable payment", "seq", r.Seq, "err", err)
				return nil
			}
			t.pending[pp.Key] = pp
			if r.Session != "" {
				rs := get(r)
				rs.consumed += r.Amount
				// The payment took every note and voucher so far: what the
				// session may still hold is only what comes after.
				rs.notes, rs.vouchers = map[int64]int{}, nil
			}
		case journal.PaymentAcknowledged, journal.PaymentRefused:
			delete(t.pending, r.Key)
		case journal.VoucherIssued:
			var v Voucher
			if json.Unmarshal(r.Data, &v) == nil {
				t.vouchers[v.ID] = &v
				t.unsent[v.ID] = true
			}
			if r.Session != "" {
				rs := get(r)
				rs.consumed += r.Amount
				rs.notes, rs.vouchers = map[int64]int{}, nil
			}
		case journal.OrderCreated:
			if oo, ok := decodeOrder(r.Data); ok {
				t.orders[oo.Request.OrderID] = oo
			}
		case journal.OrderFinished:
			delete(t.orders, r.Ref)
		default:
			t.replayGov(r) // applications and ratings (apply.go)
		case journal.VoucherForwarded:
			delete(t.unsent, r.Ref)
		case journal.VoucherRedeemed, journal.VoucherRefunded:
			t.redeemed[r.Ref] = true
			if r.Kind == journal.VoucherRedeemed && r.Session != "" {
				rs := get(r)
				rs.credit += r.Amount
				if v := t.vouchers[r.Ref]; v != nil {
					rs.vouchers = append(rs.vouchers, uplink.VoucherUse{VoucherID: v.ID, Code: v.Code, Amount: v.Amount})
				}
			}
		}
		switch r.Kind {
		case journal.NoteCredited, journal.NoteStacked, journal.NoteEscrowed, journal.NoteReturned, journal.NoteRejected:
			lastNote = r.Kind
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	// A credit journaled last may not have reached the acceptor as an ACK.
	t.ackRepeat = lastNote == journal.NoteCredited

	var open []*replayed
	for _, rs := range sessions {
		if rs.credit > rs.consumed || len(rs.flight) > 0 {
			open = append(open, rs)
		}
	}
	sort.Slice(open, func(i, j int) bool { return open[i].seq < open[j].seq })
	for i, rs := range open {
		if i < len(open)-1 || rs.opened == nil {
			if left := rs.credit - rs.consumed; left > 0 {
				t.issueVoucherLocked(rs.id, left, "recovered", nil)
			}
			continue
		}
		t.restoreLocked(rs)
	}
	if len(t.pending) > 0 || len(t.unsent) > 0 {
		t.log.Info("recovered work to forward", "payments", len(t.pending), "vouchers", len(t.unsent))
		t.nudge()
	}
	return nil
}

// restoreLocked puts an interrupted session back on screen with its credit.
func (t *Terminal) restoreLocked(rs *replayed) {
	od := rs.opened
	ss := &session{id: rs.id, screen: ScreenCash, utility: od.Utility, account: od.Account, notes: rs.notes,
		credit: rs.credit - rs.consumed, flight: rs.flight, restored: true, opened: true, accepting: true,
		bill: &uplink.Bill{Utility: uplink.Utility(od.Utility), Account: od.Account, BillID: od.BillID, AmountDue: od.AmountDue,
			Payee: od.Payee, Period: od.Period, Holder: od.Holder, Currency: uplink.Currency}}
	ss.vouchers = rs.vouchers
	ss.notice = &Notice{Code: "sessionRestored", Message: "the terminal restarted; your cash is safe"}
	t.sess = ss
	t.appendLocked(journal.Record{Kind: journal.SessionRestored, Session: ss.id, Amount: ss.credit,
		Detail: fmt.Sprintf("%d note(s) of unknown fate", len(ss.flight))})
	t.log.Warn("session restored after restart", "session", ss.id, "credit", ss.credit, "notesInFlight", len(ss.flight))
	t.touchLocked()
}

func (t *Terminal) nudge() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}
