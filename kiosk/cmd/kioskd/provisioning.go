package main

// The unprovisioned start: a terminal that was never enrolled shows its
// device id on the "unprovisioned" screen until a technician scans an
// enrollment QR with the terminal's own scanner or types a token; then it
// enrolls (provisioning/enroll, the code path of `kioskd provision`),
// shows the site and township it received, and the daemon brings up the
// core with the signed uplink client, without a restart. The screen's
// server and the scanner run throughout; screenSwitch hands the screen
// from the provisioner to the core.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"tongban/drivers/scanner/codec"
	"tongban/kiosk/terminal"
	"tongban/kiosk/uplink"
	"tongban/provisioning/enroll"
	"tongban/provisioning/profile"
	"tongban/ui"
)

// enrolledShown is how long the enrolled screen (site, township) stays
// before the home screen, unless the technician continues at once.
const enrolledShown = 8 * time.Second

// provisionCommands are the intents the unprovisioned screen accepts.
var provisionCommands = []string{"Provision.Enroll", "Provision.Continue"}

// provisioner is the unprovisioned screen's core (ui.Core).
type provisioner struct {
	dir string // the identity folder
	hw  uplink.HardwareSummary
	log *slog.Logger
	ctx context.Context // enrollments run under it

	done chan enroll.Result // the enrollment, once
	cont chan struct{}      // the technician pressed continue

	mu      sync.Mutex
	view    terminal.ProvisionView
	version uint64
	subs    map[int]chan terminal.Snapshot
	nextSub int
	closed  bool // enrolled: no second enrollment from this screen
	// enrolling: an enrollment runs. Only it may end that state: a bad
	// scan or typed token meanwhile must not let a second one start
	// beside it (two writers of the identity folder).
	enrolling bool
}

func newProvisioner(ctx context.Context, dir, deviceID, platform string, hw uplink.HardwareSummary, log *slog.Logger) *provisioner {
	return &provisioner{dir: dir, hw: hw, log: log, ctx: ctx,
		done: make(chan enroll.Result, 1), cont: make(chan struct{}, 1),
		view: terminal.ProvisionView{DeviceID: deviceID, Status: "waiting", Platform: platform},
		subs: map[int]chan terminal.Snapshot{}}
}

func (p *provisioner) snapshotLocked() terminal.Snapshot {
	v := p.view
	return terminal.Snapshot{Version: p.version, Screen: terminal.ScreenUnprovisioned, Terminal: v.DeviceID,
		// There is no platform to be unreachable yet; the screen itself
		// says the terminal is not enrolled.
		Services: terminal.Services{PlatformOnline: true}, Devices: map[string]terminal.DeviceView{}, Provision: &v}
}

func (p *provisioner) publishLocked() {
	p.version++
	s := p.snapshotLocked()
	for _, ch := range p.subs {
		select {
		case <-ch:
		default:
		}
		ch <- s
	}
}

// Subscribe implements ui.Core.
func (p *provisioner) Subscribe() (<-chan terminal.Snapshot, func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := make(chan terminal.Snapshot, 1)
	id := p.nextSub
	p.nextSub++
	p.subs[id] = ch
	ch <- p.snapshotLocked()
	return ch, func() {
		p.mu.Lock()
		delete(p.subs, id)
		p.mu.Unlock()
	}
}

// Do implements ui.Core: a typed token, or continuing after enrollment.
func (p *provisioner) Do(_ context.Context, name string, payload json.RawMessage) (any, error) {
	switch name {
	case "Provision.Enroll":
		var in struct {
			Platform string `json:"platform"`
			Token    string `json:"token"`
			Pin      string `json:"pin"`
		}
		dec := json.NewDecoder(strings.NewReader(string(payload)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return nil, &terminal.Error{Code: "invalidData", Message: "payload: " + err.Error()}
		}
		if strings.TrimSpace(in.Platform) == "" {
			p.mu.Lock()
			in.Platform = p.view.Platform
			p.mu.Unlock()
		}
		req, err := enroll.Typed(in.Platform, in.Token, in.Pin)
		if err != nil {
			p.fail("invalidData", err)
			return nil, &terminal.Error{Code: "invalidData", Message: err.Error()}
		}
		return nil, p.start(req, "typed")
	case "Provision.Continue":
		p.mu.Lock()
		ok := p.view.Status == "enrolled"
		p.mu.Unlock()
		if !ok {
			return nil, &terminal.Error{Code: "sequenceError", Message: "not enrolled yet"}
		}
		select {
		case p.cont <- struct{}{}:
		default:
		}
		return nil, nil
	case "Session.Touch":
		return nil, nil // the page's language switch
	}
	return nil, &terminal.Error{Code: "sequenceError", Message: "the terminal is not provisioned: scan an enrollment QR or type a token (" + name + " refused)"}
}

// Scanned takes every scanner read while unprovisioned; only an
// enrollment QR does anything.
func (p *provisioner) Scanned(text string) {
	c := codec.Classify(text)
	if c.Kind != codec.KindEnroll {
		p.log.Info("scan ignored: the terminal is unprovisioned and this is not an enrollment QR", "kind", c.Kind, "why", c.Why)
		if c.Why != "" && strings.HasPrefix(strings.ToLower(strings.TrimSpace(text)), "tongban-enroll:") {
			p.fail("invalidData", errors.New("enrollment QR unreadable: "+c.Why))
		}
		return
	}
	req, err := enroll.FromCode(c)
	if err != nil {
		p.fail("invalidData", err)
		return
	}
	if err := p.start(req, "scanned"); err != nil {
		p.log.Info("enrollment QR not taken", "err", err)
	}
}

// start runs one enrollment in the background; the screen follows it.
func (p *provisioner) start(req enroll.Request, how string) error {
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		return &terminal.Error{Code: "sequenceError", Message: "already enrolled"}
	case p.enrolling:
		p.mu.Unlock()
		return &terminal.Error{Code: "sequenceError", Message: "an enrollment is in progress"}
	}
	p.enrolling = true
	p.view.Status, p.view.Error, p.view.ErrorCode = "enrolling", "", ""
	p.publishLocked()
	p.mu.Unlock()
	p.log.Info("enrollment started from the unprovisioned screen", "how", how, "req", req)
	go func() {
		res, err := enroll.Enroll(p.ctx, req, enroll.Options{Dir: p.dir, Hardware: p.hw, Logger: p.log, Timeout: 20 * time.Second})
		if err != nil {
			p.log.Warn("enrollment failed", "how", how, "err", err)
			p.mu.Lock()
			p.enrolling = false
			p.mu.Unlock()
			p.fail(enrollErrorCode(err), err)
			return
		}
		e := res.Identity.Enrollment
		p.mu.Lock()
		p.closed, p.enrolling = true, false
		p.view = terminal.ProvisionView{DeviceID: p.view.DeviceID, Status: "enrolled", Platform: e.Platform,
			TerminalID: e.TerminalID, Site: e.Site.Name, SiteKind: e.Site.Kind, Township: e.Township.Name,
			Elapsed: res.Elapsed.Round(time.Millisecond).String()}
		p.publishLocked()
		p.mu.Unlock()
		p.done <- res
	}()
	return nil
}

func (p *provisioner) fail(code string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.enrolling {
		// The running enrollment's screen stays; this input is only logged.
		p.log.Info("input refused while an enrollment runs", "code", code, "err", err)
		return
	}
	p.view.Status, p.view.ErrorCode, p.view.Error = "failed", code, err.Error()
	p.publishLocked()
}

// enrollErrorCode is what the screen translates for the technician.
func enrollErrorCode(err error) string {
	switch {
	case errors.Is(err, enroll.ErrWrongPin):
		return "wrongPin"
	case errors.Is(err, enroll.ErrTokenExpired):
		return "tokenExpired"
	case errors.Is(err, enroll.ErrTokenUsed):
		return "tokenUsed"
	case errors.Is(err, enroll.ErrTokenUnknown):
		return "tokenUnknown"
	case errors.Is(err, enroll.ErrRefused):
		return "refused"
	}
	return "failed"
}

// wait blocks until the terminal is enrolled, then until the technician
// continues or enrolledShown passes. ok is false if ctx ended first.
func (p *provisioner) wait(ctx context.Context) (enroll.Result, bool) {
	var res enroll.Result
	select {
	case res = <-p.done:
	case <-ctx.Done():
		return res, false
	}
	return res, true
}

// shown waits for the technician to continue, at most enrolledShown.
func (p *provisioner) shown(ctx context.Context) {
	select {
	case <-p.cont:
	case <-time.After(enrolledShown):
	case <-ctx.Done():
	}
}

// screenSwitch is the screen's core: the provisioner until the terminal is
// enrolled, the terminal's core after. Subscriptions follow the switch, so
// an open page goes to the home screen without reconnecting.
type screenSwitch struct {
	mu      sync.Mutex
	cur     ui.Core
	scanned func(string)
	changed chan struct{} // closed and replaced on every switch
}

func newScreenSwitch(c ui.Core, scanned func(string)) *screenSwitch {
	return &screenSwitch{cur: c, scanned: scanned, changed: make(chan struct{})}
}

func (s *screenSwitch) set(c ui.Core, scanned func(string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur, s.scanned = c, scanned
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *screenSwitch) current() (ui.Core, func(string), <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur, s.scanned, s.changed
}

// Do implements ui.Core.
func (s *screenSwitch) Do(ctx context.Context, name string, payload json.RawMessage) (any, error) {
	c, _, _ := s.current()
	return c.Do(ctx, name, payload)
}

// Scanned routes a scanner read to whoever has the screen.
func (s *screenSwitch) Scanned(text string) {
	if _, f, _ := s.current(); f != nil {
		f(text)
	}
}

// Subscribe implements ui.Core: the newest snapshot of the current core,
// across switches.
func (s *screenSwitch) Subscribe() (<-chan terminal.Snapshot, func()) {
	out := make(chan terminal.Snapshot, 1)
	stop := make(chan struct{})
	var once sync.Once
	go func() {
		for {
			c, _, changed := s.current()
			in, cancel := c.Subscribe()
			switched := false
			for !switched {
				select {
				case <-stop:
					cancel()
					return
				case <-changed:
					switched = true
				case snap := <-in:
					select {
					case <-out:
					default:
					}
					out <- snap
				}
			}
			cancel()
		}
	}()
	return out, func() { once.Do(func() { close(stop) }) }
}

// hardwareSummary is what enrollment tells the platform of the hardware.
func hardwareSummary(p *profile.Profile) uplink.HardwareSummary {
	hw := uplink.HardwareSummary{Software: "kioskd " + version}
	if p != nil {
		hw.Devices = map[string]string{}
		for role, d := range p.Devices {
			hw.Devices[role] = d.Driver
		}
	}
	return hw
}
