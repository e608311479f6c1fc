package ssp

import (
	"errors"
	"fmt"
	"time"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/drivers/ssp/codec"
)

// reenableAfter is how long the driver waits after sending enable before
// it believes a "disabled" event and sends the settings again.
const reenableAfter = time.Second

// onEvents reacts to the events of one poll reply, in order, then sets the
// device state from the conditions the reply reports.
func (s *session) onEvents(evs []codec.Event) error {
	r := s.r
	var (
		reset, transport, disabled, inhibited, pathOpen bool
		fraudCh                                         byte
	)
	seen := map[codec.EventCode]bool{}
	for _, e := range evs {
		seen[e.Code] = true
		switch e.Code {
		case codec.EvSlaveReset:
			reset = true
			s.d.mon.Count("powerUps", 1)
			s.d.log.Info("validator reset (power-up)")
		case codec.EvRead:
			transport = true
			if e.Channel > 0 {
				if err := s.onEscrow(e.Channel); err != nil {
					return err
				}
			}
		case codec.EvCredit:
			transport = true
			s.onCredit(e.Channel)
		case codec.EvStacking, codec.EvRejecting:
			transport = true
		case codec.EvStacked:
			s.onStacked()
		case codec.EvRejected:
			if err := s.onRejected(); err != nil {
				return err
			}
		case codec.EvFraud:
			fraudCh = e.Channel
		case codec.EvCashboxRemoved:
			r.cashboxOut = true
		case codec.EvCashboxReplaced:
			if r.cashboxOut {
				s.d.log.Info("cash box replaced")
			}
			r.cashboxOut = false
		case codec.EvClearedFront, codec.EvClearedCashbox:
			s.onPowerUpNote(e)
		case codec.EvDisabled:
			disabled = true
		case codec.EvChannelDisable:
			inhibited = true
		case codec.EvNotePathOpen:
			pathOpen = true
		}
	}
	fresh := s.fresh
	s.fresh = false
	if reset && !fresh {
		// The device lost its settings (and its key): run the start-up
		// again before the next poll. In the first poll after our own
		// start-up, slave reset is the power-up that start-up already
		// dealt with. (Should the device really reset in that gap, it
		// reports disabled, or FA in eSSP, and the settings follow.)
		r.setState(device.Starting, "validator reset")
		s.ready = false
		return nil
	}

	// Count each fault once, when it appears.
	cur := map[codec.EventCode]bool{}
	for _, c := range []codec.EventCode{codec.EvSafeJam, codec.EvUnsafeJam, codec.EvStackerFull, codec.EvFraud, codec.EvNotePathOpen} {
		cur[c] = seen[c]
	}
	cur[codec.EvCashboxRemoved] = r.cashboxOut
	for c, on := range cur {
		if on && !r.faults[c] {
			s.fault(c, fraudCh)
		}
	}
	r.faults = cur

	switch {
	case seen[codec.EvUnsafeJam]:
		r.setState(device.HardwareError, "unsafe note jam")
	case seen[codec.EvSafeJam]:
		r.setState(device.HardwareError, "safe note jam")
	case r.cashboxOut:
		r.setState(device.UserError, "cash box removed")
	case seen[codec.EvStackerFull]:
		r.setState(device.UserError, "stacker full")
	case seen[codec.EvFraud]:
		r.setState(device.UserError, fmt.Sprintf("fraud attempt (channel %d)", fraudCh))
	case pathOpen:
		r.setState(device.UserError, "note path open")
	case transport:
		r.setState(device.Online, cash.DetailInTransport)
	case (disabled || inhibited) && s.mask != 0 && time.Since(s.enableAt) > reenableAfter:
		// The device disabled itself or lost the settings: send them again.
		s.d.log.Info("validator reports disabled while notes are wanted; sending the settings again", "disabled", disabled, "inhibited", inhibited)
		s.d.markDirty()
		r.setState(device.Online, "inhibited")
	case disabled || inhibited || s.mask == 0:
		r.setState(device.Online, "inhibited")
	default:
		r.setState(device.Online, "accepting notes")
	}
	return nil
}

func (s *session) fault(c codec.EventCode, ch byte) {
	err := fmt.Errorf("ssp: %v", c)
	switch c {
	case codec.EvSafeJam, codec.EvUnsafeJam:
		s.d.mon.Count("jams", 1)
	case codec.EvStackerFull:
		s.d.mon.Count("stackerFull", 1)
	case codec.EvFraud:
		s.d.mon.Count("fraud", 1)
		err = fmt.Errorf("ssp: %v on channel %d", c, ch)
	case codec.EvCashboxRemoved:
		s.d.mon.Count("cashboxRemoved", 1)
	}
	s.d.mon.Error(err)
	s.d.log.Warn("validator fault", "event", c)
}

// onEscrow asks the core about a note in escrow, synchronously, so it can
// journal first. While the handler runs, HOLD is sent every HoldEvery on
// another goroutine to keep the note from timing out; the handler itself
// runs on the driver's goroutine as cash.Handler requires. Return sends
// REJECT as the very next command; Stack lets the next POLL accept it.
func (s *session) onEscrow(ch byte) error {
	r := s.r
	if n := r.note; n != nil && !n.closed && n.decided && !n.credited && n.channel == ch {
		// The same note reported again: the core is not asked twice.
		s.d.log.Debug("note still in escrow, keeping the decision", "channel", ch)
		r.pendingReject = n.decision == cash.Return
		return nil
	}
	s.closeNote()
	value, known := s.d.valueOf(ch)
	n := &note{channel: ch, value: value, known: known}
	r.note = n
	s.d.mon.Count("notes", 1)
	ev := cash.Event{Kind: cash.Escrowed, Value: value, Code: ch}
	if !known {
		ev.Detail = fmt.Sprintf("unknown channel %d", ch)
	}

	stop := s.holdWhileDeciding()
	n.decision = r.emit(ev)
	n.decided = true
	holdErr := stop()

	if !known && n.decision == cash.Stack {
		// The driver cannot credit a note it cannot value.
		s.d.log.Warn("returning a note of unknown value", "channel", ch)
		n.decision = cash.Return
	}
	r.pendingReject = n.decision == cash.Return
	if holdErr != nil {
		return holdErr
	}
	if r.pendingReject {
		return s.reject()
	}
	return nil
}

// holdWhileDeciding starts the HOLD keeper. stop ends it, waits for it and
// returns its error (port failure or no reply). The session is used by the
// keeper only while the caller is blocked in the handler, so the two never
// touch it at once.
func (s *session) holdWhileDeciding() (stop func() error) {
	if s.d.cfg.HoldEvery <= 0 {
		return func() error { return nil }
	}
	done := make(chan struct{})
	quit := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		t := time.NewTicker(s.d.cfg.HoldEvery)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			select {
			case <-quit:
				return
			default:
			}
			data, e := s.transact(codec.Build(codec.CmdHold))
			if e != nil {
				err = e
				return
			}
			s.d.mon.Count("holds", 1)
			if len(data) > 0 && codec.Response(data[0]) != codec.OK {
				s.d.log.Warn("hold refused: the note left escrow", "reply", fmt.Sprintf("% X", data))
				return
			}
			s.d.log.Debug("hold sent while the core decides")
		}
	}()
	return func() error {
		close(quit)
		<-done
		return err
	}
}

// onCredit reports a credit exactly once per note. A second credit event
// for a note already credited is a duplicate and is dropped; a credit with
// no note in escrow (the driver started mid-transaction) is still credit.
func (s *session) onCredit(ch byte) {
	r := s.r
	n := r.note
	switch {
	case n != nil && !n.closed && n.credited:
		s.d.mon.Count("duplicateCredits", 1)
		s.d.log.Warn("second credit event for one note ignored", "channel", ch)
		return
	case n != nil && !n.closed:
		if n.channel != ch {
			s.d.log.Warn("credit channel differs from escrow", "escrow", n.channel, "credit", ch)
			n.channel = ch
			n.value, n.known = s.d.valueOf(ch)
		}
	default:
		s.closeNote()
		n = &note{channel: ch, decided: true, decision: cash.Stack}
		n.value, n.known = s.d.valueOf(ch)
		r.note = n
	}
	n.credited = true
	r.pendingReject = false
	s.d.mon.Count("credited", 1)
	ev := cash.Event{Kind: cash.Credited, Value: n.value, Code: ch}
	if !n.decided || n.decision != cash.Stack {
		s.d.log.Error("credit for a note the core asked to return", "fen", n.value)
	}
	if !n.known {
		ev.Detail = fmt.Sprintf("credit on unknown channel %d", ch)
	}
	if n.early {
		ev.Detail = "credit after stacked"
	}
	r.emit(ev)
	if n.early {
		n.early = false
		s.stacked(n, "")
	}
}

func (s *session) onStacked() {
	n := s.r.note
	switch {
	case n == nil || n.closed:
		s.d.mon.Count("stacked", 1)
		s.r.emit(cash.Event{Kind: cash.Stacked, Detail: "note not seen in escrow"})
	case !n.credited:
		// Stacked before its credit event: report it after the credit.
		n.early = true
	default:
		s.stacked(n, "")
	}
}

func (s *session) stacked(n *note, detail string) {
	if n.stacked {
		return
	}
	n.stacked, n.closed = true, true
	s.d.mon.Count("stacked", 1)
	s.r.emit(cash.Event{Kind: cash.Stacked, Value: n.value, Code: n.channel, Detail: detail})
}

// onRejected: a note the core saw in escrow came back (Returned); any
// other note was refused by the validator (Rejected, with the reason from
// LAST_REJECT_CODE).
func (s *session) onRejected() error {
	r := s.r
	n := r.note
	r.pendingReject = false
	if n != nil && !n.closed && n.decided && !n.credited {
		n.closed = true
		s.d.mon.Count("returned", 1)
		detail := ""
		if n.decision == cash.Stack {
			detail = "returned by the validator (escrow time-out?)"
		}
		r.emit(cash.Event{Kind: cash.Returned, Value: n.value, Code: n.channel, Detail: detail})
		return nil
	}
	detail := "note rejected"
	data, err := s.ok(codec.Build(codec.CmdLastRejectCode))
	switch {
	case err == nil && len(data) > 0:
		detail = fmt.Sprintf("note rejected (reject code %02X)", data[0])
	case err != nil && !errors.Is(err, codec.ErrRefused):
		return err
	}
	s.d.mon.Count("rejects", 1)
	r.emit(cash.Event{Kind: cash.Rejected, Detail: detail})
	return nil
}

// onPowerUpNote reports a note the validator cleared at power-up: from the
// front (handed back: "acceptor") or into the cashbox ("stacker"). The
// tracked note, if any, ends there; the core reconciles with its journal.
func (s *session) onPowerUpNote(e codec.Event) {
	r := s.r
	where := "acceptor"
	if e.Code == codec.EvClearedCashbox {
		where = "stacker"
	}
	value, _ := s.d.valueOf(e.Channel)
	if n := r.note; n != nil && !n.closed {
		n.closed = true
	}
	r.pendingReject = false
	s.d.mon.Count("powerUpWithNote", 1)
	r.emit(cash.Event{Kind: cash.PowerUpWithNote, Value: value, Code: e.Channel, Detail: where})
}

// closeNote ends the tracked note when the next one starts, reporting
// what the polls may have missed.
func (s *session) closeNote() {
	n := s.r.note
	if n == nil || n.closed {
		return
	}
	switch {
	case n.credited && !n.stacked:
		s.stacked(n, "next note started after the credit")
	case n.early:
		s.d.log.Error("note stacked without a credit event", "channel", n.channel)
		s.stacked(n, "stacked without a credit event")
	}
	n.closed = true
}
