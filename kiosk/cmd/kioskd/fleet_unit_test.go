package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"tongban/kiosk/terminal"
	"tongban/kiosk/uplink"
)

// fakeCore records the settings applied, and refuses what the real core
// refuses.
type fakeCore struct{ applied []terminal.Settings }

func (c *fakeCore) ApplySettings(s terminal.Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	c.applied = append(c.applied, s)
	return nil
}
func (c *fakeCore) OutboxDepth() int                { return 3 }
func (c *fakeCore) CashBox() (map[int64]int, error) { return map[int64]int{10000: 200, 5000: 100}, nil }

func TestConfigValidationRefusesBrokenValues(t *testing.T) {
	now := time.Now()
	ok := uplink.ConfigUpdate{Version: 1, EffectiveAt: now, IdleTimeoutSeconds: 60, HeartbeatSeconds: 30}
	if _, hb, err := settingsOf(ok); err != nil || hb != 30*time.Second {
		t.Fatalf("good config: %v %v", hb, err)
	}
	for name, c := range map[string]uplink.ConfigUpdate{
		"no version":        {EffectiveAt: now},
		"no effective time": {Version: 2},
		"idle 1 s":          {Version: 2, EffectiveAt: now, IdleTimeoutSeconds: 1},
		"idle negative":     {Version: 2, EffectiveAt: now, IdleTimeoutSeconds: -5},
		"idle a day":        {Version: 2, EffectiveAt: now, IdleTimeoutSeconds: 86400},
		"heartbeat 1 s":     {Version: 2, EffectiveAt: now, HeartbeatSeconds: 1},
		"offline negative":  {Version: 2, EffectiveAt: now, OfflineTotal: -1},
		"per over total":    {Version: 2, EffectiveAt: now, OfflinePerPayment: 50000, OfflineTotal: 10000},
		"offline huge":      {Version: 2, EffectiveAt: now, OfflinePerPayment: 100000000},
		"banner too long":   {Version: 2, EffectiveAt: now, Banner: &uplink.ConfigBanner{Zh: strings.Repeat("通", 201)}},
		"banner no Chinese": {Version: 2, EffectiveAt: now, Banner: &uplink.ConfigBanner{En: "only English"}},
		"banner blank":      {Version: 2, EffectiveAt: now, Banner: &uplink.ConfigBanner{Zh: "   "}},
	} {
		if _, _, err := settingsOf(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConfigScheduleAndRestart(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	f := newFleet(dir, nil, slog.New(slog.DiscardHandler))
	f.now = func() time.Time { return clock }
	core := &fakeCore{}
	f.attach(core, nil, time.Minute)

	f.mu.Lock()
	f.takeLocked([]uplink.ConfigUpdate{
		{Version: 1, EffectiveAt: clock.Add(time.Hour), IdleTimeoutSeconds: 60, Banner: &uplink.ConfigBanner{Zh: "九点起维护"}},
		{Version: 2, EffectiveAt: clock, IdleTimeoutSeconds: 2}, // broken
		{Version: 3, EffectiveAt: clock.Add(2 * time.Hour), HeartbeatSeconds: 120},
	})
	f.mu.Unlock()
	st := f.status()
	if len(st.Pending) != 2 || st.Refused[2] == "" || st.Applied != nil {
		t.Fatalf("after receiving: %+v", st)
	}
	f.applyDue()
	if len(core.applied) != 0 {
		t.Fatal("applied before its effective time")
	}
	clock = clock.Add(time.Hour)
	f.applyDue()
	if len(core.applied) != 1 || core.applied[0].IdleTimeout != time.Minute || core.applied[0].Banner == nil {
		t.Fatalf("at 09:00: %+v", core.applied)
	}
	// Received again (the platform lists every newer version): nothing new.
	f.mu.Lock()
	f.takeLocked([]uplink.ConfigUpdate{{Version: 2, EffectiveAt: clock, IdleTimeoutSeconds: 2}, {Version: 3, EffectiveAt: clock.Add(time.Hour), HeartbeatSeconds: 120}})
	f.mu.Unlock()
	if st := f.status(); len(st.Pending) != 1 || st.Applied.Version != 1 {
		t.Fatalf("after the repeat: %+v", st)
	}
	clock = clock.Add(time.Hour)
	f.applyDue()
	if st := f.status(); st.Applied.Version != 3 || st.Every != "2m0s" || len(st.Pending) != 0 {
		t.Fatalf("at 10:00: %+v", st)
	}
	// A restart re-applies the configuration in force from the state file.
	g := newFleet(dir, nil, slog.New(slog.DiscardHandler))
	core2 := &fakeCore{}
	g.attach(core2, nil, 0)
	if st := g.status(); st.Applied == nil || st.Applied.Version != 3 || len(core2.applied) != 1 || st.Every != "2m0s" {
		t.Fatalf("after a restart: %+v, applied %+v", st, core2.applied)
	}
	hb := g.heartbeat(core2)
	if hb.ConfigVersion != 3 || hb.OutboxDepth != 3 || hb.CashBox.Notes != 300 || hb.CashBox.Amount != 2500000 || hb.CashBox.Level != 60 {
		t.Fatalf("heartbeat %+v", hb)
	}
}
