// Package cash is the one interface every cash acceptor driver offers the
// core, whatever its wire protocol (ID003, SSP, pulse). Its escrow model is
// explicit, as in XFS4IoT CashIn: a note is first held in escrow, the core
// decides to stack or return it, and only a note the device reports as
// stacked (vend valid) is credit.
//
// Money is in fen (1/100 yuan) everywhere, as int64.
package cash

import (
	"context"
	"fmt"
	"time"

	"tongban/drivers/device"
)

// Kind is what happened to a note or coin.
type Kind string

const (
	// Escrowed: a note is held in escrow. The handler's Decision says
	// whether to stack or return it. Not credit yet.
	Escrowed Kind = "escrowed"
	// Credited: the device has taken the note past the point of no return
	// (ID003 vend valid, SSP credit) or counted a coin. This is credit.
	Credited Kind = "credited"
	// Stacked: the note is in the cash box (follows Credited).
	Stacked Kind = "stacked"
	// Returned: an escrowed note was handed back to the resident.
	Returned Kind = "returned"
	// Rejected: the device refused a note (reason in Detail). Not credit.
	Rejected Kind = "rejected"
	// PowerUpWithNote: the device powered up with a note inside; Where says
	// "acceptor" (to be returned) or "stacker" (to be credited).
	PowerUpWithNote Kind = "powerUpWithNote"
)

// DetailInTransport is a note acceptor's health detail while a note moves
// through it (online, not idle): the core waits for the device to tell the
// note's fate before it settles notes of unknown fate after a restart.
const DetailInTransport = "note in transport"

// Event is one cash event from a driver.
type Event struct {
	Kind   Kind
	Value  int64  // fen; 0 when unknown (e.g. a reject)
	Code   byte   // the device's denomination code, if any
	Detail string // reject reason, failure text, where the note is
	// At is when the device's report reached the driver (the last byte of
	// the frame read), for latency accounting; zero if the driver cannot say.
	At time.Time
}

func (e Event) String() string {
	return fmt.Sprintf("%s %d fen (code %#02x) %s", e.Kind, e.Value, e.Code, e.Detail)
}

// Decision is the core's answer to an escrowed note.
type Decision int

const (
	Return Decision = iota // the zero value: when in doubt, hand it back
	Stack
)

func (d Decision) String() string {
	if d == Stack {
		return "stack"
	}
	return "return"
}

// Handler receives every event synchronously on the driver's goroutine.
// The driver does not act on the device (stack, ACK, return) until the
// handler returns, so the core can journal the event first. For Escrowed
// the returned Decision is obeyed; for other kinds it is ignored. Handlers
// must be quick: the device is waiting.
type Handler func(Event) Decision

// Acceptor is a cash acceptor as the core sees it.
type Acceptor interface {
	// Run drives the device until ctx ends, delivering events to h. It
	// reconnects on its own when the port vanishes.
	Run(ctx context.Context, h Handler) error
	// Enable accepts the listed note values (fen); an empty list inhibits
	// the acceptor. It takes effect at the next poll.
	Enable(values []int64)
	// Denominations lists the values (fen) the device can accept, as read
	// from the device (or its profile when the protocol cannot say).
	Denominations() []int64
	// Health is the device's current status and counters.
	Health() device.Health
	// OnHealth registers a callback for state changes.
	OnHealth(func(device.Health))
}
