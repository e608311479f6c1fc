package link

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/serialport"
	"tongban/drivers/simport"
)

var line = serialport.Line{Baud: 9600, DataBits: 8, Parity: "none", StopBits: 1}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMissingUnplugReplug runs a session over a real pty: the device is
// missing at start, appears, is unplugged and comes back on a new pty.
func TestMissingUnplugReplug(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev")
	mon := device.NewMonitor("dev", "test", path)
	var sessions, answered atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Config{Path: path, Line: line, MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, Monitor: mon},
			func(ctx context.Context, port serialport.Port) (bool, error) {
				sessions.Add(1)
				mon.Set(device.Online, "")
				if err := port.SetReadTimeout(20 * time.Millisecond); err != nil {
					return false, err
				}
				buf := make([]byte, 16)
				got := false
				for ctx.Err() == nil {
					n, err := port.Read(buf)
					if n > 0 && !got {
						got = true
						answered.Add(1)
					}
					if err != nil {
						return got, fmt.Errorf("read: %w", err)
					}
				}
				return got, nil
			})
	}()

	waitFor(t, "noDevice at start", func() bool {
		h := mon.Health()
		return h.State == device.NoDevice && h.Detail == "port not present" && h.LastError != ""
	})
	ep, err := simport.Open(path, line)
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	waitFor(t, "first session", func() bool { return sessions.Load() == 1 && mon.Health().State == device.Online })
	if _, err := ep.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "an answer", func() bool { return answered.Load() == 1 })

	ep.Unplug()
	waitFor(t, "noDevice after unplug", func() bool { return mon.Health().State == device.NoDevice })
	if c := mon.Health().Counters[CounterReconnects]; c != 1 {
		t.Errorf("reconnects %d, want 1", c)
	}
	if err := ep.Replug(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second session", func() bool { return sessions.Load() == 2 && mon.Health().State == device.Online })

	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if h := mon.Health(); h.State != device.Offline || h.Detail != "stopped" {
		t.Errorf("after cancel: %s %q", h.State, h.Detail)
	}
}

// TestOpenErrorIsOffline: a path that exists but is no serial port is
// offline with the reason, not noDevice.
func TestOpenErrorIsOffline(t *testing.T) {
	dir := t.TempDir() // a directory: it exists, but opening it as a tty fails
	mon := device.NewMonitor("dev", "test", dir)
	var states []string
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Config{Path: dir, Line: line, MinBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond, Monitor: mon,
			SetState: func(s device.State, detail string) {
				states = append(states, string(s)+": "+detail)
				mon.Set(s, detail)
			}},
			func(context.Context, serialport.Port) (bool, error) { return false, errors.New("unreachable") })
	}()
	waitFor(t, "offline", func() bool { return mon.Health().State == device.Offline })
	cancel()
	<-done
	if !strings.HasPrefix(states[0], "offline: cannot open port: ") {
		t.Errorf("states %q", states)
	}
}

// TestBackoff: the ceiling doubles up to the cap, every wait lies in the
// upper half of its ceiling, and waits differ (jitter).
func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: 800 * time.Millisecond}
	ceilings := []time.Duration{100, 200, 400, 800, 800, 800}
	seen := map[time.Duration]bool{}
	for round := 0; round < 50; round++ {
		b.reset()
		for i, c := range ceilings {
			c *= time.Millisecond
			w := b.next()
			if w < c/2 || w > c {
				t.Fatalf("wait %d = %v, want within [%v, %v]", i, w, c/2, c)
			}
			seen[w] = true
		}
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct waits: no jitter", len(seen))
	}
	if w := (&backoff{}).next(); w != 0 {
		t.Errorf("zero backoff waits %v", w)
	}
}
