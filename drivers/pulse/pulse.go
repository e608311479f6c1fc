// Package pulse drives a pulse-output coin or bill acceptor read on one
// GPIO input and offers it to the core as a cash.Acceptor.
//
// Such a device has no escrow and no protocol: it signals each coin or
// note it has already taken as a train of pulses (protocols.md §3d). The
// driver counts each train with package codec's filters (denoise,
// debounce, train timeout) and reports it as one cash.Credited event worth
// pulses × ValuePerPulse, followed by cash.Stacked. Enable with an empty
// list drives the optional inhibit output; a train that still arrives
// while disabled is credited all the same (the money is in the box) and
// flagged in the event's Detail.
//
// One goroutine (Run) owns the input line. It waits for edges with a
// finite timeout and loops, because the "wait forever" sentinel differs
// between periph implementations (toolchain.md §1).
package pulse

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/drivers/gpiowait"
	"tongban/drivers/pulse/codec"
)

// DriverName is the driver's name in device.Health and the profile.
const DriverName = "pulse"

// Defaults not covered by codec's filter defaults.
const (
	DefaultPoll         = gpiowait.IdleWait // longest single WaitForEdge with no train open
	DefaultReconnectMin = 200 * time.Millisecond
	DefaultReconnectMax = 5 * time.Second
)

// Counter names in Health().Counters.
const (
	CounterTrains        = "trains"        // coins or notes credited
	CounterPulses        = "pulses"        // pulses in them
	CounterFen           = "fen"           // value credited
	CounterWhileDisabled = "whileDisabled" // trains that came in while inhibited
	CounterOddValue      = "oddValue"      // trains whose value is not a configured denomination
	CounterOverflows     = "overflows"     // trains cut at MaxPulses
	CounterGlitches      = "glitches"      // active periods shorter than Denoise
	CounterBounces       = "bounces"       // pulses merged by Debounce
	CounterLong          = "long"          // active periods longer than MaxWidth
	CounterStuck         = "stuck"         // times the line stayed active past MaxWidth
	CounterLineErrors    = "lineErrors"    // failures to set up the lines
)

// Config describes one acceptor. Zero fields take defaults.
type Config struct {
	Name string // profile name, e.g. "coinAcceptor"
	// Pin is the acceptor's pulse output, opened by the caller (for example
	// with gpiolines.Open). nil: the device is reported as NoDevice.
	Pin gpio.PinIn
	// InhibitPin, if set, drives the acceptor's inhibit input: InhibitLevel
	// while disabled, the other level while enabled.
	InhibitPin   gpio.PinOut
	InhibitLevel gpio.Level

	ValuePerPulse int64 // fen per pulse, e.g. 100 for 1 yuan per pulse; required

	Denoise      time.Duration // shortest pulse; default codec.DefaultDenoise
	Debounce     time.Duration // gap below which two pulses are one; default codec.DefaultDebounce
	TrainTimeout time.Duration // quiet time that ends a train; default codec.DefaultTrainTimeout
	MaxWidth     time.Duration // longest pulse; longer is a stuck line; default codec.DefaultMaxWidth
	MaxPulses    int           // sanity bound per train; default codec.DefaultMaxPulses

	// ActiveLow: a pulse pulls the line low (open-collector output, the
	// usual case). Pull is the bias to request; the zero value
	// (PullNoChange) means PullUp when ActiveLow, else PullDown. Use Float
	// to request no bias (an external resistor).
	ActiveLow bool
	Pull      gpio.Pull

	// Denominations the device is set up for (fen), from the profile: the
	// line cannot say. A train of another value is still credited, but
	// flagged (a cut train, a mis-set device).
	Denominations []int64

	// Poll is the longest wait for an edge while no train is open and the
	// line is at rest; default gpiowait.IdleWait. An open train or an
	// active line waits only until its own deadline, and stopping halts
	// the wait, so an idle acceptor costs no short poll.
	Poll         time.Duration
	ReconnectMin time.Duration // first retry after the line cannot be set up
	ReconnectMax time.Duration

	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	c.Poll = cmp.Or(c.Poll, DefaultPoll)
	c.ReconnectMin = cmp.Or(c.ReconnectMin, DefaultReconnectMin)
	c.ReconnectMax = max(cmp.Or(c.ReconnectMax, DefaultReconnectMax), c.ReconnectMin)
	if c.Pull == gpio.PullNoChange {
		c.Pull = gpio.PullDown
		if c.ActiveLow {
			c.Pull = gpio.PullUp
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Denominations = slices.Clone(c.Denominations)
	slices.Sort(c.Denominations)
	return c
}

func (c Config) counterConfig() codec.Config {
	return codec.Config{Denoise: c.Denoise, Debounce: c.Debounce, TrainTimeout: c.TrainTimeout,
		MaxWidth: c.MaxWidth, MaxPulses: c.MaxPulses}.WithDefaults()
}

// Validate reports a configuration the driver can never use.
func (c Config) Validate() error {
	if c.ValuePerPulse <= 0 {
		return fmt.Errorf("pulse %s: value per pulse %d fen must be positive", c.Name, c.ValuePerPulse)
	}
	if err := c.counterConfig().Validate(); err != nil {
		return fmt.Errorf("pulse %s: %w", c.Name, err)
	}
	return nil
}

// Driver is one pulse acceptor. Enable, Denominations, Health and OnHealth
// may be called from any goroutine; Run runs on one.
type Driver struct {
	cfg     Config
	log     *slog.Logger
	mon     *device.Monitor
	running atomic.Bool

	smu sync.Mutex // serialises state publication, so a stale state cannot land last
	imu sync.Mutex // serialises inhibit output writes, for the same reason

	mu       sync.Mutex
	enabled  []int64 // values the core wants; empty = inhibited
	watching bool    // the input line is set up and watched
	stuck    bool    // the input is stuck active: HardwareError until released
}

var _ cash.Acceptor = (*Driver)(nil)

// New makes a driver; nothing is touched until Run (or Enable, which sets
// the inhibit output at once).
func New(cfg Config) *Driver {
	cfg = cfg.withDefaults()
	path := ""
	if cfg.Pin != nil {
		path = cfg.Pin.String()
	}
	d := &Driver{
		cfg: cfg,
		log: cfg.Logger.With("driver", DriverName, "name", cfg.Name, "line", path),
		mon: device.NewMonitor(cfg.Name, DriverName, path),
	}
	for _, c := range []string{CounterTrains, CounterPulses, CounterFen, CounterWhileDisabled} {
		d.mon.Count(c, 0)
	}
	return d
}

// Config returns the effective configuration (defaults filled in).
func (d *Driver) Config() Config {
	c := d.cfg
	c.Denominations = slices.Clone(c.Denominations)
	cc := c.counterConfig()
	c.Denoise, c.Debounce, c.TrainTimeout, c.MaxWidth, c.MaxPulses = cc.Denoise, cc.Debounce, cc.TrainTimeout, cc.MaxWidth, cc.MaxPulses
	return c
}

// Enable implements cash.Acceptor. A non-empty list enables the acceptor
// (the line carries no denomination mask: the device takes what it is set
// up for); an empty list inhibits it through InhibitPin, if wired. The
// inhibit output follows at once; it releases the acceptor only while Run
// is counting, so no coin goes in uncounted.
func (d *Driver) Enable(values []int64) {
	d.mu.Lock()
	d.enabled = slices.Clone(values)
	d.mu.Unlock()
	d.applyInhibit()
	d.publish()
}

// publish sets the state while the line is watched: stuck, or online
// accepting or inhibited.
func (d *Driver) publish() {
	d.smu.Lock()
	defer d.smu.Unlock()
	d.mu.Lock()
	watching, stuck, on := d.watching, d.stuck, len(d.enabled) > 0
	d.mu.Unlock()
	switch {
	case !watching:
	case stuck:
		d.mon.Set(device.HardwareError, "input stuck active")
	default:
		d.mon.Set(device.Online, stateDetail(on))
	}
}

func (d *Driver) setWatch(watching, stuck bool) {
	d.mu.Lock()
	d.watching, d.stuck = watching, stuck
	d.mu.Unlock()
	d.applyInhibit()
	d.publish()
}

func stateDetail(enabled bool) string {
	if enabled {
		return "accepting"
	}
	return "inhibited"
}

func (d *Driver) isEnabled() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.enabled) > 0
}

// applyInhibit drives the inhibit output: released only while enabled and
// watched.
func (d *Driver) applyInhibit() {
	if d.cfg.InhibitPin == nil {
		return
	}
	d.imu.Lock()
	defer d.imu.Unlock()
	d.mu.Lock()
	enabled := d.watching && len(d.enabled) > 0
	d.mu.Unlock()
	lv := d.cfg.InhibitLevel
	if enabled {
		lv = !lv
	}
	if err := d.cfg.InhibitPin.Out(lv); err != nil {
		err = fmt.Errorf("pulse %s: set inhibit %s: %w", d.cfg.Name, lv, err)
		d.mon.Error(err)
		d.mon.Count(CounterLineErrors, 1)
		d.log.Error("inhibit output failed", "err", err)
	}
}

// Denominations implements cash.Acceptor: the configured values, since a
// pulse line cannot report them.
func (d *Driver) Denominations() []int64 { return slices.Clone(d.cfg.Denominations) }

// Health implements cash.Acceptor.
func (d *Driver) Health() device.Health { return d.mon.Health() }

// OnHealth implements cash.Acceptor.
func (d *Driver) OnHealth(f func(device.Health)) { d.mon.OnChange(f) }

// Run implements cash.Acceptor: it watches the line until ctx ends and
// returns nil then. It returns an error only for an unusable
// configuration or a second concurrent Run. A missing line is NoDevice; a
// line that cannot be set up is retried with backoff. On return the
// acceptor is left inhibited and any train already counted is credited.
func (d *Driver) Run(ctx context.Context, h cash.Handler) error {
	if h == nil {
		return errors.New("pulse: Run needs a handler")
	}
	if err := d.cfg.Validate(); err != nil {
		return err
	}
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("pulse: Run is already running")
	}
	defer d.running.Store(false)
	d.applyInhibit() // inhibited until the line is watched

	if d.cfg.Pin == nil {
		d.mon.Set(device.NoDevice, "no input line configured")
		<-ctx.Done()
		d.mon.Set(device.Offline, "stopped")
		return nil
	}
	wait := d.cfg.ReconnectMin
	for ctx.Err() == nil {
		err := d.cfg.Pin.In(d.cfg.Pull, gpio.BothEdges)
		if err == nil {
			d.watch(ctx, h)
			break
		}
		err = fmt.Errorf("pulse %s: set up input %s: %w", d.cfg.Name, d.cfg.Pin, err)
		d.mon.Error(err)
		d.mon.Count(CounterLineErrors, 1)
		d.mon.Set(device.NoDevice, "cannot set up the input line")
		d.log.Warn("input line unavailable, retrying", "err", err, "retry", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		wait = min(wait*2, d.cfg.ReconnectMax)
	}
	d.smu.Lock()
	d.mon.Set(device.Offline, "stopped")
	d.smu.Unlock()
	return nil
}

// watch counts pulses until ctx ends.
func (d *Driver) watch(ctx context.Context, h cash.Handler) {
	c, _ := codec.New(d.cfg.counterConfig()) // validated in Run
	w := &watcher{d: d, h: h, c: c}
	d.setWatch(true, false)
	w.sample(d.cfg.Pin.Read(), time.Now())
	defer gpiowait.HaltOnDone(ctx, d.cfg.Pin)()
	maxWidth := c.Config().MaxWidth
	for ctx.Err() == nil {
		timeout := d.cfg.Poll
		if dl, ok := c.Deadline(); ok {
			timeout = min(timeout, max(time.Millisecond, time.Until(dl)))
		}
		// A line held active outside a train (jammed coin, cut wire on an
		// active-high line) must still turn stuck after MaxWidth.
		if on, long := c.Active(time.Now()); on && !w.stuck {
			timeout = min(timeout, max(time.Millisecond, maxWidth-long+time.Millisecond))
		}
		if d.cfg.Pin.WaitForEdge(timeout) {
			// Read, not the edge kind: gpiotest does not filter kinds and
			// gpioioctl does not report them (toolchain.md §1).
			w.sample(d.cfg.Pin.Read(), time.Now())
		} else {
			w.tick(time.Now())
		}
	}
	w.emit(c.Flush(time.Now()))
	d.setWatch(false, false)
}

// watcher is the state of one watch loop.
type watcher struct {
	d        *Driver
	h        cash.Handler
	c        *codec.Counter
	disabled bool // the open train saw the acceptor disabled
	stuck    bool
	seen     codec.Totals // anomalies already added to the counters
}

func (w *watcher) sample(l gpio.Level, now time.Time) {
	active := bool(l) != w.d.cfg.ActiveLow
	w.emit(w.c.Sample(active, now))
	w.afterUpdate(now)
}

func (w *watcher) tick(now time.Time) {
	if tr, ok := w.c.Tick(now); ok {
		w.emit([]codec.Train{tr})
	}
	w.afterUpdate(now)
}

// afterUpdate notes a disabled acceptor under an open train and watches
// for a stuck line.
func (w *watcher) afterUpdate(now time.Time) {
	if w.c.Pending() > 0 && !w.d.isEnabled() {
		w.disabled = true
	}
	if t := w.c.Totals(); t != w.seen {
		w.d.mon.Count(CounterGlitches, int64(t.Glitches-w.seen.Glitches))
		w.d.mon.Count(CounterBounces, int64(t.Bounces-w.seen.Bounces))
		w.d.mon.Count(CounterLong, int64(t.Long-w.seen.Long))
		w.seen = t
	}
	on, long := w.c.Active(now)
	stuck := on && long > w.c.Config().MaxWidth
	if stuck == w.stuck {
		return
	}
	w.stuck = stuck
	d := w.d
	if stuck {
		d.mon.Count(CounterStuck, 1)
		d.mon.Error(fmt.Errorf("pulse %s: input active for more than %v", d.cfg.Name, w.c.Config().MaxWidth))
		d.log.Error("input line stuck active", "for", long)
	} else {
		d.log.Info("input line released")
	}
	d.setWatch(true, stuck)
}

// emit credits each finished train: Credited, then Stacked, each through
// the handler (which journals) before anything else happens.
func (w *watcher) emit(trains []codec.Train) {
	d := w.d
	for _, tr := range trains {
		disabled := w.disabled || !d.isEnabled()
		w.disabled = false
		value := int64(tr.Pulses) * d.cfg.ValuePerPulse
		notes := []string{fmt.Sprintf("%d pulses", tr.Pulses)}
		if disabled {
			notes = append(notes, "received while disabled")
			d.mon.Count(CounterWhileDisabled, 1)
		}
		if len(d.cfg.Denominations) > 0 && !slices.Contains(d.cfg.Denominations, value) {
			notes = append(notes, "not a configured denomination")
			d.mon.Count(CounterOddValue, 1)
		}
		if tr.Overflow {
			notes = append(notes, fmt.Sprintf("train cut at %d pulses", tr.Pulses))
			d.mon.Count(CounterOverflows, 1)
		}
		d.mon.Count(CounterTrains, 1)
		d.mon.Count(CounterPulses, int64(tr.Pulses))
		d.mon.Count(CounterFen, value)
		detail := strings.Join(notes, "; ")
		lvl := slog.LevelInfo
		if len(notes) > 1 {
			lvl = slog.LevelWarn
		}
		d.log.Log(context.Background(), lvl, "pulse train", "fen", value, "pulses", tr.Pulses, "detail", detail,
			"glitches", tr.Glitches, "bounces", tr.Bounces, "took", tr.End.Sub(tr.Start).Round(time.Millisecond))
		w.h(cash.Event{Kind: cash.Credited, Value: value, Detail: detail})
		w.h(cash.Event{Kind: cash.Stacked, Value: value, Detail: detail})
	}
}
