package codec

import (
	"errors"
	"fmt"
)

// EventCode is a poll event (brief §3b, poll events table). A poll reply
// is F0 followed by zero or more events, each a code and its data.
type EventCode byte

const (
	EvSlaveReset      EventCode = 0xF1 // power-up
	EvRead            EventCode = 0xEF // channel: 0 still reading, >0 in escrow
	EvCredit          EventCode = 0xEE // channel: past the point of recovery, safe to credit
	EvRejecting       EventCode = 0xED
	EvRejected        EventCode = 0xEC
	EvStacking        EventCode = 0xCC
	EvStacked         EventCode = 0xEB
	EvSafeJam         EventCode = 0xEA
	EvUnsafeJam       EventCode = 0xE9
	EvDisabled        EventCode = 0xE8
	EvStackerFull     EventCode = 0xE7
	EvFraud           EventCode = 0xE6 // channel
	EvCashboxReplaced EventCode = 0xE4
	EvCashboxRemoved  EventCode = 0xE3
	EvClearedCashbox  EventCode = 0xE2 // channel: note cleared into the cashbox at power-up
	EvClearedFront    EventCode = 0xE1 // channel: note cleared from the front at power-up
	EvNotePathOpen    EventCode = 0xE0
	EvChannelDisable  EventCode = 0xB5 // all channels inhibited
	EvInitialising    EventCode = 0xB6 // poll with ACK only
)

var eventNames = map[EventCode]string{
	EvSlaveReset: "slave reset", EvRead: "read note", EvCredit: "credit note", EvRejecting: "note rejecting",
	EvRejected: "note rejected", EvStacking: "note stacking", EvStacked: "note stacked",
	EvSafeJam: "safe note jam", EvUnsafeJam: "unsafe note jam", EvDisabled: "disabled",
	EvStackerFull: "stacker full", EvFraud: "fraud attempt", EvCashboxReplaced: "cashbox replaced",
	EvCashboxRemoved: "cashbox removed", EvClearedCashbox: "note cleared into cashbox",
	EvClearedFront: "note cleared from front", EvNotePathOpen: "note path open",
	EvChannelDisable: "all channels inhibited", EvInitialising: "initialising",
}

func (c EventCode) String() string {
	if n, ok := eventNames[c]; ok {
		return n
	}
	return fmt.Sprintf("event %02X", byte(c))
}

// DataLen is the number of data bytes after the code, and whether the
// code is a known validator event. Payout-device events (C9, DB, ...)
// are not known: their lengths depend on the device.
func (c EventCode) DataLen() (int, bool) {
	switch c {
	case EvRead, EvCredit, EvFraud, EvClearedCashbox, EvClearedFront:
		return 1, true
	case EvSlaveReset, EvRejecting, EvRejected, EvStacking, EvStacked, EvSafeJam, EvUnsafeJam,
		EvDisabled, EvStackerFull, EvCashboxReplaced, EvCashboxRemoved, EvNotePathOpen,
		EvChannelDisable, EvInitialising:
		return 0, true
	}
	return 0, false
}

// Event is one poll event; Channel is set for the events that carry one.
type Event struct {
	Code    EventCode
	Channel byte
}

func (e Event) String() string {
	if n, _ := e.Code.DataLen(); n == 1 {
		return fmt.Sprintf("%v ch %d", e.Code, e.Channel)
	}
	return e.Code.String()
}

// Poll parsing errors.
var (
	ErrUnknownEvent = errors.New("ssp: unknown poll event")
	ErrTruncated    = errors.New("ssp: poll event cut short")
)

// EventError says where parsing a poll reply stopped.
type EventError struct {
	Err    error // ErrUnknownEvent or ErrTruncated
	Code   EventCode
	Offset int // of the event code in the data
}

func (e *EventError) Error() string {
	return fmt.Sprintf("%v: %02X at offset %d", e.Err, byte(e.Code), e.Offset)
}

func (e *EventError) Unwrap() error { return e.Err }

// ParsePoll scans the events of a poll reply (the data after F0). It
// returns the events before any unknown or truncated one together with an
// *EventError, since the rest cannot be delimited.
func ParsePoll(data []byte) ([]Event, error) {
	var evs []Event
	for i := 0; i < len(data); {
		c := EventCode(data[i])
		n, ok := c.DataLen()
		if !ok {
			return evs, &EventError{Err: ErrUnknownEvent, Code: c, Offset: i}
		}
		if i+1+n > len(data) {
			return evs, &EventError{Err: ErrTruncated, Code: c, Offset: i}
		}
		ev := Event{Code: c}
		if n == 1 {
			ev.Channel = data[i+1]
		}
		evs = append(evs, ev)
		i += 1 + n
	}
	return evs, nil
}

// AppendEvents appends the wire form of evs to dst.
func AppendEvents(dst []byte, evs ...Event) []byte {
	for _, e := range evs {
		dst = append(dst, byte(e.Code))
		if n, _ := e.Code.DataLen(); n == 1 {
			dst = append(dst, e.Channel)
		}
	}
	return dst
}
