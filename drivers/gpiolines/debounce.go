package gpiolines

import "time"

// Debouncer turns a switch's raw level samples into settled changes. It is
// pure (the caller supplies the time) so it can be tested and fuzzed
// without a line.
//
// A change is reported once the line has kept its new level for Window
// after the last edge of a burst; a burst that ends on the old level (a
// glitch, a knock on the cabinet) reports nothing. The change carries the
// time of the burst's first edge: when the door actually moved. A line
// that keeps chattering for longer than MaxSettle has its current level
// taken as settled, so a failing switch cannot hide a door for ever.
type Debouncer struct {
	Window    time.Duration
	MaxSettle time.Duration // 0: 20 × Window

	stable     bool // the last reported (settled) level
	raw        bool
	pending    bool // a burst is in progress
	burstStart time.Time
	lastEdge   time.Time
	last       time.Time // latest time seen; earlier times are clamped
	glitches   int
}

// Change is a settled level change.
type Change struct {
	Active  bool
	At      time.Time // first edge of the burst
	Settled time.Time // when it was judged settled
}

// Reset sets the settled level (the line's level at start), with no burst.
func (d *Debouncer) Reset(active bool, t time.Time) {
	d.stable, d.raw, d.pending, d.last = active, active, false, t
}

// Stable is the settled level.
func (d *Debouncer) Stable() bool { return d.stable }

// Glitches counts bursts that ended on the level they started from.
func (d *Debouncer) Glitches() int { return d.glitches }

func (d *Debouncer) maxSettle() time.Duration {
	if d.MaxSettle > 0 {
		return d.MaxSettle
	}
	return 20 * d.Window
}

func (d *Debouncer) clamp(t time.Time) time.Time {
	if t.Before(d.last) {
		return d.last
	}
	d.last = t
	return t
}

// Sample feeds the raw level at t. It may report the change that settled
// before this edge.
func (d *Debouncer) Sample(active bool, t time.Time) (Change, bool) {
	t = d.clamp(t)
	ch, ok := d.Tick(t)
	if active == d.raw {
		return ch, ok
	}
	d.raw = active
	if !d.pending {
		d.pending, d.burstStart = true, t
	}
	d.lastEdge = t
	return ch, ok
}

// Tick reports a settled change if the burst is over at t.
func (d *Debouncer) Tick(t time.Time) (Change, bool) {
	t = d.clamp(t)
	if !d.pending {
		return Change{}, false
	}
	quiet := t.Sub(d.lastEdge) >= d.Window
	if !quiet && t.Sub(d.burstStart) < d.maxSettle() {
		return Change{}, false
	}
	d.pending = false
	if d.raw == d.stable {
		d.glitches++
		return Change{}, false
	}
	d.stable = d.raw
	settled := t
	if quiet {
		settled = d.lastEdge.Add(d.Window)
	}
	return Change{Active: d.stable, At: d.burstStart, Settled: settled}, true
}

// Deadline is when Tick should next be called; ok is false with no burst.
func (d *Debouncer) Deadline() (time.Time, bool) {
	if !d.pending {
		return time.Time{}, false
	}
	return minTime(d.lastEdge.Add(d.Window), d.burstStart.Add(d.maxSettle())), true
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
