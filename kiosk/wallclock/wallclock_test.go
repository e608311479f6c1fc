package wallclock

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// step sets the wall clock by stepping it one nanosecond (adjtimex
// ADJ_SETOFFSET; a step of zero changes nothing the kernel would tell),
// forward or back, so two steps leave it where it was.
func step(t *testing.T, forward bool) {
	t.Helper()
	tx := unix.Timex{Modes: unix.ADJ_SETOFFSET | unix.ADJ_NANO}
	tx.Time.Usec = 1 // nanoseconds, with ADJ_NANO
	if !forward {
		tx.Time.Sec, tx.Time.Usec = -1, 999_999_999
	}
	if _, err := unix.ClockAdjtime(unix.CLOCK_REALTIME, &tx); err != nil {
		if errors.Is(err, unix.EPERM) {
			t.Skip("stepping the clock needs CAP_SYS_TIME (root); the test runs as root in CI")
		}
		t.Fatal(err)
	}
}

func fds(t *testing.T) int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestWatchTellsOfAClockStep: nothing arrives while the clock runs on;
// a step is told at once, twice for two steps apart; ending the context
// closes the timer.
func TestWatchTellsOfAClockStep(t *testing.T) {
	before := fds(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c, err := Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c:
		t.Fatal("notice without a step")
	case <-time.After(300 * time.Millisecond):
	}
	for i := range 2 {
		step(t, i == 0)
		select {
		case <-c:
		case <-time.After(2 * time.Second):
			t.Fatalf("step %d not told", i+1)
		}
	}
	select {
	case <-c:
		t.Fatal("a notice more than the steps")
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	deadline := time.Now().Add(2 * time.Second)
	for fds(t) > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors before, %d after the context ended", before, fds(t))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
