// Package codec is the pure part of the pulse-output acceptor driver: a
// state machine that turns line samples (logical level, time) into pulse
// trains. It does no I/O and keeps no clock of its own, so it can be
// table-tested and fuzzed with made-up times.
//
// A pulse acceptor signals a coin or note as a train of N pulses on one
// line; value = N × value per pulse; the train ends with a pause longer
// than the gap between pulses (protocols.md §3d). Two filters make the
// count robust on a real wire:
//
//   - Denoise: an active period shorter than Denoise is a glitch and is
//     ignored (electrical noise, the first spikes of contact bounce).
//   - Debounce: an accepted active period that starts less than Debounce
//     after the previous one ended is the same pulse (a dropout or bounce
//     in the middle of a pulse), not a new one.
//
// A train ends when the line has been quiet for TrainTimeout after its last
// pulse. An active period longer than MaxWidth is not a pulse either (a
// stuck line, a jammed coin on the sensor); it is counted as an anomaly.
package codec

import (
	"errors"
	"fmt"
	"time"
)

// Defaults, from the figures in protocols.md §3d: bill acceptor pulses are
// 40–60 ms wide and 100 ms apart, post-train pause 300 ms; public code
// uses 50–70 ms debounce and a 0.3 s train timeout.
const (
	DefaultDenoise      = 15 * time.Millisecond
	DefaultDebounce     = 20 * time.Millisecond
	DefaultTrainTimeout = 300 * time.Millisecond
	DefaultMaxWidth     = time.Second
	DefaultMaxPulses    = 1000
)

// Config holds the filter settings. Zero fields take the defaults.
type Config struct {
	Denoise      time.Duration // shortest active period that counts as a pulse
	Debounce     time.Duration // a pulse starting this soon after the last one is the same pulse
	TrainTimeout time.Duration // quiet time after the last pulse that ends a train
	MaxWidth     time.Duration // longest active period that is still a pulse
	MaxPulses    int           // a train reaching this many pulses is reported at once (and a new one begins)
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.Denoise == 0 {
		c.Denoise = DefaultDenoise
	}
	if c.Debounce == 0 {
		c.Debounce = DefaultDebounce
	}
	if c.TrainTimeout == 0 {
		c.TrainTimeout = DefaultTrainTimeout
	}
	if c.MaxWidth == 0 {
		c.MaxWidth = DefaultMaxWidth
	}
	if c.MaxPulses == 0 {
		c.MaxPulses = DefaultMaxPulses
	}
	return c
}

// Validate reports settings that cannot count reliably.
func (c Config) Validate() error {
	var errs []error
	if c.Denoise < 0 || c.Debounce < 0 {
		errs = append(errs, fmt.Errorf("denoise %v and debounce %v must not be negative", c.Denoise, c.Debounce))
	}
	if c.TrainTimeout <= c.Debounce {
		errs = append(errs, fmt.Errorf("train timeout %v must be longer than debounce %v", c.TrainTimeout, c.Debounce))
	}
	if c.MaxWidth <= c.Denoise {
		errs = append(errs, fmt.Errorf("max width %v must be longer than denoise %v", c.MaxWidth, c.Denoise))
	}
	if c.MaxPulses < 1 {
		errs = append(errs, fmt.Errorf("max pulses %d must be at least 1", c.MaxPulses))
	}
	return errors.Join(errs...)
}

// Train is one finished pulse train: one coin or note.
type Train struct {
	Pulses int       // 1..MaxPulses
	Start  time.Time // leading edge of the first pulse
	End    time.Time // trailing edge of the last pulse
	// Overflow: the train reached MaxPulses and was cut there; the pulses
	// after it start a new train. Something is wrong with the line or the
	// settings.
	Overflow bool
	// Anomalies seen while the train was open (including the quiet time
	// before its first pulse since the previous train).
	Glitches int // active periods shorter than Denoise, ignored
	Bounces  int // pulses merged into the previous one (gap < Debounce)
	Long     int // active periods longer than MaxWidth, ignored
}

func (t Train) String() string {
	return fmt.Sprintf("%d pulses %s..%s glitches=%d bounces=%d long=%d overflow=%t",
		t.Pulses, t.Start.Format("15:04:05.000"), t.End.Format("15:04:05.000"), t.Glitches, t.Bounces, t.Long, t.Overflow)
}

// Counter is the state machine. It is not safe for concurrent use; one
// goroutine (the driver's line watcher) owns it.
type Counter struct {
	cfg Config

	last     time.Time // latest sample time; earlier times are clamped to it
	started  bool
	active   bool      // current logical line level
	rawSince time.Time // when the line took its current level

	haveEnd  bool      // an accepted pulse has ended (for the Debounce merge)
	pulseEnd time.Time // end of the last accepted pulse

	inTrain bool
	train   Train
	// Anomalies seen outside a train, carried into the next one.
	glitches, bounces, long int
	totals                  Totals
}

// Totals are anomaly counts since the counter was made.
type Totals struct {
	Glitches, Bounces, Long int
}

// New makes a counter with the line assumed inactive. cfg is completed
// with defaults and validated.
func New(cfg Config) (*Counter, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pulse counter: %w", err)
	}
	return &Counter{cfg: cfg}, nil
}

// Config is the effective configuration.
func (c *Counter) Config() Config { return c.cfg }

func (c *Counter) clamp(t time.Time) time.Time {
	if c.started && t.Before(c.last) {
		return c.last
	}
	c.last, c.started = t, true
	return t
}

// Sample feeds the line's logical level (true = pulse active) at time t.
// Repeated levels are ignored (an edge source may report an edge the
// reader did not see change). Times going backwards are clamped. It
// returns the trains that finished (none, one, or two when a timed-out
// train and an overflowing one end together).
func (c *Counter) Sample(active bool, t time.Time) []Train {
	t = c.clamp(t)
	var out []Train
	if tr, ok := c.Tick(t); ok {
		out = append(out, tr)
	}
	if active == c.active {
		return out
	}
	rise := c.rawSince
	c.active, c.rawSince = active, t
	if active {
		return out // a pulse is judged when it ends
	}
	width := t.Sub(rise)
	switch {
	case width < c.cfg.Denoise:
		c.totals.Glitches++
		c.note(&c.train.Glitches, &c.glitches)
		return out
	case width > c.cfg.MaxWidth:
		c.totals.Long++
		c.note(&c.train.Long, &c.long)
		return out
	}
	if c.haveEnd && rise.Sub(c.pulseEnd) < c.cfg.Debounce {
		c.totals.Bounces++
		c.note(&c.train.Bounces, &c.bounces)
		c.pulseEnd = t
		if c.inTrain {
			c.train.End = t
		}
		return out
	}
	if c.inTrain && rise.Sub(c.pulseEnd) >= c.cfg.TrainTimeout {
		out = append(out, c.finish()) // Tick normally did this already
	}
	if !c.inTrain {
		c.inTrain = true
		c.train = Train{Start: rise, Glitches: c.glitches, Bounces: c.bounces, Long: c.long}
		c.glitches, c.bounces, c.long = 0, 0, 0
	}
	c.train.Pulses++
	c.train.End = t
	c.haveEnd, c.pulseEnd = true, t
	if c.train.Pulses >= c.cfg.MaxPulses {
		c.train.Overflow = true
		out = append(out, c.finish())
	}
	return out
}

// note counts an anomaly on the open train, or keeps it for the next one.
func (c *Counter) note(inTrain, outside *int) {
	if c.inTrain {
		*inTrain++
	} else {
		*outside++
	}
}

func (c *Counter) finish() Train {
	tr := c.train
	c.inTrain, c.train = false, Train{}
	return tr
}

// Tick tells the counter that time t has come with no edge. It returns the
// open train if it is over: quiet for TrainTimeout after its last pulse,
// where an active period that began after the timeout, or has lasted
// longer than MaxWidth, does not hold the train open.
func (c *Counter) Tick(t time.Time) (Train, bool) {
	t = c.clamp(t)
	if !c.inTrain || t.Sub(c.pulseEnd) < c.cfg.TrainTimeout {
		return Train{}, false
	}
	if c.active && c.rawSince.Sub(c.pulseEnd) < c.cfg.TrainTimeout && t.Sub(c.rawSince) <= c.cfg.MaxWidth {
		return Train{}, false // a pulse of this train may be in progress
	}
	return c.finish(), true
}

// Deadline is when Tick should next be called to end the open train on
// time; ok is false when no train is open.
func (c *Counter) Deadline() (time.Time, bool) {
	if !c.inTrain {
		return time.Time{}, false
	}
	d := c.pulseEnd.Add(c.cfg.TrainTimeout)
	if c.active && c.rawSince.Sub(c.pulseEnd) < c.cfg.TrainTimeout {
		d = c.rawSince.Add(c.cfg.MaxWidth + 1)
	}
	return d, true
}

// Flush ends the open train now, whatever the time (the driver is
// stopping: pulses already counted are money already inserted). A pulse
// still active at t is taken to end at t, so it counts if it is already
// longer than Denoise. The line is then taken as inactive.
func (c *Counter) Flush(t time.Time) []Train {
	out := c.Sample(false, t)
	if c.inTrain {
		out = append(out, c.finish())
	}
	return out
}

// Totals are the anomalies seen so far, in or out of trains.
func (c *Counter) Totals() Totals { return c.totals }

// Pending is the number of pulses counted in the open train.
func (c *Counter) Pending() int {
	if !c.inTrain {
		return 0
	}
	return c.train.Pulses
}

// Active reports whether the line is active at t and for how long.
func (c *Counter) Active(t time.Time) (bool, time.Duration) {
	if !c.active {
		return false, 0
	}
	return true, max(0, t.Sub(c.rawSince))
}
