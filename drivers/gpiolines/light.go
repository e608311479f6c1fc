package gpiolines

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// LightState is what an indicator is asked to do.
type LightState string

const (
	LightOff   LightState = "off"
	LightOn    LightState = "on"
	LightBlink LightState = "blink"
)

// ErrNotConnected is returned by a light's methods while its line is not
// open (Run not started, or the line missing). The state is kept and
// applied when the line opens.
var ErrNotConnected = errors.New("light line not open")

// Light is one indicator output. A goroutine runs only while it blinks.
type Light struct {
	cfg LightConfig
	log *slog.Logger

	op sync.Mutex // serialises On/Off/Blink/attach/detach

	mu     sync.Mutex
	pin    gpio.PinOut
	state  LightState
	period time.Duration
	lit    bool // the output as last driven
	stop   chan struct{}
	done   chan struct{}
}

func newLight(cfg LightConfig, log *slog.Logger) *Light {
	return &Light{cfg: cfg, log: log.With("light", cfg.Name, "line", cfg.Line), state: LightOff}
}

// Name is the light's profile name.
func (l *Light) Name() string { return l.cfg.Name }

// On lights the indicator steadily.
func (l *Light) On() error { return l.set(LightOn, 0) }

// Off puts it out.
func (l *Light) Off() error { return l.set(LightOff, 0) }

// Blink flashes it: lit for half of period, dark for the other half,
// starting lit. Period is clamped to at least MinBlinkPeriod.
func (l *Light) Blink(period time.Duration) error {
	return l.set(LightBlink, max(period, MinBlinkPeriod))
}

// State is the requested state and, when blinking, the period.
func (l *Light) State() (LightState, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state, l.period
}

// Lit reports whether the output is driven lit right now.
func (l *Light) Lit() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lit
}

// Blinking reports whether the blink goroutine is running.
func (l *Light) Blinking() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done != nil
}

func (l *Light) set(s LightState, period time.Duration) error {
	l.op.Lock()
	defer l.op.Unlock()
	l.stopBlink()
	l.mu.Lock()
	l.state, l.period = s, period
	err := l.applyLocked()
	l.mu.Unlock()
	return err
}

// applyLocked drives the output for the state and starts blinking.
func (l *Light) applyLocked() error {
	if l.pin == nil {
		return fmt.Errorf("light %q: %w", l.cfg.Name, ErrNotConnected)
	}
	if err := l.driveLocked(l.state != LightOff); err != nil {
		return err
	}
	if l.state == LightBlink {
		l.stop, l.done = make(chan struct{}), make(chan struct{})
		go l.blink(l.period, l.stop, l.done)
	}
	return nil
}

func (l *Light) driveLocked(lit bool) error {
	lv := gpio.Level(lit != l.cfg.ActiveLow)
	if err := l.pin.Out(lv); err != nil {
		return fmt.Errorf("light %q: set %s: %w", l.cfg.Name, lv, err)
	}
	l.lit = lit
	return nil
}

func (l *Light) blink(period time.Duration, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(period / 2)
	defer t.Stop()
	failed := false
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		if l.pin != nil {
			if err := l.driveLocked(!l.lit); err != nil && !failed {
				l.log.Error("blink failed", "err", err)
				failed = true // once per blink, not twice a second
			}
		}
		l.mu.Unlock()
	}
}

// stopBlink ends the blink goroutine and waits for it. Caller holds op.
func (l *Light) stopBlink() {
	l.mu.Lock()
	stop, done := l.stop, l.done
	l.stop, l.done = nil, nil
	l.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

// attach takes the opened line and applies the requested state.
func (l *Light) attach(pin gpio.PinOut) error {
	l.op.Lock()
	defer l.op.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pin = pin
	if err := l.applyLocked(); err != nil {
		l.pin = nil
		return err
	}
	l.log.Info("light line open", "state", l.state)
	return nil
}

// detach stops blinking, puts the light out and lets go of the line.
func (l *Light) detach() {
	l.op.Lock()
	defer l.op.Unlock()
	l.stopBlink()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pin != nil {
		if err := l.driveLocked(false); err != nil {
			l.log.Warn("light off at stop", "err", err)
		}
	}
	l.pin = nil
}
