// Package sim is a simulated GPIO board for package gpiolines: named fake
// lines (periph's gpiotest.Pin) with an Open function to hand to
// gpiolines.Config, switches that drive input lines through their
// EdgesChan, and read-back of the indicator outputs.
//
// Faults: contact bounce on every switch change, lone glitches, a
// chattering (failing) switch, and lines missing from the board until
// added (as when a harness is unplugged).
package sim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"tongban/drivers/gpiowait"
)

// Board is a set of fake lines by name. Safe for concurrent use.
type Board struct {
	mu      sync.Mutex
	pins    map[string]*gpiotest.Pin
	missing map[string]bool
}

// NewBoard makes a board with the named lines.
func NewBoard(lines ...string) *Board {
	b := &Board{pins: map[string]*gpiotest.Pin{}, missing: map[string]bool{}}
	for _, n := range lines {
		b.Add(n)
	}
	return b
}

// edgeBuffer is how many edges a line holds for a driver that is slow or
// not running; the line's level is always set at once as well.
const edgeBuffer = 64

// Add puts a line on the board (again).
func (b *Board) Add(name string) *gpiotest.Pin {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.missing, name)
	if p, ok := b.pins[name]; ok {
		return p
	}
	// Clock set here: gpiotest fills a nil Clock lazily without a lock.
	p := &gpiotest.Pin{N: name, Num: len(b.pins), Clock: clockwork.NewRealClock(), EdgesChan: make(chan gpio.Level, edgeBuffer)}
	b.pins[name] = p
	return p
}

// SetMissing makes Open fail for the line (true) or find it again.
func (b *Board) SetMissing(name string, missing bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.missing[name] = missing
}

// Open is a gpiolines.Config.Open for this board.
func (b *Board) Open(name string) (gpio.PinIO, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.pins[name]
	if !ok || b.missing[name] {
		return nil, fmt.Errorf("sim board: no line %q", name)
	}
	return line{Pin: p, h: gpiowait.NewHalter()}, nil
}

// line is a board line as a driver sees it. gpiotest's In sets the level
// from the pull (as if nothing were connected); here a switch drives the
// line, so In keeps the level. Halt ends a pending WaitForEdge, as on a
// real line (gpiotest's does nothing).
type line struct {
	*gpiotest.Pin
	h *gpiowait.Halter
}

func (l line) Halt() error { return l.h.Halt() }

func (l line) WaitForEdge(timeout time.Duration) bool { return l.h.Wait(l.Pin, timeout) }

func (l line) In(pull gpio.Pull, edge gpio.Edge) error {
	lv := l.Pin.Read()
	err := l.Pin.In(pull, edge)
	l.Pin.Lock()
	l.Pin.L = lv
	l.Pin.Unlock()
	return err
}

// Pin is the named line, or nil.
func (b *Board) Pin(name string) *gpiotest.Pin {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pins[name]
}

// Level is the named line's current level (an output's driven level).
func (b *Board) Level(name string) gpio.Level {
	if p := b.Pin(name); p != nil {
		return p.Read()
	}
	return gpio.Low
}

// Switch drives one input line: a door contact, a tamper switch, a
// presence sensor's output.
type Switch struct {
	pin       *gpiotest.Pin
	activeLow bool

	mu     sync.Mutex // one change at a time
	active bool
	bounce int
	width  time.Duration
}

// Switch makes a switch on the named line (added if absent), starting
// inactive. activeLow must match the input's configuration.
func (b *Board) Switch(name string, activeLow bool) *Switch {
	p := b.Add(name)
	p.Lock()
	p.L = gpio.Level(activeLow) // inactive
	p.Unlock()
	return &Switch{pin: p, activeLow: activeLow}
}

// send sets the line's level and queues the edge for the driver. It never
// blocks: a switch moves whether or not anyone watches it.
func (s *Switch) send(ctx context.Context, active bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	lv := gpio.Level(active != s.activeLow)
	s.pin.Lock()
	s.pin.L = lv
	s.pin.Unlock()
	select {
	case s.pin.EdgesChan <- lv:
	default: // nobody listening and the buffer is full: the level is set
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetBounce makes every following change bounce n times (make/break for
// w each) before it settles; n = 0 turns it off.
func (s *Switch) SetBounce(n int, w time.Duration) {
	s.mu.Lock()
	s.bounce, s.width = max(0, n), w
	s.mu.Unlock()
}

// Set moves the switch to active (door open, tampered, present) or back,
// with bounce if set (then it takes the bounce time).
func (s *Switch) Set(ctx context.Context, active bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if active == s.active {
		return nil
	}
	for range s.bounce {
		if err := s.send(ctx, active); err != nil {
			return err
		}
		if err := sleep(ctx, s.width); err != nil {
			return err
		}
		if err := s.send(ctx, !active); err != nil {
			return err
		}
		if err := sleep(ctx, s.width); err != nil {
			return err
		}
	}
	if err := s.send(ctx, active); err != nil {
		return err
	}
	s.active = active
	return nil
}

// Glitch flips the line for w and back (a knock on the cabinet, noise).
func (s *Switch) Glitch(ctx context.Context, w time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.send(ctx, !s.active); err != nil {
		return err
	}
	if err := sleep(ctx, w); err != nil {
		return err
	}
	return s.send(ctx, s.active)
}

// Chatter flips the line every w for d (a failing switch), then leaves it
// at the level it had before.
func (s *Switch) Chatter(ctx context.Context, d, w time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	lv := s.active
	for end := time.Now().Add(d); time.Now().Before(end); {
		lv = !lv
		if err := s.send(ctx, lv); err != nil {
			return err
		}
		if err := sleep(ctx, w); err != nil {
			return err
		}
	}
	if lv != s.active {
		return s.send(ctx, s.active)
	}
	return nil
}

// Active is the switch's position.
func (s *Switch) Active() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}
