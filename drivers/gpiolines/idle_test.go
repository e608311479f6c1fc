package gpiolines_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"tongban/drivers/device"
	"tongban/drivers/gpiolines"
	"tongban/drivers/gpiolines/sim"
)

// countingPin counts WaitForEdge calls: each is a wakeup of the watcher.
type countingPin struct {
	gpio.PinIO
	waits *atomic.Int64
}

func (p countingPin) WaitForEdge(timeout time.Duration) bool {
	p.waits.Add(1)
	return p.PinIO.WaitForEdge(timeout)
}

// idleLines runs the test cabinet with the given idle wait (0: default).
func idleLines(t *testing.T, poll time.Duration) (*sim.Board, *gpiolines.Lines, *recorder, *atomic.Int64, context.CancelFunc, chan struct{}) {
	t.Helper()
	b := sim.NewBoard("GPIO20", "GPIO21", "GPIO26")
	b.Switch("GPIO5", false)
	b.Switch("GPIO6", false)
	b.Switch("GPIO13", true)
	waits := &atomic.Int64{}
	cfg := testConfig(b)
	cfg.Poll = poll
	cfg.Open = func(name string) (gpio.PinIO, error) {
		p, err := b.Open(name)
		if err != nil {
			return nil, err
		}
		return countingPin{PinIO: p, waits: waits}, nil
	}
	l, err := gpiolines.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := l.Run(ctx, rec.handle); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitFor(t, 5*time.Second, "online", func() bool { return l.Health().State == device.Online })
	return b, l, rec, waits, cancel, done
}

// Idle inputs wait for an edge with no short poll (three inputs, at most
// one wait each in an idle second), still see a door at once, and stop at
// once: the wait is halted, not timed out.
func TestIdleInputsHaveNoShortPoll(t *testing.T) {
	b, l, rec, waits, cancel, done := idleLines(t, 0)
	time.Sleep(100 * time.Millisecond)
	before := waits.Load()
	time.Sleep(time.Second)
	if n := waits.Load() - before; n > 3 {
		t.Fatalf("%d waits for an edge in an idle second over 3 inputs, want at most 3", n)
	}
	door := b.Switch("GPIO5", false) // the same line, still inactive
	opened := time.Now()
	if err := door.Set(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "door open", func() bool { return l.Health().Detail == "door open" })
	if evs := rec.of("door", false); len(evs) != 1 || evs[0].At.Sub(opened) > 20*time.Millisecond {
		t.Fatalf("door events %v", evs)
	}
	time.Sleep(100 * time.Millisecond) // back to the idle wait
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Run did not stop within 1s: the idle wait was not halted")
	}
	t.Logf("stopped in %v", time.Since(start))
}

// A level change whose edge was lost (no edge reached the watcher) is
// caught when the idle wait ends and the line is read again, debounced
// like any other change.
func TestIdleRereadCatchesLostEdge(t *testing.T) {
	b, l, rec, _, _, _ := idleLines(t, 150*time.Millisecond)
	p := b.Pin("GPIO5")
	p.Lock()
	p.L = gpio.High // the door opened; its edge never came
	p.Unlock()
	waitFor(t, 2*time.Second, "door open from the re-read", func() bool { return l.Health().Detail == "door open" })
	if evs := rec.of("door", false); len(evs) != 1 || evs[0].Event != gpiolines.Opened {
		t.Fatalf("door events %v", evs)
	}
}
