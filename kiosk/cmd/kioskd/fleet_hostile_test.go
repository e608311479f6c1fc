package main

import (
	"log/slog"
	"testing"
	"time"

	"tongban/kiosk/uplink"
)

// Durations are checked before they are multiplied out: a huge number of
// seconds wraps round to a time.Duration that looks sane (18446744134 s
// is 60.29 s after the wrap), which was accepted.
func TestConfigRefusesDurationsThatWrapRound(t *testing.T) {
	now := time.Now()
	// Variables, not constants: a 32-bit build (make cross) must compile.
	var idle, heartbeat int64 = 18446744134, 18446744104
	for name, c := range map[string]uplink.ConfigUpdate{
		"idle wraps to 60 s":      {Version: 2, EffectiveAt: now, IdleTimeoutSeconds: int(idle)},
		"heartbeat wraps to 30 s": {Version: 2, EffectiveAt: now, HeartbeatSeconds: int(heartbeat)},
	} {
		if s, hb, err := settingsOf(c); err == nil {
			t.Errorf("%s: accepted as idle %v, heartbeat %v", name, s.IdleTimeout, hb)
		}
	}
}

// A platform that keeps sending configurations cannot make the daemon
// keep them without bound: waiting ones and remembered refusals are
// capped, and the one in force is untouched.
func TestHeartbeatRepliesCannotGrowTheConfigState(t *testing.T) {
	clock := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	f := newFleet(t.TempDir(), nil, slog.New(slog.DiscardHandler))
	f.now = func() time.Time { return clock }
	core := &fakeCore{}
	f.attach(core, nil, time.Minute)
	for beat := range 20 {
		var cs []uplink.ConfigUpdate
		for i := range 500 {
			v := int64(beat*1000 + i + 1)
			c := uplink.ConfigUpdate{Version: v, EffectiveAt: clock.Add(time.Duration(v) * time.Hour), IdleTimeoutSeconds: 60}
			if i%2 == 1 {
				c.IdleTimeoutSeconds = 1 // broken
			}
			cs = append(cs, c)
		}
		f.mu.Lock()
		f.takeLocked(cs)
		f.mu.Unlock()
	}
	st := f.status()
	if len(st.Pending) > maxPendingConfigs || len(st.Refused) > maxRefusedConfigs {
		t.Fatalf("after 10000 configurations the daemon keeps %d pending and %d refusals", len(st.Pending), len(st.Refused))
	}
	if len(st.Pending) == 0 || st.Pending[0].Version != 1 {
		t.Fatalf("the first good configuration is not waiting: %+v", st.Pending)
	}
}
