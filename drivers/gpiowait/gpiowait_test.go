package gpiowait_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"tongban/drivers/gpiowait"
)

func testPin() *gpiotest.Pin {
	return &gpiotest.Pin{N: "GPIO5", Clock: clockwork.NewRealClock(), EdgesChan: make(chan gpio.Level, 4)}
}

func TestHalterWaitTakesEdgeAndSetsLevel(t *testing.T) {
	p, h := testPin(), gpiowait.NewHalter()
	p.EdgesChan <- gpio.High
	if !h.Wait(p, -1) {
		t.Fatal("queued edge not taken")
	}
	if p.Read() != gpio.High {
		t.Fatal("level not set from the edge")
	}
	start := time.Now()
	if h.Wait(p, 30*time.Millisecond) {
		t.Fatal("edge reported with none sent")
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("timed out after %v, want 30ms", d)
	}
}

// -1 waits with no timeout, and Halt ends that wait.
func TestHalterHaltEndsAnEndlessWait(t *testing.T) {
	p, h := testPin(), gpiowait.NewHalter()
	got := make(chan bool)
	go func() { got <- h.Wait(p, -1) }()
	select {
	case <-got:
		t.Fatal("an endless wait returned by itself")
	case <-time.After(100 * time.Millisecond):
	}
	h.Halt()
	select {
	case ok := <-got:
		if ok {
			t.Fatal("a halted wait reported an edge")
		}
	case <-time.After(time.Second):
		t.Fatal("Halt did not end the wait")
	}
}

// haltCounter is a line whose Halt only counts and, like gpioioctl, is
// lost when it lands before the wait starts.
type haltCounter struct{ n atomic.Int64 }

func (h *haltCounter) Halt() error { h.n.Add(1); return nil }

// HaltOnDone halts on ctx's end and keeps halting until stopped (a halt
// may be lost just before a wait starts); stop ends it, and a stop before
// ctx ends halts nothing.
func TestHaltOnDoneRepeatsUntilStopped(t *testing.T) {
	h := &haltCounter{}
	ctx, cancel := context.WithCancel(context.Background())
	stop := gpiowait.HaltOnDone(ctx, h)
	time.Sleep(50 * time.Millisecond)
	if h.n.Load() != 0 {
		t.Fatal("halted before ctx ended")
	}
	cancel()
	deadline := time.Now().Add(2 * time.Second)
	for h.n.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("halted %d times, want repeats until stopped", h.n.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	n := h.n.Load()
	time.Sleep(100 * time.Millisecond)
	if m := h.n.Load(); m > n+1 {
		t.Fatalf("still halting after stop: %d then %d", n, m)
	}

	h2 := &haltCounter{}
	ctx2, cancel2 := context.WithCancel(context.Background())
	gpiowait.HaltOnDone(ctx2, h2)()
	cancel2()
	time.Sleep(50 * time.Millisecond)
	if h2.n.Load() != 0 {
		t.Fatal("halted after stop")
	}
}
