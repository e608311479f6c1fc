package pulse_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/drivers/gpiowait"
	"tongban/drivers/pulse"
	"tongban/drivers/pulse/sim"
)

// haltPin is a test line that, like a real one, ends a pending
// WaitForEdge on Halt, and counts the waits (each one is a wakeup).
type haltPin struct {
	*gpiotest.Pin
	h     *gpiowait.Halter
	waits atomic.Int64
}

func (p *haltPin) Halt() error { return p.h.Halt() }

func (p *haltPin) WaitForEdge(timeout time.Duration) bool {
	p.waits.Add(1)
	return p.h.Wait(p.Pin, timeout)
}

// idleRig runs the driver with the default (long) idle wait.
func idleRig(t *testing.T) (*haltPin, *sim.Acceptor, *pulse.Driver, *recorder, context.CancelFunc, chan struct{}) {
	t.Helper()
	in := &gpiotest.Pin{N: "GPIO17", Num: 17, Clock: clockwork.NewRealClock()}
	pin := &haltPin{Pin: in, h: gpiowait.NewHalter()}
	cfg := testConfig
	cfg.Poll = 0 // the default idle wait
	cfg.Pin = pin
	cfg.Logger = testLogger()
	acc := sim.New(in, sim.Config{ActiveLow: cfg.ActiveLow, Timing: testTiming, Logger: testLogger()})
	drv := pulse.New(cfg)
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := drv.Run(ctx, rec.handle); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return pin, acc, drv, rec, cancel, done
}

// An idle acceptor waits for an edge without a short poll, still credits
// a coin at once, and stops at once (the wait is halted).
func TestIdleWaitHasNoShortPoll(t *testing.T) {
	pin, acc, drv, rec, cancel, done := idleRig(t)
	drv.Enable([]int64{30})
	waitFor(t, 5*time.Second, "accepting", func() bool { return drv.Health().Detail == "accepting" })
	before := pin.waits.Load()
	time.Sleep(time.Second)
	if n := pin.waits.Load() - before; n > 1 {
		t.Fatalf("%d waits for an edge in an idle second, want at most 1", n)
	}
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := acc.Insert(ctx, 3); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "credit", func() bool { return len(rec.credits()) == 1 })
	if v := rec.credits()[0].Value; v != 30 {
		t.Fatalf("credited %d fen", v)
	}
	time.Sleep(200 * time.Millisecond) // back to the idle wait
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Run did not stop within 1s: the idle wait was not halted")
	}
	t.Logf("stopped in %v", time.Since(start))
	if h := drv.Health(); h.State != device.Offline {
		t.Fatalf("after stop %s", h.State)
	}
}

// A line that goes active and stays (a jammed coin) turns stuck after
// MaxWidth, though the idle wait is long.
func TestStuckSeenWithLongIdleWait(t *testing.T) {
	_, acc, drv, rec, _, _ := idleRig(t)
	drv.Enable([]int64{30})
	waitFor(t, 5*time.Second, "accepting", func() bool { return drv.Health().Detail == "accepting" })
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	start := time.Now()
	if err := acc.SetStuck(ctx, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, testConfig.MaxWidth+time.Second, "stuck", func() bool {
		h := drv.Health()
		return h.State == device.HardwareError && h.Detail == "input stuck active"
	})
	if d := time.Since(start); d < testConfig.MaxWidth {
		t.Fatalf("stuck after %v, before MaxWidth %v", d, testConfig.MaxWidth)
	}
	if err := acc.SetStuck(ctx, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "released", func() bool { return drv.Health().Detail == "accepting" })
	for _, ev := range rec.snapshot() {
		if ev.Kind == cash.Credited {
			t.Fatalf("a stuck line was credited: %v", ev)
		}
	}
}
