package simulator

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/drivers/id003"
)

// TestID003LineFaultsAreSurvived: noise, cut replies, lost replies and a
// slow device on the bill validator's line; the driver rides them out and a
// note inserted afterwards is credited exactly once.
func TestID003LineFaultsAreSurvived(t *testing.T) {
	sim, err := New(Options{Dir: filepath.Join(t.TempDir(), "sim"), Fast: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sim.Run(ctx)
	drv := id003.New(id003.Config{Name: "billValidator", Path: sim.Link(BillValidator), PollInterval: 30 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	credits := make(chan int64, 8)
	go drv.Run(ctx, func(ev cash.Event) cash.Decision {
		if ev.Kind == cash.Credited {
			credits <- ev.Value
		}
		return cash.Stack
	})
	drv.Enable([]int64{1000, 2000, 5000, 10000})
	waitOnline := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for drv.Health().State != device.Online || drv.Health().Detail != "accepting notes" {
			if time.Now().After(deadline) {
				t.Fatalf("%s: driver %+v", what, drv.Health())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitOnline("start")
	for _, f := range []string{"garbage:5", "dropBytes:5", "dropReplies:5", "slow:80"} {
		if err := sim.SetFault(BillValidator, f); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		time.Sleep(400 * time.Millisecond)
	}
	if err := sim.SetFault(BillValidator, "none"); err != nil {
		t.Fatal(err)
	}
	waitOnline("after the faults")
	if h := drv.Health(); h.Counters["crcErrors"]+h.Counters["timeouts"] == 0 {
		t.Fatalf("the faults never reached the driver: %+v", h.Counters)
	}
	if err := sim.BillValidator().Insert(2000); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-credits:
		if v != 2000 {
			t.Fatalf("credited %d", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("note never credited after the line faults")
	}
	select {
	case v := <-credits:
		t.Fatalf("credited twice (%d)", v)
	case <-time.After(300 * time.Millisecond):
	}
}
