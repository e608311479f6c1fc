package terminal

// What the fleet side of the daemon (provisioning, heartbeat, platform
// configuration) needs of the core: the unprovisioned screen's view, the
// settings the platform may change while the daemon runs, and the outbox
// depth it reports.

import (
	"fmt"
	"time"
)

// ScreenUnprovisioned is shown by a terminal that was never enrolled; the
// daemon serves it before there is a core (kiosk/cmd/kioskd provisioning).
const ScreenUnprovisioned Screen = "unprovisioned"

// ProvisionView is the unprovisioned screen's state.
type ProvisionView struct {
	DeviceID string `json:"deviceId"`
	// Status: waiting (for a QR or a typed token), enrolling, enrolled,
	// failed (Error says why; the technician may try again).
	Status string `json:"status"`
	// Platform is the address a typed token goes to unless another is typed.
	Platform   string `json:"platform,omitempty"`
	ErrorCode  string `json:"errorCode,omitempty"` // wrongPin, tokenExpired, tokenUsed, tokenUnknown, refused, invalidData, failed
	Error      string `json:"error,omitempty"`
	TerminalID string `json:"terminalId,omitempty"`
	Site       string `json:"site,omitempty"`
	SiteKind   string `json:"siteKind,omitempty"`
	Township   string `json:"township,omitempty"`
	Elapsed    string `json:"elapsed,omitempty"`
}

// Banner is a notice from the platform shown on every screen.
type Banner struct {
	Zh string `json:"zh"`
	En string `json:"en,omitempty"`
}

// Settings are what the platform's configuration changes in a running
// core. Zero fields leave the current value.
type Settings struct {
	IdleTimeout       time.Duration
	OfflinePerPayment int64 // fen
	OfflineTotal      int64 // fen
	// Banner replaces the banner; nil removes it.
	Banner *Banner
}

// Validate refuses settings a hostile or broken configuration could carry.
func (s Settings) Validate() error {
	if s.IdleTimeout != 0 && (s.IdleTimeout < 15*time.Second || s.IdleTimeout > 30*time.Minute) {
		return fmt.Errorf("idle timeout %v outside 15 s to 30 min", s.IdleTimeout)
	}
	if s.OfflinePerPayment < 0 || s.OfflinePerPayment > 500000 {
		return fmt.Errorf("offline per-payment limit %d fen outside 0 to 5000 yuan", s.OfflinePerPayment)
	}
	if s.OfflineTotal < 0 || s.OfflineTotal > 5000000 {
		return fmt.Errorf("offline total limit %d fen outside 0 to 50000 yuan", s.OfflineTotal)
	}
	if s.OfflinePerPayment != 0 && s.OfflineTotal != 0 && s.OfflinePerPayment > s.OfflineTotal {
		return fmt.Errorf("offline per-payment limit %d fen exceeds the total %d fen", s.OfflinePerPayment, s.OfflineTotal)
	}
	if b := s.Banner; b != nil {
		if len([]rune(b.Zh)) > 200 || len([]rune(b.En)) > 200 {
			return fmt.Errorf("banner longer than 200 characters")
		}
		if b.Zh == "" {
			return fmt.Errorf("banner without Chinese text")
		}
	}
	return nil
}

// ApplySettings swaps the settings in at once, under the core's lock, so
// every later decision (idle clock, offline limits) sees all of them. A
// session's running idle clock keeps its deadline until the next touch.
func (t *Terminal) ApplySettings(s Settings) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("terminal: settings refused: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s.IdleTimeout != 0 {
		// The "need more time?" lead follows a new timeout when it was the
		// default share of the old one, and is never left as long as the
		// timeout (it would ask at once, at every touch).
		if w := t.cfg.IdleWarning; w == defaultIdleWarning(t.cfg.IdleTimeout) || w >= s.IdleTimeout {
			t.cfg.IdleWarning = defaultIdleWarning(s.IdleTimeout)
		}
		t.cfg.IdleTimeout = s.IdleTimeout
	}
	if s.OfflinePerPayment != 0 {
		t.cfg.OfflinePerPayment = s.OfflinePerPayment
	}
	if s.OfflineTotal != 0 {
		t.cfg.OfflineTotal = s.OfflineTotal
	}
	if s.Banner != nil {
		b := *s.Banner
		t.banner = &b
	} else {
		t.banner = nil
	}
	t.publishLocked()
	return nil
}

// defaultIdleWarning is how long before a timeout the idle question comes
// unless configured: a third of the timeout, at most 30 s (as New sets it).
func defaultIdleWarning(timeout time.Duration) time.Duration {
	return min(30*time.Second, timeout/3)
}

// CurrentSettings are the settings in force.
func (t *Terminal) CurrentSettings() Settings {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Settings{IdleTimeout: t.cfg.IdleTimeout, OfflinePerPayment: t.cfg.OfflinePerPayment, OfflineTotal: t.cfg.OfflineTotal}
	if t.banner != nil {
		b := *t.banner
		s.Banner = &b
	}
	return s
}

// OutboxDepth is how much journaled work the platform has not
// acknowledged yet: payments, vouchers, applications, ratings and staff
// reports.
func (t *Terminal) OutboxDepth() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending) + len(t.unsent) + t.govQueuedLocked() + len(t.staff.reports)
}

// PlatformOnline reports whether the last platform call reached it.
func (t *Terminal) PlatformOnline() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.online
}
