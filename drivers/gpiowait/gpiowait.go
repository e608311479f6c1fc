// Package gpiowait lets a GPIO input watcher sleep until an edge without
// a short poll, on every periph driver and on the simulated lines.
//
// periph's PinIn documents WaitForEdge(-1) as "no timeout", but its
// drivers disagree: gpioioctl (the Linux character device, what a board
// gives today) turns -1 into a read deadline already past, so it returns
// at once and a watcher would spin, while it takes 0 as "forever", which
// gpiotest takes as "do not wait". A long finite wait means the same
// everywhere, so an idle watcher waits IdleWait (a wakeup every few
// seconds instead of ten a second) and Halt, which periph's drivers
// implement to end a pending wait, ends it at once when the watcher stops.
package gpiowait

import (
	"context"
	"time"

	"periph.io/x/conn/v3/gpio/gpiotest"
)

// IdleWait is the longest single WaitForEdge while nothing is pending (no
// switch settling, no pulse train open). It bounds nothing a resident
// sees: edges end the wait, Halt ends it on stop; it is only when a
// watcher that missed an edge re-reads its line.
const IdleWait = 10 * time.Second

// haltRetry: a Halt that lands just before WaitForEdge starts is lost on
// drivers that reset their deadline on every wait (gpioioctl), so it is
// repeated this often until the watcher has left.
const haltRetry = 20 * time.Millisecond

// HaltOnDone halts pin once ctx ends, and again every haltRetry until
// stop is called; call stop when the watcher's loop has returned.
func HaltOnDone(ctx context.Context, pin interface{ Halt() error }) (stop func()) {
	left := make(chan struct{})
	stopAfter := context.AfterFunc(ctx, func() {
		t := time.NewTicker(haltRetry)
		defer t.Stop()
		for {
			pin.Halt()
			select {
			case <-left:
				return
			case <-t.C:
			}
		}
	})
	return func() {
		stopAfter()
		close(left)
	}
}

// Halter gives a gpiotest pin, which the simulators build their lines on,
// what a real line has and gpiotest lacks: a WaitForEdge that Halt ends
// and that takes -1 as "no timeout". The zero value is not usable; use
// NewHalter.
type Halter struct {
	halt chan struct{}
}

// NewHalter makes a Halter.
func NewHalter() *Halter { return &Halter{halt: make(chan struct{}, 1)} }

// Halt ends a pending (or the next) Wait with false.
func (h *Halter) Halt() error {
	select {
	case h.halt <- struct{}{}:
	default: // one is already pending
	}
	return nil
}

// Wait is gpiotest.Pin.WaitForEdge, ended early by Halt: it takes one edge
// from p.EdgesChan and sets p's level to it, or returns false after
// timeout (never for a negative one) or on Halt.
func (h *Halter) Wait(p *gpiotest.Pin, timeout time.Duration) bool {
	var after <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		after = t.C
	}
	select {
	case l := <-p.EdgesChan:
		p.Out(l)
		return true
	case <-after:
		return false
	case <-h.halt:
		return false
	}
}
