package main

// The daemon's side of the fleet: a heartbeat to the platform (signed like
// every request) with device states, paper and cash-box levels, outbox
// depth and software version, and the platform's versioned configuration
// from the heartbeat's reply, validated and swapped into the running core
// at its effective time. A configuration that fails validation is refused
// and logged, and the one in force stays. What is in force and what waits
// for its time is kept in <data>/kiosk/fleet-config.json (written
// atomically), so a restart keeps it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"tongban/drivers/device"
	"tongban/kiosk/terminal"
	"tongban/kiosk/uplink"
	"tongban/provisioning/identity"
	"tongban/ui/service"
)

const (
	defaultHeartbeatEvery = 60 * time.Second
	minHeartbeatEvery     = 5 * time.Second
	maxHeartbeatEvery     = time.Hour
	// defaultCashBoxCapacity is the notes a typical stacker holds (JCM
	// and ITL boxes hold 500 to 1000), for the level until a profile says.
	defaultCashBoxCapacity = 500
	fleetStateFile         = "fleet-config.json"
	firstHeartbeat         = 5 * time.Second
	// maxConfigSeconds bounds a configuration's durations before they are
	// multiplied out (a day; the core's own limits are tighter).
	maxConfigSeconds = 86400
	// maxPendingConfigs and maxRefusedConfigs bound what a platform's
	// replies can make the daemon keep (in memory and in the state file):
	// configurations waiting for their time, and refusals remembered.
	maxPendingConfigs = 32
	maxRefusedConfigs = 32
)

// fleetCore is what the fleet needs of the core.
type fleetCore interface {
	ApplySettings(terminal.Settings) error
	OutboxDepth() int
	CashBox() (map[int64]int, error)
}

// fleetState is stored in fleetStateFile.
type fleetState struct {
	Applied  *uplink.ConfigUpdate  `json:"applied,omitempty"`
	Pending  []uplink.ConfigUpdate `json:"pending"`
	Refused  map[int64]string      `json:"refused,omitempty"` // version -> why
	LastBeat time.Time             `json:"-"`
}

// fleet runs the heartbeat and applies configurations.
type fleet struct {
	dir      string // the identity folder (data/kiosk)
	log      *slog.Logger
	started  time.Time
	devices  []service.Source
	capacity int
	now      func() time.Time
	kick     chan struct{}

	mu      sync.Mutex
	client  *uplink.Client
	core    fleetCore
	every   time.Duration
	st      fleetState
	lastErr string
	sent    int64
}

func newFleet(dir string, devices []service.Source, log *slog.Logger) *fleet {
	return &fleet{dir: dir, log: log, started: time.Now(), devices: devices, capacity: defaultCashBoxCapacity,
		now: time.Now, every: defaultHeartbeatEvery, kick: make(chan struct{}, 1)}
}

// attach gives the fleet the core and the (signed) client once they exist,
// and re-applies the configuration in force before the last restart.
func (f *fleet) attach(core fleetCore, client *uplink.Client, every time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.core, f.client = core, client
	if every == 0 {
		every = enrolledHeartbeat(f.dir)
	}
	if every > 0 {
		f.every = every
	}
	st, err := loadFleetState(filepath.Join(f.dir, fleetStateFile))
	if err != nil {
		// A damaged state file loses only the platform's settings; the
		// next heartbeat brings them again.
		f.log.Error("fleet configuration state unreadable; starting without it", "err", err)
		st = fleetState{}
	}
	f.st = st
	if a := st.Applied; a != nil {
		s, hb, err := settingsOf(*a)
		if err == nil {
			err = core.ApplySettings(s)
		}
		if err != nil {
			f.log.Error("stored configuration refused; the defaults stay", "version", a.Version, "err", err)
			f.st.Applied = nil
		} else if hb > 0 {
			f.every = hb
		}
	}
	return nil
}

func loadFleetState(path string) (fleetState, error) {
	var st fleetState
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return fleetState{}, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// saveLocked writes the state atomically (temporary file, fsync, rename).
func (f *fleet) saveLocked() error {
	b, err := json.MarshalIndent(f.st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(f.dir, fleetStateFile), b, 0o600)
}

// settingsOf validates a configuration and turns it into core settings
// and a heartbeat interval (0: unchanged).
func settingsOf(c uplink.ConfigUpdate) (terminal.Settings, time.Duration, error) {
	var s terminal.Settings
	switch {
	case c.Version <= 0:
		return s, 0, fmt.Errorf("version %d: want a positive version", c.Version)
	case c.EffectiveAt.IsZero():
		return s, 0, errors.New("no effectiveAt")
	case c.IdleTimeoutSeconds < 0:
		return s, 0, fmt.Errorf("idleTimeoutSeconds %d is negative", c.IdleTimeoutSeconds)
	case c.IdleTimeoutSeconds > maxConfigSeconds:
		// Checked in seconds: multiplied out, a huge value wraps round to
		// one that looks sane.
		return s, 0, fmt.Errorf("idleTimeoutSeconds %d is far too long", c.IdleTimeoutSeconds)
	case c.HeartbeatSeconds != 0 && (c.HeartbeatSeconds < int(minHeartbeatEvery/time.Second) || c.HeartbeatSeconds > int(maxHeartbeatEvery/time.Second)):
		return s, 0, fmt.Errorf("heartbeatSeconds %d outside %v to %v", c.HeartbeatSeconds, minHeartbeatEvery, maxHeartbeatEvery)
	}
	s = terminal.Settings{IdleTimeout: time.Duration(c.IdleTimeoutSeconds) * time.Second,
		OfflinePerPayment: c.OfflinePerPayment, OfflineTotal: c.OfflineTotal}
	if c.Banner != nil {
		s.Banner = &terminal.Banner{Zh: strings.TrimSpace(c.Banner.Zh), En: strings.TrimSpace(c.Banner.En)}
	}
	if err := s.Validate(); err != nil {
		return s, 0, err
	}
	return s, time.Duration(c.HeartbeatSeconds) * time.Second, nil
}

// run sends heartbeats and applies due configurations until ctx ends.
func (f *fleet) run(ctx context.Context) {
	// The first heartbeat soon after start, once the devices had a moment
	// to report (else every one reads "starting").
	f.mu.Lock()
	next := time.Now().Add(min(firstHeartbeat, f.every))
	f.mu.Unlock()
	for {
		f.applyDue()
		wait := time.Until(next)
		if at, ok := f.nextDue(); ok && time.Until(at) < wait {
			wait = time.Until(at)
		}
		timer := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-f.kick:
			timer.Stop()
			next = time.Now()
			continue
		case <-timer.C:
		}
		if time.Now().Before(next) {
			continue // woke for a configuration's effective time
		}
		f.beat(ctx)
		f.mu.Lock()
		next = time.Now().Add(f.every)
		f.mu.Unlock()
	}
}

// beat sends one heartbeat and takes in the configurations it brings.
func (f *fleet) beat(ctx context.Context) {
	f.mu.Lock()
	client, core := f.client, f.core
	f.mu.Unlock()
	if client == nil || core == nil {
		return
	}
	hb := f.heartbeat(core)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	ack, err := client.SendHeartbeat(cctx, hb)
	cancel()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			f.lastErr = err.Error()
			f.log.Warn("heartbeat not delivered", "err", err)
		}
		return
	}
	f.lastErr = ""
	f.sent++
	f.st.LastBeat = f.now()
	f.takeLocked(ack.Configs)
}

// takeLocked validates received configurations: a good one waits for its
// effective time, a broken one is refused (logged, remembered, not
// applied), and the configuration in force stays either way.
func (f *fleet) takeLocked(cs []uplink.ConfigUpdate) {
	applied := int64(0)
	if f.st.Applied != nil {
		applied = f.st.Applied.Version
	}
	changed := false
	for _, c := range cs {
		if c.Version <= applied || f.st.Refused[c.Version] != "" ||
			slices.ContainsFunc(f.st.Pending, func(p uplink.ConfigUpdate) bool { return p.Version == c.Version }) {
			continue
		}
		_, _, err := settingsOf(c)
		if err == nil && len(f.st.Pending) >= maxPendingConfigs {
			err = fmt.Errorf("%d configurations already wait for their time", len(f.st.Pending))
		}
		if err != nil {
			f.refuseLocked(c.Version, err)
			f.log.Error("platform configuration refused; the one in force stays", "version", c.Version, "err", err)
			changed = true
			continue
		}
		f.st.Pending = append(f.st.Pending, c)
		f.log.Info("platform configuration received", "version", c.Version, "effectiveAt", c.EffectiveAt)
		changed = true
	}
	slices.SortFunc(f.st.Pending, func(a, b uplink.ConfigUpdate) int { return int(a.Version - b.Version) })
	if changed {
		if err := f.saveLocked(); err != nil {
			f.log.Error("save fleet configuration state", "err", err)
		}
	}
}

// refuseLocked remembers a refused version (so it is not taken again),
// forgetting the lowest ones beyond maxRefusedConfigs: a platform that
// keeps sending broken versions cannot grow the state without bound.
func (f *fleet) refuseLocked(version int64, err error) {
	if f.st.Refused == nil {
		f.st.Refused = map[int64]string{}
	}
	f.st.Refused[version] = err.Error()
	for len(f.st.Refused) > maxRefusedConfigs {
		delete(f.st.Refused, slices.Min(slices.Collect(maps.Keys(f.st.Refused))))
	}
}

func (f *fleet) nextDue() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var at time.Time
	for _, p := range f.st.Pending {
		if at.IsZero() || p.EffectiveAt.Before(at) {
			at = p.EffectiveAt
		}
	}
	return at, !at.IsZero()
}

// applyDue swaps in every pending configuration whose time has come, in
// version order; applying one drops the older versions still pending.
func (f *fleet) applyDue() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.core == nil || len(f.st.Pending) == 0 {
		return
	}
	now := f.now()
	var keep []uplink.ConfigUpdate
	changed := false
	for _, c := range f.st.Pending {
		if f.st.Applied != nil && c.Version <= f.st.Applied.Version {
			changed = true
			continue
		}
		if c.EffectiveAt.After(now) {
			keep = append(keep, c)
			continue
		}
		changed = true
		s, hb, err := settingsOf(c)
		if err == nil {
			err = f.core.ApplySettings(s)
		}
		if err != nil {
			f.refuseLocked(c.Version, err)
			f.log.Error("platform configuration refused at its effective time; the one in force stays", "version", c.Version, "err", err)
			continue
		}
		cc := c
		f.st.Applied = &cc
		if hb > 0 {
			f.every = hb
		}
		f.log.Info("platform configuration applied", "version", c.Version, "effectiveAt", c.EffectiveAt)
	}
	if f.st.Applied != nil {
		keep = slices.DeleteFunc(keep, func(p uplink.ConfigUpdate) bool { return p.Version <= f.st.Applied.Version })
	}
	f.st.Pending = keep
	if changed {
		if err := f.saveLocked(); err != nil {
			f.log.Error("save fleet configuration state", "err", err)
		}
	}
}

// heartbeat builds the report.
func (f *fleet) heartbeat(core fleetCore) uplink.Heartbeat {
	f.mu.Lock()
	cv := int64(0)
	if f.st.Applied != nil {
		cv = f.st.Applied.Version
	}
	f.mu.Unlock()
	hb := uplink.Heartbeat{SentAt: f.now().UTC(), Software: "kioskd " + version, ConfigVersion: cv,
		UptimeSeconds: int64(time.Since(f.started) / time.Second), OutboxDepth: core.OutboxDepth(),
		Devices: []uplink.DeviceTelemetry{}, Paper: "unknown", CashBox: uplink.CashBoxTelemetry{Capacity: f.capacity, Level: -1}}
	for _, src := range f.devices {
		h := src.Health()
		d := uplink.DeviceTelemetry{Role: h.Name, Driver: h.Driver, State: string(h.State), Detail: h.Detail,
			Counters: h.Counters, LastError: h.LastError}
		if !h.ErrorAt.IsZero() {
			at := h.ErrorAt.UTC()
			d.LastErrorAt = &at
		}
		hb.Devices = append(hb.Devices, d)
		if h.Name == "printer" {
			hb.Paper = paperOf(h)
		}
	}
	if box, err := core.CashBox(); err == nil {
		for v, n := range box {
			hb.CashBox.Notes += n
			hb.CashBox.Amount += v * int64(n)
		}
		if f.capacity > 0 {
			hb.CashBox.Level = min(100, hb.CashBox.Notes*100/f.capacity)
		}
	}
	return hb
}

// paperOf reads the printer's paper from its health (escpos details).
func paperOf(h device.Health) string {
	d := strings.ToLower(h.Detail)
	switch {
	case strings.Contains(d, "paper end") || strings.Contains(d, "out of paper"):
		return "out"
	case strings.Contains(d, "near end"):
		return "low"
	case h.State == device.Online:
		return "ok"
	}
	return "unknown"
}

// gauges are the fleet's metrics for /metrics.
func (f *fleet) gauges() []service.Gauge {
	f.mu.Lock()
	defer f.mu.Unlock()
	var gs []service.Gauge
	if f.core != nil {
		gs = append(gs, service.Gauge{Name: "tongban_outbox_depth", Help: "Journaled payments and vouchers the platform has not acknowledged.",
			Value: float64(f.core.OutboxDepth())})
	}
	age := -1.0
	if !f.st.LastBeat.IsZero() {
		age = f.now().Sub(f.st.LastBeat).Seconds()
	}
	gs = append(gs,
		service.Gauge{Name: "tongban_heartbeat_age_seconds", Help: "Seconds since the platform last acknowledged a heartbeat; -1 if never.", Value: age},
		service.Gauge{Name: "tongban_heartbeats_total", Help: "Heartbeats the platform acknowledged since start.", Type: "counter", Value: float64(f.sent)})
	cv := 0.0
	if f.st.Applied != nil {
		cv = float64(f.st.Applied.Version)
	}
	gs = append(gs, service.Gauge{Name: "tongban_config_version", Help: "Version of the platform configuration in force (0: none).", Value: cv},
		service.Gauge{Name: "tongban_config_pending", Help: "Platform configurations waiting for their effective time.", Value: float64(len(f.st.Pending))},
		service.Gauge{Name: "tongban_config_refused_total", Help: "Platform configurations refused as invalid.", Type: "counter", Value: float64(len(f.st.Refused))})
	return gs
}

// status is the fleet's state for the technician and doctor.
type fleetStatus struct {
	LastHeartbeat *time.Time            `json:"lastHeartbeat,omitempty"`
	LastError     string                `json:"lastError,omitempty"`
	Every         string                `json:"every"`
	Applied       *uplink.ConfigUpdate  `json:"applied,omitempty"`
	Pending       []uplink.ConfigUpdate `json:"pending"`
	Refused       map[int64]string      `json:"refused,omitempty"`
}

// active reports whether the heartbeat runs (attach was called).
func (f *fleet) active() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.core != nil
}

func (f *fleet) status() fleetStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := fleetStatus{LastError: f.lastErr, Every: f.every.String(), Applied: f.st.Applied,
		Pending: slices.Clone(f.st.Pending), Refused: f.st.Refused}
	if !f.st.LastBeat.IsZero() {
		t := f.st.LastBeat
		s.LastHeartbeat = &t
	}
	return s
}

// writeFileAtomic writes path through a temporary file in the same
// folder, fsync'd, then renamed over it, and syncs the folder: a crash
// leaves the old file or the new one, never half of one.
func writeFileAtomic(path string, b []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// enrolledHeartbeat is the heartbeat interval the platform gave at
// enrollment; 0 if none.
func enrolledHeartbeat(dir string) time.Duration {
	id, err := identity.Open(dir).Load()
	if err != nil || id.Enrollment == nil || len(id.Enrollment.Config) == 0 {
		return 0
	}
	var tc uplink.TerminalConfig
	if json.Unmarshal(id.Enrollment.Config, &tc) != nil {
		return 0
	}
	d := time.Duration(tc.HeartbeatSec) * time.Second
	if d < minHeartbeatEvery || d > maxHeartbeatEvery {
		return 0
	}
	return d
}

// printFleet adds the heartbeat and configuration lines to doctor's
// report; a daemon without /api/fleet (an older one) adds nothing.
func printFleet(ctx context.Context, w io.Writer, base string) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, base+"/api/fleet", nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var st fleetStatus
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st) != nil {
		return
	}
	hb := "none acknowledged yet"
	if st.LastHeartbeat != nil {
		hb = fmt.Sprintf("last acknowledged %s (%s ago)", st.LastHeartbeat.Local().Format("15:04:05"), time.Since(*st.LastHeartbeat).Round(time.Second))
	}
	if st.LastError != "" {
		hb += "; last failure: " + oneLine(st.LastError)
	}
	fmt.Fprintf(w, "\nHeartbeat every %s: %s\n", st.Every, hb)
	cfg := "none from the platform"
	if a := st.Applied; a != nil {
		cfg = fmt.Sprintf("version %d, in force since %s", a.Version, a.EffectiveAt.Local().Format("2006-01-02 15:04:05"))
	}
	fmt.Fprintf(w, "Configuration: %s", cfg)
	for _, p := range st.Pending {
		fmt.Fprintf(w, "; version %d waits for %s", p.Version, p.EffectiveAt.Local().Format("2006-01-02 15:04:05"))
	}
	fmt.Fprintln(w)
	for v, why := range st.Refused {
		fmt.Fprintf(w, "Configuration version %d refused: %s\n", v, why)
	}
}
