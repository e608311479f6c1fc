package scanner_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/scanner"
	"tongban/drivers/scanner/codec"
	"tongban/drivers/scanner/sim"
	"tongban/drivers/simport"
)

// An idle scanner's read blocks with no timeout; stopping must still end
// it at once (the driver closes the port), not after some poll.
func TestIdleBlockingReadEndsOnStop(t *testing.T) {
	r := newRig(t, scanner.Config{}, &sim.Config{})
	r.waitState(device.Online, "")
	time.Sleep(300 * time.Millisecond) // well into the blocking read
	start := time.Now()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(time.Second):
		t.Fatal("Run did not stop within 1s of its context ending")
	}
	t.Logf("stopped in %v", time.Since(start))
	if h := r.drv.Health(); h.State != device.Offline || h.Detail != "stopped" {
		t.Fatalf("after stop: %s %q", h.State, h.Detail)
	}
}

// A cable pulled while the driver waits with no timeout fails the read by
// itself: the loss is seen at once, and the scanner is found again.
func TestIdleBlockingReadSeesUnplug(t *testing.T) {
	r := newRig(t, scanner.Config{}, &sim.Config{})
	r.waitState(device.Online, "")
	time.Sleep(300 * time.Millisecond)
	if err := r.sim.Unplug(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, time.Second, "port lost", func() bool { return r.drv.Health().State != device.Online })
	t.Logf("loss seen in %v", time.Since(start))
	if err := r.sim.Replug(); err != nil {
		t.Fatal(err)
	}
	r.waitState(device.Online, "")
	r.sim.Scan(wechat)
	if rd := r.next(); rd.Code.Text != wechat {
		t.Fatalf("after replug %q", rd.Code.Text)
	}
}

// A read whose suffix never comes is still cut off after the idle gap,
// although the driver reads with no timeout while nothing is half in.
func TestIdleBlockingReadStillTimesOutHalfRead(t *testing.T) {
	r := newRig(t, scanner.Config{IdleGap: 80 * time.Millisecond}, &sim.Config{})
	r.waitState(device.Online, "")
	r.sim.DropSuffixOnce()
	r.sim.Scan(wechat)
	waitFor(t, time.Second, "incomplete read counted", func() bool {
		return r.drv.Health().Counters[scanner.CounterIncomplete] == 1
	})
	r.sim.Scan(alipay)
	if rd := r.next(); rd.Code.Text != alipay {
		t.Fatalf("after a cut read %q", rd.Code.Text)
	}
}

// The device link re-pointed (a technician moved the scanner to another
// port) while the driver is blocked in a read: the session's context ends,
// which must end the read, and the driver opens the new target.
func TestIdleBlockingReadFollowsMovedLink(t *testing.T) {
	r := newRig(t, scanner.Config{}, &sim.Config{})
	r.waitState(device.Online, "")
	time.Sleep(300 * time.Millisecond)

	dir := t.TempDir()
	ep, err := simport.Open(filepath.Join(dir, "other"), scanner.DefaultLine())
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	s2 := sim.New(ep, sim.Config{Model: codec.ModelGeneric, Logger: slog.New(slog.DiscardHandler)})
	go s2.Run(r.ctx)
	tmp := filepath.Join(filepath.Dir(r.link), "moving")
	if err := os.Symlink(ep.Path(), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, r.link); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "reconnect to the new port", func() bool {
		return r.drv.Health().Counters[scanner.CounterReconnects] >= 1
	})
	r.waitState(device.Online, "")
	deadline := time.After(3 * time.Second)
	for {
		s2.Scan(receipt) // the new scanner's reads arrive once the driver is on it
		select {
		case rd := <-r.drv.Reads():
			if rd.Code.Text != receipt {
				t.Fatalf("from the new port %q", rd.Code.Text)
			}
			return
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("no read from the new port")
		}
	}
}

// Bench-free check that context.AfterFunc closing the port does not race
// with link closing it too: many quick stop cycles.
func TestIdleStopRepeatedly(t *testing.T) {
	for range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		link := filepath.Join(t.TempDir(), "tty")
		ep, err := simport.Open(link, scanner.DefaultLine())
		if err != nil {
			t.Fatal(err)
		}
		drv, err := scanner.New(scanner.Config{Path: link})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); drv.Run(ctx) }()
		waitFor(t, 3*time.Second, "online", func() bool { return drv.Health().State == device.Online })
		cancel()
		select {
		case <-done:
		case <-time.After(time.Second):
			t.Fatal("Run did not stop")
		}
		ep.Close()
	}
}

// With no suffix a read ends when the line goes quiet: the driver times
// its read out only while a read is half in, then blocks again.
func TestIdleGapFramesSuffixlessReads(t *testing.T) {
	r := newRig(t, scanner.Config{Suffix: "none", IdleGap: 60 * time.Millisecond}, &sim.Config{Suffix: []byte{}})
	r.waitState(device.Online, "")
	for _, code := range []string{wechat, receipt} {
		time.Sleep(200 * time.Millisecond) // idle: blocked with no timeout
		r.sim.Scan(code)
		if rd := r.next(); rd.Code.Text != code {
			t.Fatalf("suffixless read %q, want %q", rd.Code.Text, code)
		}
	}
	if c := r.drv.Health().Counters[scanner.CounterGarbage]; c != 0 {
		t.Fatalf("garbage %d", c)
	}
}
