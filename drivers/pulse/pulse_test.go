package pulse_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/drivers/pulse"
	"tongban/drivers/pulse/sim"
)

// Test timing: shorter than the real §3d figures to keep the tests quick,
// with the same proportions (glitches far below denoise, gaps far below
// the train timeout, the pause above it).
var (
	testTiming = sim.Timing{Width: 25 * time.Millisecond, Gap: 25 * time.Millisecond, Pause: 200 * time.Millisecond}
	testConfig = pulse.Config{
		Name: "coinAcceptor", ValuePerPulse: 10, ActiveLow: true,
		Denoise: 8 * time.Millisecond, Debounce: 10 * time.Millisecond, TrainTimeout: 120 * time.Millisecond,
		MaxWidth: 400 * time.Millisecond, Poll: 20 * time.Millisecond,
	}
)

type recorder struct {
	mu     sync.Mutex
	events []cash.Event
}

func (r *recorder) handle(ev cash.Event) cash.Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return cash.Return
}

func (r *recorder) snapshot() []cash.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) credits() []cash.Event {
	var out []cash.Event
	for _, ev := range r.snapshot() {
		if ev.Kind == cash.Credited {
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

type rig struct {
	t       *testing.T
	ctx     context.Context
	cancel  context.CancelFunc
	in      *gpiotest.Pin
	inhibit *gpiotest.Pin
	sim     *sim.Acceptor
	drv     *pulse.Driver
	rec     *recorder
	done    chan struct{}
}

func newRig(t *testing.T, cfg pulse.Config) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// Clock is set here: gpiotest fills a nil Clock lazily without a lock.
	r := &rig{t: t, ctx: ctx, cancel: cancel, rec: &recorder{}, done: make(chan struct{}),
		in:      &gpiotest.Pin{N: "GPIO17", Num: 17, Clock: clockwork.NewRealClock()},
		inhibit: &gpiotest.Pin{N: "GPIO27", Num: 27, Clock: clockwork.NewRealClock(), L: gpio.High},
	}
	r.sim = sim.New(r.in, sim.Config{ActiveLow: cfg.ActiveLow, Timing: testTiming, Logger: testLogger()})
	if cfg.Pin == nil {
		cfg.Pin = r.in
	}
	cfg.InhibitPin = r.inhibit
	cfg.Logger = testLogger()
	r.drv = pulse.New(cfg)
	go func() {
		defer close(r.done)
		if err := r.drv.Run(ctx, r.rec.handle); err != nil {
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
		h := r.drv.Health()
		return h.State == s && h.Detail == detail
	})
}

func (r *rig) insert(n int) {
	r.t.Helper()
	if err := r.sim.Insert(r.ctx, n); err != nil {
		r.t.Fatalf("insert: %v", err)
	}
}

// settle waits long enough for any late train to have been reported.
func settle() { time.Sleep(250 * time.Millisecond) }

func TestOneYuanCoinCreditedOnce(t *testing.T) {
	r := newRig(t, testConfig)
	r.waitState(device.Online, "inhibited")
	r.drv.Enable([]int64{100})
	r.waitState(device.Online, "accepting")
	if r.inhibit.Read() != gpio.High {
		t.Fatal("inhibit output still at the inhibit level after Enable")
	}
	r.insert(10) // 1 yuan at 10 fen per pulse; returns after the 200 ms pause
	// The train ends TrainTimeout (120 ms) after the last pulse, inside
	// the pause: the credit must not wait for anything else.
	waitFor(t, 100*time.Millisecond, "credit right after the train", func() bool { return len(r.rec.credits()) == 1 })
	settle()
	evs := r.rec.snapshot()
	if len(evs) != 2 || evs[0].Kind != cash.Credited || evs[0].Value != 100 || evs[1].Kind != cash.Stacked || evs[1].Value != 100 {
		t.Fatalf("events %v, want one credit and one stacked of 100 fen", evs)
	}
	if strings.Contains(evs[0].Detail, "disabled") {
		t.Fatalf("flagged while enabled: %q", evs[0].Detail)
	}
	c := r.drv.Health().Counters
	if c[pulse.CounterTrains] != 1 || c[pulse.CounterPulses] != 10 || c[pulse.CounterFen] != 100 {
		t.Fatalf("counters %v", c)
	}
}

func TestGlitchesIgnored(t *testing.T) {
	// The simulated line's timing is the scheduler's: a glitch is judged by
	// when the driver wakes to see its edges, so on a loaded machine a 2 ms
	// glitch could look 8 ms wide. A 1 ms glitch against a 10 ms denoise
	// keeps the margin (the gaps either side stay 12 ms, pulses 25 ms).
	cfg := testConfig
	cfg.Denoise = 10 * time.Millisecond
	r := newRig(t, cfg)
	r.drv.Enable([]int64{100})
	r.waitState(device.Online, "accepting")
	for range 3 {
		if err := r.sim.Glitch(r.ctx, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	settle()
	if evs := r.rec.snapshot(); len(evs) != 0 {
		t.Fatalf("glitches credited: %v", evs)
	}
	r.sim.SetGapGlitches(time.Millisecond)
	r.insert(10)
	waitFor(t, 3*time.Second, "credit", func() bool { return len(r.rec.credits()) == 1 })
	settle()
	if cr := r.rec.credits(); len(cr) != 1 || cr[0].Value != 100 {
		t.Fatalf("credits %v, want one of 100 fen", cr)
	}
	if g := r.drv.Health().Counters[pulse.CounterGlitches]; g != 3+9 {
		t.Fatalf("glitches counted %d, want 12", g)
	}
}

func TestBounceIgnored(t *testing.T) {
	r := newRig(t, testConfig)
	r.drv.Enable([]int64{100})
	r.waitState(device.Online, "accepting")
	r.sim.SetBounce(3, time.Millisecond)
	r.insert(10)
	waitFor(t, 3*time.Second, "credit", func() bool { return len(r.rec.credits()) == 1 })
	settle()
	if cr := r.rec.credits(); len(cr) != 1 || cr[0].Value != 100 {
		t.Fatalf("credits %v, want one of 100 fen", cr)
	}
	if g := r.drv.Health().Counters[pulse.CounterGlitches]; g < 10 {
		t.Fatalf("only %d bounce spikes seen: the fault did not happen", g)
	}
}

// A dropout in the middle of a pulse (the contact opens for a moment) is
// merged by Debounce, not counted twice. Active-high wiring here.
func TestDropoutMergedActiveHigh(t *testing.T) {
	cfg := testConfig
	cfg.ActiveLow = false
	cfg.Denoise, cfg.Debounce = 5*time.Millisecond, 20*time.Millisecond
	r := newRig(t, cfg)
	r.drv.Enable([]int64{100})
	r.waitState(device.Online, "accepting")
	// Bounce spikes of 10 ms pass Denoise (5 ms), so only Debounce (20 ms)
	// keeps each pulse from counting two or three times.
	r.sim.SetBounce(1, 10*time.Millisecond)
	r.sim.SetTiming(sim.Timing{Width: 25 * time.Millisecond, Gap: 40 * time.Millisecond, Pause: 200 * time.Millisecond})
	r.insert(5)
	waitFor(t, 3*time.Second, "credit", func() bool { return len(r.rec.credits()) == 1 })
	settle()
	if cr := r.rec.credits(); len(cr) != 1 || cr[0].Value != 50 {
		t.Fatalf("credits %v, want one of 50 fen", cr)
	}
	if b := r.drv.Health().Counters[pulse.CounterBounces]; b < 5 {
		t.Fatalf("bounces counted %d: the fault did not happen", b)
	}
}

func TestTwoCoinsBackToBack(t *testing.T) {
	r := newRig(t, testConfig)
	r.drv.Enable([]int64{50, 100})
	r.waitState(device.Online, "accepting")
	// The pause between the two trains (150 ms) is just over the train
	// timeout (120 ms).
	r.sim.SetTiming(sim.Timing{Width: 25 * time.Millisecond, Gap: 25 * time.Millisecond, Pause: 150 * time.Millisecond})
	r.insert(10)
	r.insert(5)
	waitFor(t, 3*time.Second, "two credits", func() bool { return len(r.rec.credits()) == 2 })
	settle()
	cr := r.rec.credits()
	if len(cr) != 2 || cr[0].Value != 100 || cr[1].Value != 50 {
		t.Fatalf("credits %v, want 100 then 50 fen", cr)
	}
}

func TestDisabledStillCountedAndFlagged(t *testing.T) {
	cfg := testConfig
	cfg.InhibitLevel = gpio.Low
	r := newRig(t, cfg)
	r.waitState(device.Online, "inhibited")
	if r.inhibit.Read() != gpio.Low {
		t.Fatal("inhibit output not driven at start")
	}
	r.drv.Enable([]int64{100})
	r.waitState(device.Online, "accepting")
	r.drv.Enable(nil)
	r.waitState(device.Online, "inhibited")
	if r.inhibit.Read() != gpio.Low {
		t.Fatal("inhibit output not driven by Enable(nil)")
	}
	r.insert(10) // the acceptor ignored its inhibit line: money went in
	waitFor(t, 3*time.Second, "credit", func() bool { return len(r.rec.credits()) == 1 })
	cr := r.rec.credits()
	if cr[0].Value != 100 || !strings.Contains(cr[0].Detail, "received while disabled") {
		t.Fatalf("credit %v, want 100 fen flagged as received while disabled", cr[0])
	}
	if n := r.drv.Health().Counters[pulse.CounterWhileDisabled]; n != 1 {
		t.Fatalf("whileDisabled %d", n)
	}
}

func TestCutTrainFlagged(t *testing.T) {
	cfg := testConfig
	cfg.Denominations = []int64{50, 100}
	r := newRig(t, cfg)
	r.drv.Enable([]int64{50, 100})
	r.waitState(device.Online, "accepting")
	if err := r.sim.InsertCut(r.ctx, 10, 4); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "credit", func() bool { return len(r.rec.credits()) == 1 })
	cr := r.rec.credits()
	if cr[0].Value != 40 || !strings.Contains(cr[0].Detail, "not a configured denomination") {
		t.Fatalf("credit %v, want the 4 pulses counted (40 fen) and flagged", cr[0])
	}
	if got := r.drv.Denominations(); !slices.Equal(got, []int64{50, 100}) {
		t.Fatalf("denominations %v", got)
	}
}

func TestStuckLine(t *testing.T) {
	r := newRig(t, testConfig)
	r.drv.Enable([]int64{100})
	r.waitState(device.Online, "accepting")
	if err := r.sim.SetStuck(r.ctx, true); err != nil {
		t.Fatal(err)
	}
	r.waitState(device.HardwareError, "input stuck active")
	r.drv.Enable([]int64{100}) // must not hide the fault
	if h := r.drv.Health(); h.State != device.HardwareError || h.LastError == "" {
		t.Fatalf("health %+v", h)
	}
	if err := r.sim.SetStuck(r.ctx, false); err != nil {
		t.Fatal(err)
	}
	r.waitState(device.Online, "accepting")
	settle()
	if evs := r.rec.snapshot(); len(evs) != 0 {
		t.Fatalf("a stuck line was credited: %v", evs)
	}
	r.insert(3)
	waitFor(t, 3*time.Second, "credit after release", func() bool { return len(r.rec.credits()) == 1 })
}

// Stopping the driver in the middle of a train credits what was counted.
func TestStopMidTrainCredits(t *testing.T) {
	r := newRig(t, testConfig)
	r.drv.Enable([]int64{100})
	r.waitState(device.Online, "accepting")
	ctx, cancel := context.WithTimeout(r.ctx, 160*time.Millisecond) // about 3 pulses
	defer cancel()
	_ = r.sim.Insert(ctx, 10)
	r.stop()
	cr := r.rec.credits()
	if len(cr) != 1 || cr[0].Value < 20 || cr[0].Value > 40 {
		t.Fatalf("credits %v, want the pulses counted before the stop", cr)
	}
	if r.inhibit.Read() != gpio.Low {
		t.Fatal("acceptor not inhibited after Run ended")
	}
	if h := r.drv.Health(); h.State != device.Offline {
		t.Fatalf("state %s after stop", h.State)
	}
}

func TestNoLine(t *testing.T) {
	cfg := testConfig
	cfg.Logger = testLogger()
	inhibit := &gpiotest.Pin{N: "GPIO27", L: gpio.High}
	cfg.InhibitPin = inhibit
	d := pulse.New(cfg) // Pin nil: the profile names a line this machine lacks
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, func(cash.Event) cash.Decision { return cash.Return }) }()
	waitFor(t, 2*time.Second, "noDevice", func() bool { return d.Health().State == device.NoDevice })
	d.Enable([]int64{100})
	if inhibit.Read() != gpio.Low {
		t.Fatal("acceptor released while nothing counts its pulses")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// flaky fails In a few times, as a line held by another process would.
type flaky struct {
	*gpiotest.Pin
	fails atomic.Int32
}

func (f *flaky) In(pull gpio.Pull, edge gpio.Edge) error {
	if f.fails.Add(-1) >= 0 {
		return errors.New("device or resource busy")
	}
	return f.Pin.In(pull, edge)
}

func TestLineRetriedWithBackoff(t *testing.T) {
	pin := &gpiotest.Pin{N: "GPIO22", Clock: clockwork.NewRealClock()}
	s := sim.New(pin, sim.Config{ActiveLow: true, Timing: testTiming})
	f := &flaky{Pin: pin}
	f.fails.Store(3)
	cfg := testConfig
	cfg.Pin = f
	cfg.ReconnectMin, cfg.ReconnectMax = 20*time.Millisecond, 50*time.Millisecond
	r := newRig(t, cfg)
	r.sim = s
	waitFor(t, 2*time.Second, "noDevice", func() bool { return r.drv.Health().State == device.NoDevice })
	r.waitState(device.Online, "inhibited")
	r.drv.Enable([]int64{100})
	r.insert(10)
	waitFor(t, 3*time.Second, "credit", func() bool { return len(r.rec.credits()) == 1 })
	if c := r.drv.Health().Counters[pulse.CounterLineErrors]; c != 3 {
		t.Fatalf("lineErrors %d", c)
	}
}

func TestConfigErrors(t *testing.T) {
	h := func(cash.Event) cash.Decision { return cash.Return }
	for _, cfg := range []pulse.Config{
		{ValuePerPulse: 0},
		{ValuePerPulse: 100, Debounce: time.Second},
	} {
		if err := pulse.New(cfg).Run(context.Background(), h); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	if err := pulse.New(testConfig).Run(context.Background(), nil); err == nil {
		t.Error("nil handler accepted")
	}
	c := pulse.New(pulse.Config{ValuePerPulse: 100, ActiveLow: true}).Config()
	if c.Pull != gpio.PullUp || c.TrainTimeout != 300*time.Millisecond || c.Denoise == 0 {
		t.Fatalf("defaults %+v", c)
	}
}
