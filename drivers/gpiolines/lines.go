// Package gpiolines drives the terminal's plain GPIO lines: switch and
// sensor inputs (cabinet door, tamper switch, presence sensor) and
// indicator lights (card slot, note slot, printer). Lines are named in the
// hardware profile and opened by name, with periph.io/x/host on a board
// (Open) or any other opener (periph's gpiotest pins in tests and demos).
//
// Inputs are watched with edge detection and a software debounce (the
// Linux GPIO character device offers no hardware debounce through periph,
// protocols.md §5.2) and reported as timestamped events to a callback.
// The set is one device in the XFS4IoT sense (like an Auxiliaries unit):
// its health is hardwareError "tamper" while a tamper is latched,
// userError "door open" while a door is open, and online otherwise; lines
// that cannot be opened are noDevice (none at all) or hardwareError
// (some), and are retried with backoff.
package gpiolines

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

	"tongban/drivers/device"
	"tongban/drivers/gpiowait"
)

// DriverName is the driver's name in device.Health and the profile.
const DriverName = "gpio"

// Kind is what an input senses. It decides the event names and how the
// input counts in the device's health.
type Kind string

const (
	Door     Kind = "door"     // active = door open
	Tamper   Kind = "tamper"   // active = tampered (latched until ClearTamper)
	Presence Kind = "presence" // active = someone in front of the terminal
)

// EventKind names a settled change.
type EventKind string

const (
	Opened    EventKind = "open"      // a door opened
	Closed    EventKind = "closed"    // a door closed
	Triggered EventKind = "triggered" // tamper or presence became active
	Cleared   EventKind = "cleared"   // tamper or presence became inactive
)

func eventKind(k Kind, active bool) EventKind {
	switch {
	case k == Door && active:
		return Opened
	case k == Door:
		return Closed
	case active:
		return Triggered
	}
	return Cleared
}

// Event is one settled input change.
type Event struct {
	Input  string    // the input's name in the profile
	Kind   Kind      // door, tamper, presence
	Event  EventKind // open, closed, triggered, cleared
	Active bool
	At     time.Time // first edge of the change (when the door moved)
	// Initial: the level found when the line was opened, not a change.
	Initial bool
}

// Counter names in Health().Counters.
const (
	CounterDoorOpened = "doorOpened"
	CounterTamper     = "tamper"
	CounterPresence   = "presence"
	CounterGlitches   = "glitches"   // bursts that settled back on the old level
	CounterLineErrors = "lineErrors" // failures to open or set up a line
)

// Defaults.
const (
	DefaultDebounce     = 50 * time.Millisecond
	DefaultPoll         = gpiowait.IdleWait
	DefaultReconnectMin = 500 * time.Millisecond
	DefaultReconnectMax = 30 * time.Second
	MinBlinkPeriod      = 20 * time.Millisecond
)

// Input is one input line in the profile.
type Input struct {
	Name string // unique, e.g. "door"
	Kind Kind
	Line string // GPIO line name, e.g. "GPIO5"
	// ActiveLow: the condition (door open, tampered, present) reads Low.
	// The usual switch wiring is a normally-closed contact to ground with a
	// pull-up, so the condition — or a cut wire — reads High: ActiveLow
	// false.
	ActiveLow bool
	// Pull: "up" (default), "down", "none" (bias off: external resistor)
	// or "keep" (leave as configured by the board).
	Pull     string
	Debounce time.Duration // default 50 ms
}

// LightConfig is one indicator output in the profile.
type LightConfig struct {
	Name      string // unique, e.g. "cardSlot", "noteSlot", "printer"
	Line      string
	ActiveLow bool // the light is lit when the line is Low (sinking driver)
}

// Config is the whole set.
type Config struct {
	Name   string // device name in Health; default "cabinet"
	Inputs []Input
	Lights []LightConfig
	// Open finds a line by name; default Open (periph host drivers).
	Open func(line string) (gpio.PinIO, error)

	// Poll is the longest single WaitForEdge while no switch is settling;
	// default gpiowait.IdleWait. Edges end the wait and stopping halts it,
	// so it only says how soon a missed edge is caught by re-reading.
	Poll         time.Duration
	ReconnectMin time.Duration // first retry of a line that failed to open
	ReconnectMax time.Duration
	Logger       *slog.Logger
}

// ParsePull maps a profile's pull setting to periph's.
func ParsePull(s string) (gpio.Pull, error) {
	switch strings.ToLower(s) {
	case "", "up":
		return gpio.PullUp, nil
	case "down":
		return gpio.PullDown, nil
	case "none", "float", "off":
		return gpio.Float, nil
	case "keep":
		return gpio.PullNoChange, nil
	}
	return gpio.PullNoChange, fmt.Errorf("pull %q: want up, down, none or keep", s)
}

func (c Config) validate() error {
	var errs []error
	names := map[string]bool{}
	lines := map[string]bool{}
	add := func(kind, name, line string) {
		if name == "" {
			errs = append(errs, fmt.Errorf("%s without a name", kind))
		} else if names[name] {
			errs = append(errs, fmt.Errorf("name %q used twice", name))
		}
		if line == "" {
			errs = append(errs, fmt.Errorf("%s %q: no line", kind, name))
		} else if lines[line] {
			errs = append(errs, fmt.Errorf("%s %q: line %q used twice", kind, name, line))
		}
		names[name], lines[line] = true, true
	}
	for _, in := range c.Inputs {
		add("input", in.Name, in.Line)
		switch in.Kind {
		case Door, Tamper, Presence:
		default:
			errs = append(errs, fmt.Errorf("input %q: kind %q: want door, tamper or presence", in.Name, in.Kind))
		}
		if _, err := ParsePull(in.Pull); err != nil {
			errs = append(errs, fmt.Errorf("input %q: %w", in.Name, err))
		}
		if in.Debounce < 0 {
			errs = append(errs, fmt.Errorf("input %q: negative debounce", in.Name))
		}
	}
	for _, l := range c.Lights {
		add("light", l.Name, l.Line)
	}
	if len(c.Inputs)+len(c.Lights) == 0 {
		errs = append(errs, errors.New("no lines configured"))
	}
	return errors.Join(errs...)
}

// input is the runtime state of one input.
type input struct {
	cfg  Input
	pull gpio.Pull
	// Guarded by Lines.mu:
	present bool // the line is open and watched
	active  bool // settled level
}

// Lines is the running set. Its methods are safe for concurrent use.
type Lines struct {
	cfg     Config
	log     *slog.Logger
	mon     *device.Monitor
	inputs  []*input
	lights  []*Light
	running atomic.Bool

	hmu sync.Mutex // serialises handler calls
	smu sync.Mutex // serialises health updates, so a stale one cannot land last

	mu       sync.Mutex
	tamper   bool            // latched
	presentL map[string]bool // light name → opened
}

// New checks the configuration and makes the set; nothing is opened
// until Run.
func New(cfg Config) (*Lines, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("gpiolines: %w", err)
	}
	cfg.Name = cmp.Or(cfg.Name, "cabinet")
	cfg.Poll = cmp.Or(cfg.Poll, DefaultPoll)
	cfg.ReconnectMin = cmp.Or(cfg.ReconnectMin, DefaultReconnectMin)
	cfg.ReconnectMax = max(cmp.Or(cfg.ReconnectMax, DefaultReconnectMax), cfg.ReconnectMin)
	if cfg.Open == nil {
		cfg.Open = Open
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var lineNames []string
	l := &Lines{cfg: cfg, presentL: map[string]bool{}}
	for _, in := range cfg.Inputs {
		in.Debounce = cmp.Or(in.Debounce, DefaultDebounce)
		pull, _ := ParsePull(in.Pull)
		l.inputs = append(l.inputs, &input{cfg: in, pull: pull})
		lineNames = append(lineNames, in.Line)
	}
	l.log = cfg.Logger.With("driver", DriverName, "name", cfg.Name)
	for _, lc := range cfg.Lights {
		l.lights = append(l.lights, newLight(lc, l.log))
		lineNames = append(lineNames, lc.Line)
	}
	l.mon = device.NewMonitor(cfg.Name, DriverName, strings.Join(lineNames, ","))
	for _, c := range []string{CounterDoorOpened, CounterTamper, CounterPresence} {
		l.mon.Count(c, 0)
	}
	return l, nil
}

// Health is the set's state and counters.
func (l *Lines) Health() device.Health { return l.mon.Health() }

// OnHealth registers a callback for state changes (it must not block).
func (l *Lines) OnHealth(f func(device.Health)) { l.mon.OnChange(f) }

// Light is the named indicator, or nil.
func (l *Lines) Light(name string) *Light {
	for _, lt := range l.lights {
		if lt.cfg.Name == name {
			return lt
		}
	}
	return nil
}

// Active is the settled level of the named input; ok is false if the
// input is unknown or its line is not open.
func (l *Lines) Active(name string) (active, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, in := range l.inputs {
		if in.cfg.Name == name {
			return in.active, in.present
		}
	}
	return false, false
}

// ErrTamperActive is returned by ClearTamper while a tamper line is still
// active.
var ErrTamperActive = errors.New("tamper switch still active")

// ClearTamper releases the tamper latch (staff acknowledged it). It fails
// while a tamper input is still active. The latch lives in memory: a
// restart with the switch back in place also clears it.
func (l *Lines) ClearTamper() error {
	l.mu.Lock()
	for _, in := range l.inputs {
		if in.cfg.Kind == Tamper && in.present && in.active {
			l.mu.Unlock()
			return fmt.Errorf("gpiolines %s: clear tamper %q: %w", l.cfg.Name, in.cfg.Name, ErrTamperActive)
		}
	}
	was := l.tamper
	l.tamper = false
	l.mu.Unlock()
	if was {
		l.log.Info("tamper latch cleared")
	}
	l.updateHealth()
	return nil
}

// updateHealth derives the state from the lines; priority: tamper, lines
// missing, door open.
func (l *Lines) updateHealth() {
	if !l.running.Load() {
		return
	}
	l.smu.Lock()
	defer l.smu.Unlock()
	l.mu.Lock()
	var missing, doors []string
	opened := 0
	for _, in := range l.inputs {
		if !in.present {
			missing = append(missing, in.cfg.Name)
			continue
		}
		opened++
		if in.cfg.Kind == Door && in.active {
			doors = append(doors, in.cfg.Name)
		}
	}
	for _, lt := range l.lights {
		if l.presentL[lt.cfg.Name] {
			opened++
		} else {
			missing = append(missing, lt.cfg.Name)
		}
	}
	tamper := l.tamper
	l.mu.Unlock()
	switch {
	case tamper:
		l.mon.Set(device.HardwareError, "tamper")
	case len(missing) > 0 && opened == 0:
		l.mon.Set(device.NoDevice, "no GPIO lines: "+strings.Join(missing, ", "))
	case len(missing) > 0:
		l.mon.Set(device.HardwareError, "lines missing: "+strings.Join(missing, ", "))
	case len(doors) > 0:
		l.mon.Set(device.UserError, "door open")
	default:
		l.mon.Set(device.Online, "")
	}
}

// Run opens every line (retrying missing ones with backoff), watches the
// inputs and drives the lights until ctx ends. h receives every event,
// one at a time, on a watcher goroutine; it must not block for long. Run
// returns nil when ctx ends; an error only for a second concurrent Run.
func (l *Lines) Run(ctx context.Context, h func(Event)) error {
	if !l.running.CompareAndSwap(false, true) {
		return errors.New("gpiolines: Run is already running")
	}
	if h == nil {
		h = func(Event) {}
	}
	l.mon.Set(device.Starting, "opening lines")
	var wg sync.WaitGroup
	for _, in := range l.inputs {
		wg.Go(func() { l.runInput(ctx, in, h) })
	}
	for _, lt := range l.lights {
		wg.Go(func() { l.runLight(ctx, lt) })
	}
	l.updateHealth()
	wg.Wait()
	l.mu.Lock()
	for _, in := range l.inputs {
		in.present = false
	}
	clear(l.presentL)
	l.mu.Unlock()
	l.smu.Lock()
	l.running.Store(false)
	l.mon.Set(device.Offline, "stopped")
	l.smu.Unlock()
	return nil
}

// retry waits the backoff; false when ctx ended.
func retry(ctx context.Context, wait *time.Duration, maxWait time.Duration) bool {
	t := time.NewTimer(*wait)
	defer t.Stop()
	*wait = min(*wait*2, maxWait)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (l *Lines) lineError(kind, name, line string, err error, first bool) {
	err = fmt.Errorf("gpiolines %s: %s %q on %q: %w", l.cfg.Name, kind, name, line, err)
	l.mon.Error(err)
	l.mon.Count(CounterLineErrors, 1)
	if first {
		l.log.Warn("line unavailable, retrying", "err", err)
	} else {
		l.log.Debug("line still unavailable", "err", err)
	}
}

func (l *Lines) runInput(ctx context.Context, in *input, h func(Event)) {
	wait := l.cfg.ReconnectMin
	for first := true; ctx.Err() == nil; first = false {
		pin, err := l.cfg.Open(in.cfg.Line)
		if err == nil {
			err = pin.In(in.pull, gpio.BothEdges)
		}
		if err != nil {
			l.lineError("input", in.cfg.Name, in.cfg.Line, err, first)
			if !retry(ctx, &wait, l.cfg.ReconnectMax) {
				return
			}
			continue
		}
		l.watch(ctx, in, pin, h)
		return
	}
}

// watch follows one input until ctx ends.
func (l *Lines) watch(ctx context.Context, in *input, pin gpio.PinIn, h func(Event)) {
	activeOf := func() bool { return bool(pin.Read()) != in.cfg.ActiveLow }
	deb := Debouncer{Window: in.cfg.Debounce}
	now := time.Now()
	deb.Reset(activeOf(), now)
	l.log.Info("input line open", "input", in.cfg.Name, "line", in.cfg.Line, "active", deb.Stable())
	l.settle(in, Event{Input: in.cfg.Name, Kind: in.cfg.Kind, Event: eventKind(in.cfg.Kind, deb.Stable()),
		Active: deb.Stable(), At: now, Initial: true}, h)
	glitches := 0
	// A door left shut for days costs a wakeup per Poll, not ten a second:
	// only a settling switch needs a short wait. Stopping halts the wait.
	defer gpiowait.HaltOnDone(ctx, pin)()
	for ctx.Err() == nil {
		timeout := l.cfg.Poll
		dl, settling := deb.Deadline()
		if settling {
			timeout = min(timeout, max(time.Millisecond, time.Until(dl)))
		}
		var ch Change
		var ok bool
		switch {
		case pin.WaitForEdge(timeout):
			ch, ok = deb.Sample(activeOf(), time.Now())
		case settling:
			ch, ok = deb.Tick(time.Now())
		default:
			// Idle and no edge: re-read the line, so an edge the line lost
			// (a full edge queue, a driver hiccup) is caught now and
			// debounced like any other.
			ch, ok = deb.Sample(activeOf(), time.Now())
		}
		if g := deb.Glitches(); g != glitches {
			l.mon.Count(CounterGlitches, int64(g-glitches))
			glitches = g
		}
		if ok {
			l.settle(in, Event{Input: in.cfg.Name, Kind: in.cfg.Kind, Event: eventKind(in.cfg.Kind, ch.Active),
				Active: ch.Active, At: ch.At}, h)
		}
	}
}

// settle records a settled level, updates health and calls the handler.
func (l *Lines) settle(in *input, ev Event, h func(Event)) {
	l.mu.Lock()
	in.present, in.active = true, ev.Active
	if in.cfg.Kind == Tamper && ev.Active && !l.tamper {
		l.tamper = true
	}
	l.mu.Unlock()
	if ev.Active {
		switch in.cfg.Kind {
		case Door:
			l.mon.Count(CounterDoorOpened, 1)
		case Tamper:
			l.mon.Count(CounterTamper, 1)
			l.mon.Error(fmt.Errorf("gpiolines %s: tamper %q triggered at %s", l.cfg.Name, in.cfg.Name, ev.At.Format(time.RFC3339Nano)))
		case Presence:
			l.mon.Count(CounterPresence, 1)
		}
	}
	lvl := slog.LevelInfo
	if in.cfg.Kind == Tamper && ev.Active {
		lvl = slog.LevelError
	} else if in.cfg.Kind == Presence {
		lvl = slog.LevelDebug
	}
	l.log.Log(context.Background(), lvl, "input", "input", ev.Input, "event", ev.Event, "at", ev.At, "initial", ev.Initial)
	l.updateHealth()
	l.hmu.Lock()
	defer l.hmu.Unlock()
	h(ev)
}

func (l *Lines) runLight(ctx context.Context, lt *Light) {
	wait := l.cfg.ReconnectMin
	for first := true; ctx.Err() == nil; first = false {
		pin, err := l.cfg.Open(lt.cfg.Line)
		if err == nil {
			err = lt.attach(pin)
		}
		if err != nil {
			l.lineError("light", lt.cfg.Name, lt.cfg.Line, err, first)
			if !retry(ctx, &wait, l.cfg.ReconnectMax) {
				return
			}
			continue
		}
		l.mu.Lock()
		l.presentL[lt.cfg.Name] = true
		l.mu.Unlock()
		l.updateHealth()
		<-ctx.Done()
		lt.detach()
		return
	}
}

// Names lists the configured inputs and lights, for diagnostics.
func (l *Lines) Names() (inputs, lights []string) {
	for _, in := range l.inputs {
		inputs = append(inputs, in.cfg.Name)
	}
	for _, lt := range l.lights {
		lights = append(lights, lt.cfg.Name)
	}
	return slices.Clip(inputs), slices.Clip(lights)
}
