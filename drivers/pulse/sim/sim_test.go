package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// collect records every level sent on the pin until stop is closed.
func collect(pin *gpiotest.Pin, stop chan struct{}) chan []gpio.Level {
	out := make(chan []gpio.Level, 1)
	go func() {
		var got []gpio.Level
		for {
			select {
			case l := <-pin.EdgesChan:
				got = append(got, l)
			case <-stop:
				out <- got
				return
			}
		}
	}()
	return out
}

func fast() Timing {
	return Timing{Width: time.Millisecond, Gap: 4 * time.Millisecond, Pause: time.Millisecond}
}

func TestEdges(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(*Acceptor)
		run   func(*Acceptor) error
		want  int // edges
	}{
		{"three pulses", nil, func(a *Acceptor) error { return a.Insert(ctx, 3) }, 6},
		{"bounce twice per edge", func(a *Acceptor) { a.SetBounce(2, 100*time.Microsecond) }, func(a *Acceptor) error { return a.Insert(ctx, 3) }, 6 * 5},
		{"glitch in each gap", func(a *Acceptor) { a.SetGapGlitches(time.Millisecond / 2) }, func(a *Acceptor) error { return a.Insert(ctx, 3) }, 6 + 2*2},
		{"cut after two", nil, func(a *Acceptor) error { return a.InsertCut(ctx, 10, 2) }, 4},
		{"lone glitch", nil, func(a *Acceptor) error { return a.Glitch(ctx, time.Millisecond) }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pin := &gpiotest.Pin{N: "P", Clock: clockwork.NewRealClock()}
			a := New(pin, Config{ActiveLow: true, Timing: fast()})
			if pin.Read() != gpio.High {
				t.Fatal("active-low line not idle high")
			}
			if tc.setup != nil {
				tc.setup(a)
			}
			stop := make(chan struct{})
			got := collect(pin, stop)
			if err := tc.run(a); err != nil {
				t.Fatal(err)
			}
			close(stop)
			levels := <-got
			if len(levels) != tc.want || levels[0] != gpio.Low || levels[len(levels)-1] != gpio.High {
				t.Fatalf("%d edges %v, want %d from low to high", len(levels), levels, tc.want)
			}
		})
	}
}

func TestStuckAndCancel(t *testing.T) {
	pin := &gpiotest.Pin{N: "P", Clock: clockwork.NewRealClock()}
	a := New(pin, Config{Timing: fast()}) // active high
	stop := make(chan struct{})
	got := collect(pin, stop)
	ctx := context.Background()
	if err := a.SetStuck(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := a.Insert(ctx, 1); !errors.Is(err, ErrStuck) {
		t.Fatalf("insert while stuck: %v", err)
	}
	if err := a.SetStuck(ctx, false); err != nil {
		t.Fatal(err)
	}
	close(stop)
	if levels := <-got; len(levels) != 2 || levels[0] != gpio.High {
		t.Fatalf("%v", levels)
	}
	// Nobody reads the line: a send waits until ctx ends.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := a.Insert(cctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("insert with no reader: %v", err)
	}
	if p, tr := a.Sent(); p != 0 || tr != 0 {
		t.Fatalf("sent %d %d", p, tr)
	}
}
