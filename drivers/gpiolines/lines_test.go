package gpiolines_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"tongban/drivers/device"
	"tongban/drivers/gpiolines"
	"tongban/drivers/gpiolines/sim"
)

type recorder struct {
	mu     sync.Mutex
	events []gpiolines.Event
}

func (r *recorder) handle(ev gpiolines.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) of(input string, initial bool) []gpiolines.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []gpiolines.Event
	for _, ev := range r.events {
		if ev.Input == input && ev.Initial == initial {
			out = append(out, ev)
		}
	}
	return out
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// The test cabinet: a door contact and a tamper switch (normally closed to
// ground with a pull-up: the condition reads High), a presence sensor
// that pulls its output low, and three lights, one with a sinking driver.
func testConfig(b *sim.Board) gpiolines.Config {
	return gpiolines.Config{
		Inputs: []gpiolines.Input{
			{Name: "door", Kind: gpiolines.Door, Line: "GPIO5", Debounce: 30 * time.Millisecond},
			{Name: "tamper", Kind: gpiolines.Tamper, Line: "GPIO6", Debounce: 30 * time.Millisecond},
			{Name: "presence", Kind: gpiolines.Presence, Line: "GPIO13", ActiveLow: true, Pull: "none", Debounce: 30 * time.Millisecond},
		},
		Lights: []gpiolines.LightConfig{
			{Name: "cardSlot", Line: "GPIO20"},
			{Name: "noteSlot", Line: "GPIO21"},
			{Name: "printer", Line: "GPIO26", ActiveLow: true},
		},
		Open: b.Open, Poll: 20 * time.Millisecond,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		Logger: testLogger(),
	}
}

type rig struct {
	t                      *testing.T
	ctx                    context.Context
	cancel                 context.CancelFunc
	board                  *sim.Board
	door, tamper, presence *sim.Switch
	lines                  *gpiolines.Lines
	rec                    *recorder
	done                   chan struct{}
}

func newRig(t *testing.T, setup func(*rig)) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := sim.NewBoard("GPIO20", "GPIO21", "GPIO26")
	r := &rig{t: t, ctx: ctx, cancel: cancel, board: b, rec: &recorder{}, done: make(chan struct{}),
		door: b.Switch("GPIO5", false), tamper: b.Switch("GPIO6", false), presence: b.Switch("GPIO13", true)}
	cfg := testConfig(b)
	l, err := gpiolines.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.lines = l
	if setup != nil {
		setup(r)
	}
	go func() {
		defer close(r.done)
		if err := l.Run(ctx, r.rec.handle); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *rig) stop() {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		r.t.Error("Run did not stop")
	}
}

func (r *rig) waitState(s device.State, detail string) {
	r.t.Helper()
	waitFor(r.t, 5*time.Second, string(s)+" "+detail, func() bool {
		h := r.lines.Health()
		return h.State == s && h.Detail == detail
	})
}

func (r *rig) set(sw *sim.Switch, active bool) time.Time {
	r.t.Helper()
	at := time.Now()
	if err := sw.Set(r.ctx, active); err != nil {
		r.t.Fatal(err)
	}
	return at
}

func TestDoorOpenClose(t *testing.T) {
	r := newRig(t, nil)
	r.waitState(device.Online, "")
	if init := r.rec.of("door", true); len(init) != 1 || init[0].Event != gpiolines.Closed {
		t.Fatalf("initial door event %v", init)
	}
	opened := r.set(r.door, true)
	r.waitState(device.UserError, "door open")
	evs := r.rec.of("door", false)
	if len(evs) != 1 || evs[0].Event != gpiolines.Opened || evs[0].Kind != gpiolines.Door || !evs[0].Active {
		t.Fatalf("events %v", evs)
	}
	if d := evs[0].At.Sub(opened); d < 0 || d > 20*time.Millisecond {
		t.Fatalf("event stamped %v after the door moved", d)
	}
	if a, ok := r.lines.Active("door"); !a || !ok {
		t.Fatal("Active(door) false")
	}
	r.set(r.door, false)
	r.waitState(device.Online, "")
	if evs := r.rec.of("door", false); len(evs) != 2 || evs[1].Event != gpiolines.Closed {
		t.Fatalf("events %v", evs)
	}
	if c := r.lines.Health().Counters[gpiolines.CounterDoorOpened]; c != 1 {
		t.Fatalf("doorOpened %d", c)
	}
}

func TestBounceGivesOneEvent(t *testing.T) {
	r := newRig(t, nil)
	r.waitState(device.Online, "")
	r.door.SetBounce(4, 2*time.Millisecond)
	opened := r.set(r.door, true)
	r.waitState(device.UserError, "door open")
	time.Sleep(100 * time.Millisecond)
	evs := r.rec.of("door", false)
	if len(evs) != 1 {
		t.Fatalf("bounce gave %d events: %v", len(evs), evs)
	}
	if d := evs[0].At.Sub(opened); d < 0 || d > 10*time.Millisecond {
		t.Fatalf("event stamped %v after the first edge, want the first edge", d)
	}
}

func TestGlitchIgnored(t *testing.T) {
	r := newRig(t, nil)
	r.waitState(device.Online, "")
	if err := r.door.Glitch(r.ctx, 3*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := r.presence.Glitch(r.ctx, 3*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "glitches counted", func() bool {
		return r.lines.Health().Counters[gpiolines.CounterGlitches] == 2
	})
	time.Sleep(60 * time.Millisecond)
	if evs := append(r.rec.of("door", false), r.rec.of("presence", false)...); len(evs) != 0 {
		t.Fatalf("glitches reported: %v", evs)
	}
	if h := r.lines.Health(); h.State != device.Online {
		t.Fatalf("health %+v", h)
	}
}

func TestTamperLatches(t *testing.T) {
	r := newRig(t, nil)
	r.waitState(device.Online, "")
	r.set(r.door, true)
	r.waitState(device.UserError, "door open")
	r.set(r.tamper, true)
	r.waitState(device.HardwareError, "tamper") // tamper outranks the door
	if evs := r.rec.of("tamper", false); len(evs) != 1 || evs[0].Event != gpiolines.Triggered {
		t.Fatalf("events %v", evs)
	}
	if err := r.lines.ClearTamper(); !errors.Is(err, gpiolines.ErrTamperActive) {
		t.Fatalf("ClearTamper while active: %v", err)
	}
	r.set(r.tamper, false)
	waitFor(t, 2*time.Second, "tamper cleared event", func() bool { return len(r.rec.of("tamper", false)) == 2 })
	if h := r.lines.Health(); h.State != device.HardwareError || h.Detail != "tamper" || h.LastError == "" {
		t.Fatalf("latch lost: %+v", h)
	}
	if err := r.lines.ClearTamper(); err != nil {
		t.Fatal(err)
	}
	r.waitState(device.UserError, "door open")
	r.set(r.door, false)
	r.waitState(device.Online, "")
}

func TestPresence(t *testing.T) {
	r := newRig(t, nil)
	r.waitState(device.Online, "")
	r.set(r.presence, true)
	waitFor(t, 2*time.Second, "triggered", func() bool { return len(r.rec.of("presence", false)) == 1 })
	if r.board.Level("GPIO13") != gpio.Low {
		t.Fatal("presence sensor should pull its line low")
	}
	r.set(r.presence, false)
	waitFor(t, 2*time.Second, "cleared", func() bool { return len(r.rec.of("presence", false)) == 2 })
	evs := r.rec.of("presence", false)
	if evs[0].Event != gpiolines.Triggered || evs[1].Event != gpiolines.Cleared || !evs[1].At.After(evs[0].At) {
		t.Fatalf("events %v", evs)
	}
	if h := r.lines.Health(); h.State != device.Online {
		t.Fatalf("presence changed health: %+v", h)
	}
}

func TestDoorOpenAtStart(t *testing.T) {
	r := newRig(t, func(r *rig) {
		if err := r.door.Set(context.Background(), true); err != nil {
			t.Fatal(err)
		}
	})
	r.waitState(device.UserError, "door open")
	if init := r.rec.of("door", true); len(init) != 1 || init[0].Event != gpiolines.Opened {
		t.Fatalf("initial %v", init)
	}
	if evs := r.rec.of("door", false); len(evs) != 0 {
		t.Fatalf("stale edges reported as changes: %v", evs)
	}
}

func TestMissingLinesRetried(t *testing.T) {
	r := newRig(t, func(r *rig) { r.board.SetMissing("GPIO6", true); r.board.SetMissing("GPIO26", true) })
	r.waitState(device.HardwareError, "lines missing: tamper, printer")
	r.board.SetMissing("GPIO6", false)
	r.board.SetMissing("GPIO26", false)
	r.waitState(device.Online, "")
	if c := r.lines.Health().Counters[gpiolines.CounterLineErrors]; c < 2 {
		t.Fatalf("lineErrors %d", c)
	}
	r.set(r.tamper, true)
	r.waitState(device.HardwareError, "tamper")
}

func TestNoLinesAtAll(t *testing.T) {
	b := sim.NewBoard() // a machine without GPIO
	cfg := testConfig(b)
	l, err := gpiolines.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx, nil) }()
	waitFor(t, 2*time.Second, "noDevice", func() bool {
		h := l.Health()
		return h.State == device.NoDevice && h.LastError != ""
	})
	if err := l.Light("cardSlot").On(); !errors.Is(err, gpiolines.ErrNotConnected) {
		t.Fatalf("On without a line: %v", err)
	}
	cancel()
	<-done
	if h := l.Health(); h.State != device.Offline {
		t.Fatalf("after stop: %+v", h)
	}
}

func TestLights(t *testing.T) {
	var early error
	r := newRig(t, func(r *rig) {
		// Asked before the line is open: kept and applied on open.
		early = r.lines.Light("noteSlot").On()
	})
	if !errors.Is(early, gpiolines.ErrNotConnected) {
		t.Fatalf("On before Run: %v", early)
	}
	r.waitState(device.Online, "")
	if r.board.Level("GPIO21") != gpio.High {
		t.Fatal("noteSlot not lit after its line opened")
	}
	card, printer := r.lines.Light("cardSlot"), r.lines.Light("printer")
	if r.board.Level("GPIO20") != gpio.Low || r.board.Level("GPIO26") != gpio.High {
		t.Fatal("lights not off at start (printer is active-low)")
	}
	if err := printer.On(); err != nil || r.board.Level("GPIO26") != gpio.Low {
		t.Fatalf("printer On: %v level %v", err, r.board.Level("GPIO26"))
	}
	if err := card.Blink(40 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if !card.Blinking() {
		t.Fatal("no blink goroutine")
	}
	var levels []gpio.Level
	for range 20 {
		levels = append(levels, r.board.Level("GPIO20"))
		time.Sleep(10 * time.Millisecond)
	}
	if !slices.Contains(levels, gpio.High) || !slices.Contains(levels, gpio.Low) {
		t.Fatalf("not blinking: %v", levels)
	}
	if s, p := card.State(); s != gpiolines.LightBlink || p != 40*time.Millisecond {
		t.Fatalf("state %s %v", s, p)
	}
	if err := card.Off(); err != nil {
		t.Fatal(err)
	}
	if card.Blinking() {
		t.Fatal("blink goroutine still running after Off")
	}
	for range 6 {
		if r.board.Level("GPIO20") != gpio.Low || card.Lit() {
			t.Fatal("light came back on after Off")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := card.Blink(time.Microsecond); err != nil { // clamped, not a busy loop
		t.Fatal(err)
	}
	if _, p := card.State(); p != gpiolines.MinBlinkPeriod {
		t.Fatalf("period %v", p)
	}
	r.stop()
	if card.Blinking() || r.board.Level("GPIO20") != gpio.Low || r.board.Level("GPIO21") != gpio.Low || r.board.Level("GPIO26") != gpio.High {
		t.Fatal("lights not off, or still blinking, after Run ended")
	}
	if r.lines.Light("nope") != nil {
		t.Fatal("unknown light found")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []gpiolines.Config{
		{},
		{Inputs: []gpiolines.Input{{Name: "door", Kind: "window", Line: "GPIO5"}}},
		{Inputs: []gpiolines.Input{{Name: "door", Kind: gpiolines.Door, Line: "GPIO5", Pull: "sideways"}}},
		{Inputs: []gpiolines.Input{{Name: "door", Kind: gpiolines.Door, Line: "GPIO5"}}, Lights: []gpiolines.LightConfig{{Name: "door", Line: "GPIO6"}}},
		{Inputs: []gpiolines.Input{{Name: "door", Kind: gpiolines.Door, Line: "GPIO5"}}, Lights: []gpiolines.LightConfig{{Name: "lamp", Line: "GPIO5"}}},
		{Lights: []gpiolines.LightConfig{{Name: "lamp"}}},
	} {
		if _, err := gpiolines.New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	for s, want := range map[string]gpio.Pull{"": gpio.PullUp, "up": gpio.PullUp, "down": gpio.PullDown, "none": gpio.Float, "keep": gpio.PullNoChange} {
		if p, err := gpiolines.ParsePull(s); err != nil || p != want {
			t.Errorf("ParsePull(%q) = %v, %v", s, p, err)
		}
	}
}

// This VM and CI have no GPIO chips: Open must say so clearly.
func TestOpenWithoutGPIO(t *testing.T) {
	if m, _ := filepath.Glob("/dev/gpiochip*"); len(m) > 0 {
		t.Skip("this machine has GPIO chips")
	}
	_, err := gpiolines.Open("GPIO17")
	if !errors.Is(err, gpiolines.ErrNoGPIO) {
		t.Fatalf("Open: %v, want ErrNoGPIO", err)
	}
	t.Log(err)
	if _, err := gpiolines.Open(" "); err == nil {
		t.Fatal("empty name accepted")
	}
}
