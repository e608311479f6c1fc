package idcard_test

import (
	"testing"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/idcard/codec"
	"tongban/drivers/idcard/sim"
)

// An unplugged reader is seen at once because the kernel says its device
// link went (inotify), not by a presence poll: the poll here is an hour.
func TestUnplugSeenWithoutPresencePoll(t *testing.T) {
	cfg := testConfig()
	cfg.PresenceInterval = time.Hour
	r := newRig(t, cfg, &sim.Config{})
	r.waitState(device.Online, "")
	time.Sleep(200 * time.Millisecond) // settled in the idle watch
	start := time.Now()
	r.ep.Unplug()
	h := r.waitState(device.Offline, "port lost")
	if d := time.Since(start); d > time.Second {
		t.Fatalf("unplug seen after %v (%s), want within a second", d, h.Detail)
	}
	t.Logf("unplug seen in %v", time.Since(start).Round(time.Microsecond))
	r.waitState(device.NoDevice, "")
	if err := r.ep.Replug(); err != nil {
		t.Fatal(err)
	}
	r.waitState(device.Online, "")
	r.sim.PlaceCard(sim.SampleResident())
	r.mustRead(sim.SampleResident())
}

// An idle reader is asked nothing but the SAM status, once per
// StatusInterval; no card is searched for while nobody waits for one.
func TestIdleReaderOnlyChecksStatus(t *testing.T) {
	cfg := testConfig()
	cfg.PresenceInterval = time.Hour
	cfg.StatusInterval = 300 * time.Millisecond
	r := newRig(t, cfg, &sim.Config{})
	r.waitState(device.Online, "")
	before := r.sim.Stats().Commands
	time.Sleep(1600 * time.Millisecond)
	after := r.sim.Stats().Commands
	for op, n := range after {
		if op != codec.OpSAMStatus && n != before[op] {
			t.Errorf("%v asked %d times while idle", op, n-before[op])
		}
	}
	if n := after[codec.OpSAMStatus] - before[codec.OpSAMStatus]; n < 3 || n > 6 {
		t.Fatalf("%d status checks in 1.6s at a 300ms interval, want about 5", n)
	}
	if h := r.drv.Health(); h.State != device.Online {
		t.Fatalf("idle reader %s %q", h.State, h.Detail)
	}
}
