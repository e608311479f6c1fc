package id003

import (
	"fmt"
	"time"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/drivers/id003/codec"
)

// resendSettings is how long the acceptor may stay in initialize (1B)
// after the settings were sent, or in power up after an acknowledged
// reset, before they (or the reset) are sent again.
const resendSettings = time.Second

// onStatus reacts to the answer to a status request.
func (s *session) onStatus(f codec.Frame) error {
	r := s.r
	st := codec.Status(f.Cmd)
	var arg byte
	if len(f.Data) > 0 {
		arg = f.Data[0]
	}
	if st == codec.StatusCommunicationError || st == codec.StatusInvalidCommand {
		// An answer about our frame, not a device state.
		s.countReply(st)
		s.d.log.Warn("acceptor reports", "status", st)
		return nil
	}
	prev := r.last
	r.last = st
	if prev != st {
		s.d.log.Debug("status", "status", st, "data", fmt.Sprintf("% X", f.Data))
	}

	switch st {
	case codec.StatusPowerUp, codec.StatusPowerUpBillAcceptor, codec.StatusPowerUpBillStacker:
		s.synced = false
		if st != codec.StatusPowerUpBillAcceptor || (r.note != nil && r.note.credited) {
			// A power cycle ends whatever we tracked; PowerUpWithNote tells
			// the core. An uncredited note still in the acceptor is kept, so
			// its return after the reset carries its value (once).
			r.note = nil
		}
		r.setState(device.Starting, "power up")
		if st != codec.StatusPowerUp && !r.powerUpSeen {
			r.powerUpSeen = true
			where := "acceptor"
			if st == codec.StatusPowerUpBillStacker {
				where = "stacker"
			}
			s.d.mon.Count("powerUpWithNote", 1)
			r.emit(cash.Event{Kind: cash.PowerUpWithNote, Detail: where})
		}
		if time.Since(s.resetAt) < resendSettings {
			return nil // reset acknowledged just now: give it time to start
		}
		ok, err := s.command(codec.CmdReset, s.d.cfg.InitTimeout)
		if ok {
			s.resetAt = time.Now()
		}
		return err

	case codec.StatusInitialize:
		r.setState(device.Starting, "initializing")
		if !s.synced || time.Since(s.settingsAt) >= resendSettings {
			s.synced = false
			return s.sendSettings()
		}
		return nil

	case codec.StatusIdling, codec.StatusDisabled:
		r.powerUpSeen = false
		s.finishNote()
		if !s.synced {
			// First contact on this port with an acceptor that is already
			// running (or back after silence): bring its settings in line.
			if err := s.sendSettings(); err != nil {
				return err
			}
			if !s.synced {
				r.setState(device.Starting, "sending settings")
				return nil
			}
		}
		if st == codec.StatusIdling {
			r.setState(device.Online, "accepting notes")
		} else {
			r.setState(device.Online, "inhibited")
		}
		return nil

	case codec.StatusAccepting:
		s.finishNote() // a new note: the previous one is over
		s.inTransport()
		return nil

	case codec.StatusEscrow:
		s.inTransport()
		return s.onEscrow(arg)

	case codec.StatusStacking, codec.StatusHolding:
		s.inTransport()
		return nil

	case codec.StatusVendValid:
		s.inTransport()
		s.onVendValid()
		// ACK without waiting: the acceptor does not answer it, and keeps
		// repeating 15 until it gets it.
		// Flush before the next command in case an acceptor answers the
		// ACK after all.
		s.dirty = true
		return s.write(codec.CmdACK, nil)

	case codec.StatusStacked:
		s.inTransport()
		n := r.note
		if n == nil {
			if prev != codec.StatusStacked {
				s.d.mon.Count("stacked", 1)
				r.emit(cash.Event{Kind: cash.Stacked, Detail: "note not seen in escrow"})
			}
			return nil
		}
		if !n.stacked {
			n.stacked = true
			s.d.mon.Count("stacked", 1)
			r.emit(cash.Event{Kind: cash.Stacked, Value: n.value, Code: n.code})
		}
		return nil

	case codec.StatusRejecting:
		s.inTransport()
		if prev != codec.StatusRejecting {
			if r.note != nil && !r.note.credited {
				r.note = nil
			}
			s.d.mon.Count("rejects", 1)
			r.emit(cash.Event{Kind: cash.Rejected, Detail: codec.RejectReason(arg).String()})
		}
		return nil

	case codec.StatusReturning:
		s.inTransport()
		n := r.note
		switch {
		case n != nil && !n.credited && !n.returned:
			n.returned = true
			s.d.mon.Count("returned", 1)
			r.emit(cash.Event{Kind: cash.Returned, Value: n.value, Code: n.code})
		case n == nil && prev != codec.StatusReturning && prev != codec.StatusRejecting:
			// E.g. the note of a power up with bill in acceptor.
			s.d.mon.Count("returned", 1)
			r.emit(cash.Event{Kind: cash.Returned, Detail: "note not seen in escrow"})
		}
		return nil

	case codec.StatusStackerFull:
		s.fault(st, prev, device.UserError, "stacker full")
	case codec.StatusStackerOpen:
		s.fault(st, prev, device.UserError, "stacker open (cash box removed)")
	case codec.StatusJamInAcceptor:
		s.fault(st, prev, device.HardwareError, "jam in acceptor")
	case codec.StatusJamInStacker:
		s.fault(st, prev, device.HardwareError, "jam in stacker")
	case codec.StatusPause:
		s.fault(st, prev, device.UserError, "paused: a second note was inserted")
	case codec.StatusCheated:
		s.fault(st, prev, device.UserError, "cheat attempt detected")
	case codec.StatusFailure:
		s.fault(st, prev, device.HardwareError, fmt.Sprintf("failure: %v (%02X)", codec.Failure(arg), arg))
	}
	return nil
}

// inTransport marks the device usable while a note moves (it may just have
// left a fault state).
func (s *session) inTransport() {
	if s.r.state != device.Online {
		s.r.setState(device.Online, cash.DetailInTransport)
	}
}

func (s *session) fault(st, prev codec.Status, state device.State, detail string) {
	s.r.setState(state, detail)
	if st == prev {
		return
	}
	s.d.log.Warn("acceptor fault", "status", st, "detail", detail)
	s.d.mon.Error(fmt.Errorf("id003: %s", detail))
	switch st {
	case codec.StatusJamInAcceptor, codec.StatusJamInStacker:
		s.d.mon.Count("jams", 1)
	case codec.StatusCheated:
		s.d.mon.Count("cheats", 1)
	case codec.StatusFailure:
		s.d.mon.Count("failures", 1)
	}
}

// onEscrow asks the core about a new note. A note still in escrow after
// the decision was sent (the command was lost, or the acceptor has not
// moved yet) is the same note: the decision is sent again, the core is not
// asked twice. A note after a credited or returned one is always new, as
// it must pass returning/idle or vend valid first.
func (s *session) onEscrow(code byte) error {
	r := s.r
	n := r.note
	if n == nil || n.credited || n.returned {
		value, known := s.d.valueOf(code)
		if !known && code != codec.EscrowBarcode {
			// Reconnected to an acceptor that already holds a note: the
			// table was never read on this port. Ask now (8A is answered in
			// any state) rather than hand back a note we could value.
			var sent [2]byte
			if err := s.readTable(sent); err != nil {
				return err
			}
			value, known = s.d.valueOf(code)
		}
		n = &note{code: code, value: value, known: known}
		r.note = n
		s.d.mon.Count("notes", 1)
		ev := cash.Event{Kind: cash.Escrowed, Value: value, Code: code}
		switch {
		case code == codec.EscrowBarcode:
			ev.Detail = "barcode ticket"
		case !known:
			ev.Detail = fmt.Sprintf("unknown denomination code %02X", code)
		}
		n.decision, n.decided = r.emit(ev), true
		if !known && n.decision == cash.Stack {
			// The driver cannot credit a note it cannot value.
			s.d.log.Warn("returning a note of unknown value", "code", fmt.Sprintf("%02X", code))
			n.decision = cash.Return
		}
	} else {
		s.d.log.Debug("note still in escrow, sending the decision again", "acked", n.acked, "code", fmt.Sprintf("%02X", code))
	}
	cmd := codec.CmdReturn
	if n.decision == cash.Stack {
		cmd = codec.CmdStack1
	}
	ok, err := s.command(cmd, s.d.cfg.ResponseTimeout)
	n.acked = ok
	return err
}

// onVendValid credits the note exactly once: the acceptor repeats 15 until
// it gets our ACK, and a repeat must not credit again.
func (s *session) onVendValid() {
	r := s.r
	n := r.note
	if n == nil {
		// Vend valid for a note this driver never saw in escrow (it was
		// started mid-transaction). Credit it with the value unknown so the
		// core can reconcile, rather than hide money that went in.
		n = &note{decided: true, decision: cash.Stack, acked: true}
		r.note = n
	}
	if n.credited {
		return
	}
	if n.decision != cash.Stack {
		s.d.log.Error("vend valid for a note we asked to return", "fen", n.value)
	}
	n.credited = true
	s.d.mon.Count("credited", 1)
	ev := cash.Event{Kind: cash.Credited, Value: n.value, Code: n.code}
	if !n.known {
		ev.Detail = "vend valid, value unknown"
	}
	r.emit(ev)
}

// finishNote closes the tracked note when the acceptor is idle again or
// takes the next note, reporting what polls may have missed: a credited
// note was stacked; an escrowed note that was never credited went back.
func (s *session) finishNote() {
	r := s.r
	n := r.note
	if n == nil {
		return
	}
	r.note = nil
	switch {
	case n.credited && !n.stacked:
		s.d.mon.Count("stacked", 1)
		r.emit(cash.Event{Kind: cash.Stacked, Value: n.value, Code: n.code, Detail: "acceptor idle after vend valid"})
	case !n.credited && !n.returned && n.decided:
		s.d.mon.Count("returned", 1)
		r.emit(cash.Event{Kind: cash.Returned, Value: n.value, Code: n.code, Detail: "note left escrow without vend valid"})
	}
}
