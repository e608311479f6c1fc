// Package sim is a simulated pulse-output coin or bill acceptor: it drives
// a fake GPIO line (periph's gpiotest.Pin, through its EdgesChan) with
// pulse trains timed like the real devices in protocols.md §3d, so the
// pulse driver can be run unchanged against it.
//
// Every level change is one value sent on EdgesChan, which the driver's
// WaitForEdge receives. The channel is unbuffered, so a send completes when
// the driver takes the edge and the sleeps between sends are the widths
// and gaps the driver measures.
//
// Faults: glitches shorter than a denoise filter (alone or in the gaps of a
// train), contact bounce at every edge, a train cut midway, and a line held
// active (stuck).
package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// Timing is the shape of one pulse train.
type Timing struct {
	Width time.Duration // each pulse
	Gap   time.Duration // between pulses of a train
	Pause time.Duration // quiet after a train: must exceed the driver's train timeout
}

// BillTiming: bill acceptor pulses 40–60 ms wide, 100 ms apart, 300 ms
// post-train pause (§3d); the pause here is a little longer than the
// driver's default 300 ms train timeout so trains never run together.
func BillTiming() Timing {
	return Timing{Width: 50 * time.Millisecond, Gap: 50 * time.Millisecond, Pause: 400 * time.Millisecond}
}

// CoinTiming: coin mechanisms typically 100 ms pulses (§3d).
func CoinTiming() Timing {
	return Timing{Width: 100 * time.Millisecond, Gap: 100 * time.Millisecond, Pause: 400 * time.Millisecond}
}

// Config sets up a simulated acceptor.
type Config struct {
	// ActiveLow: a pulse pulls the line low (open-collector output with a
	// pull-up, the usual wiring); otherwise a pulse drives it high.
	ActiveLow bool
	Timing    Timing // zero: BillTiming()
	Logger    *slog.Logger
}

// ErrStuck is returned by Insert while the line is held active.
var ErrStuck = errors.New("pulse sim: line held active")

// Acceptor is the simulated device. Its methods are safe for concurrent
// use; trains and glitches are sent one at a time, in call order.
type Acceptor struct {
	pin   *gpiotest.Pin
	edges chan gpio.Level
	cfg   Config
	log   *slog.Logger

	send sync.Mutex // held while a train, glitch or hold is on the line

	mu          sync.Mutex
	timing      Timing
	bounce      int           // extra transitions at every edge
	bounceWidth time.Duration // each of them
	gapGlitch   time.Duration // a glitch in every gap of a train; 0 = none
	stuck       bool
	pulses      int // pulses fully sent
	trains      int
}

// New attaches a simulator to pin. If the pin has no EdgesChan it gets an
// unbuffered one; set it before the driver calls In (gpiotest refuses edge
// detection without it). The pin's level is set to idle.
func New(pin *gpiotest.Pin, cfg Config) *Acceptor {
	if cfg.Timing == (Timing{}) {
		cfg.Timing = BillTiming()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pin.Lock()
	if pin.EdgesChan == nil {
		pin.EdgesChan = make(chan gpio.Level)
	}
	edges := pin.EdgesChan
	pin.L = !level(cfg.ActiveLow, true)
	pin.Unlock()
	return &Acceptor{pin: pin, edges: edges, cfg: cfg, timing: cfg.Timing, log: cfg.Logger.With("sim", "pulse", "pin", pin.N)}
}

// level is the line level for a logical pulse state.
func level(activeLow, active bool) gpio.Level {
	return gpio.Level(active != activeLow)
}

// edge sends one level change and waits for the driver to take it.
func (a *Acceptor) edge(ctx context.Context, active bool) error {
	select {
	case a.edges <- level(a.cfg.ActiveLow, active):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// transition changes the line to active (or idle), with contact bounce
// first if set: the contact makes and breaks n times, each for w.
func (a *Acceptor) transition(ctx context.Context, active bool, n int, w time.Duration) error {
	for range n {
		if err := a.edge(ctx, active); err != nil {
			return err
		}
		if err := sleep(ctx, w); err != nil {
			return err
		}
		if err := a.edge(ctx, !active); err != nil {
			return err
		}
		if err := sleep(ctx, w); err != nil {
			return err
		}
	}
	return a.edge(ctx, active)
}

func (a *Acceptor) settings() (Timing, int, time.Duration, time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.timing, a.bounce, a.bounceWidth, a.gapGlitch, a.stuck
}

// Insert sends one train of n pulses (a coin or note worth n × value per
// pulse), then the post-train pause. It blocks until done or ctx ends.
func (a *Acceptor) Insert(ctx context.Context, n int) error {
	return a.train(ctx, n, n)
}

// InsertCut starts a train of n pulses but stops after the first sent
// ones, as when a coin is pulled back or the acceptor loses power midway.
// The line then stays idle for the pause.
func (a *Acceptor) InsertCut(ctx context.Context, n, sent int) error {
	return a.train(ctx, n, min(n, sent))
}

func (a *Acceptor) train(ctx context.Context, n, sent int) error {
	if n < 1 {
		return fmt.Errorf("pulse sim: %d pulses", n)
	}
	a.send.Lock()
	defer a.send.Unlock()
	tm, bounce, bw, glitch, stuck := a.settings()
	if stuck {
		return ErrStuck
	}
	a.log.Info("train", "pulses", n, "sent", sent)
	for i := range sent {
		if i > 0 {
			if err := a.gap(ctx, tm.Gap, glitch); err != nil {
				return err
			}
		}
		if err := a.transition(ctx, true, bounce, bw); err != nil {
			return err
		}
		if err := sleep(ctx, tm.Width); err != nil {
			return err
		}
		if err := a.transition(ctx, false, bounce, bw); err != nil {
			return err
		}
		a.mu.Lock()
		a.pulses++
		a.mu.Unlock()
	}
	a.mu.Lock()
	a.trains++
	a.mu.Unlock()
	return sleep(ctx, tm.Pause)
}

// gap waits the inter-pulse gap, with a glitch in its middle if set.
func (a *Acceptor) gap(ctx context.Context, gap, glitch time.Duration) error {
	if glitch <= 0 || glitch >= gap/2 {
		return sleep(ctx, gap)
	}
	rest := (gap - glitch) / 2
	if err := sleep(ctx, rest); err != nil {
		return err
	}
	if err := a.glitchLocked(ctx, glitch); err != nil {
		return err
	}
	return sleep(ctx, gap-glitch-rest)
}

func (a *Acceptor) glitchLocked(ctx context.Context, w time.Duration) error {
	if err := a.edge(ctx, true); err != nil {
		return err
	}
	if err := sleep(ctx, w); err != nil {
		return err
	}
	return a.edge(ctx, false)
}

// Glitch sends one lone spike of width w (noise on the line), outside any
// train.
func (a *Acceptor) Glitch(ctx context.Context, w time.Duration) error {
	a.send.Lock()
	defer a.send.Unlock()
	if _, _, _, _, stuck := a.settings(); stuck {
		return ErrStuck
	}
	return a.glitchLocked(ctx, w)
}

// SetGapGlitches puts a glitch of width w in the middle of every gap
// between pulses of the following trains; 0 turns it off.
func (a *Acceptor) SetGapGlitches(w time.Duration) {
	a.mu.Lock()
	a.gapGlitch = w
	a.mu.Unlock()
}

// SetBounce makes every following edge bounce: the contact makes and
// breaks n times for w each before it settles. n = 0 turns it off.
func (a *Acceptor) SetBounce(n int, w time.Duration) {
	a.mu.Lock()
	a.bounce, a.bounceWidth = max(0, n), w
	a.mu.Unlock()
}

// SetTiming changes the train shape for the following trains.
func (a *Acceptor) SetTiming(t Timing) {
	a.mu.Lock()
	a.timing = t
	a.mu.Unlock()
}

// SetStuck holds the line active (true) until released (false): a jammed
// coin on the sensor, a shorted wire. It waits for a train in progress.
func (a *Acceptor) SetStuck(ctx context.Context, on bool) error {
	a.send.Lock()
	defer a.send.Unlock()
	a.mu.Lock()
	was := a.stuck
	a.stuck = on
	a.mu.Unlock()
	if was == on {
		return nil
	}
	if err := a.edge(ctx, on); err != nil {
		a.mu.Lock()
		a.stuck = was
		a.mu.Unlock()
		return err
	}
	return nil
}

// Sent is the number of whole pulses and trains sent so far.
func (a *Acceptor) Sent() (pulses, trains int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pulses, a.trains
}
