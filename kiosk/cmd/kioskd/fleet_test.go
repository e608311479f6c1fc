package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/terminal"
	"tongban/kiosk/uplink"
	"tongban/provisioning/enroll"
	"tongban/provisioning/identity"
)

// enrolledStack is a stack whose terminal enrolled (as the demo does) at a
// platform that requires signatures, with a fast heartbeat.
func enrolledStack(t *testing.T, heartbeat time.Duration, more func(*stackOptions)) *stack {
	t.Helper()
	o := stackOptions{
		platform: func(o *refplatform.Options) { o.RequireSignatures = true },
		before: func(s *stack) {
			tok, err := s.platform.IssueEnrollmentToken(refplatform.EnrollmentTokenRequest{}, s.platURL)
			if err != nil {
				t.Fatal(err)
			}
			req, err := enroll.ParseQR(tok.QR)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := enroll.Enroll(context.Background(), req, enroll.Options{Dir: identityDir(s.dir)}); err != nil {
				t.Fatal(err)
			}
		},
		daemon: func(c *daemonConfig) { c.AllowUnenrolled, c.Heartbeat = false, heartbeat },
	}
	if more != nil {
		more(&o)
	}
	return startStackOpts(t, o)
}

func terminalOf(t *testing.T, s *stack) string {
	t.Helper()
	id, err := identity.LoadOrCreate(identityDir(s.dir))
	if err != nil || !id.Enrolled() {
		t.Fatalf("identity: %+v %v", id, err)
	}
	return id.Enrollment.TerminalID
}

func getBody(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", u, resp.Status, b)
	}
	return string(b)
}

func eventually(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHeartbeatStoredAndProblemTerminalListed: the daemon's signed
// heartbeats reach the platform, which stores them; a printer out of paper
// makes the terminal a problem terminal in /ref/terminals?problems=1 and
// on the fleet page; /metrics carries outbox depth and heartbeat age.
func TestHeartbeatStoredAndProblemTerminalListed(t *testing.T) {
	s := enrolledStack(t, 200*time.Millisecond, nil)
	term := terminalOf(t, s)
	var h refplatform.TerminalHealth
	eventually(t, "a heartbeat with every device online", 10*time.Second, func() bool {
		hs, err := s.platform.FleetHealth(false)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range hs {
			if x.TerminalID == term && x.Heartbeat != nil && len(x.Problems) == 0 {
				h = x
				return true
			}
		}
		return false
	})
	if hb := h.Heartbeat; !strings.HasPrefix(hb.Software, "kioskd ") || len(hb.Devices) != 2 || hb.Paper != "ok" || hb.CashBox.Capacity == 0 {
		t.Fatalf("stored heartbeat %+v", hb)
	}
	if err := s.sim.SetFault("printer", "paperEnd"); err != nil {
		t.Fatal(err)
	}
	var listed []refplatform.TerminalHealth
	eventually(t, "the terminal listed with a problem", 15*time.Second, func() bool {
		if err := json.Unmarshal([]byte(getBody(t, s.platURL+"/ref/terminals?problems=1")), &listed); err != nil {
			t.Fatal(err)
		}
		return len(listed) == 1 && listed[0].TerminalID == term && strings.Contains(strings.Join(listed[0].Problems, ";"), "out of paper")
	})
	t.Logf("problems: %v", listed[0].Problems)
	page := getBody(t, s.platURL+"/ref/fleet")
	if !strings.Contains(page, term) || !strings.Contains(page, "printer out of paper") {
		t.Fatalf("fleet page lacks the problem terminal:\n%s", page)
	}
	metrics := getBody(t, "http://"+s.svcAddr+"/metrics")
	for _, want := range []string{"tongban_outbox_depth 0", "tongban_heartbeat_age_seconds ", "# TYPE tongban_heartbeats_total counter"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if err := s.sim.SetFault("printer", "none"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the problem cleared", 15*time.Second, func() bool {
		json.Unmarshal([]byte(getBody(t, s.platURL+"/ref/terminals?problems=1")), &listed)
		return len(listed) == 0
	})
}

// TestPlatformConfigAppliedAtEffectiveTime: a configuration from the
// platform (banner, idle timeout, offline limits) is swapped in at its
// effective time, not before, without a restart; a broken one is refused
// and the one in force stays.
func TestPlatformConfigAppliedAtEffectiveTime(t *testing.T) {
	s := enrolledStack(t, 200*time.Millisecond, nil)
	term := terminalOf(t, s)
	c := s.dial()
	c.until("home", func(sn terminal.Snapshot) bool { return sn.Screen == terminal.ScreenHome })

	at := time.Now().Add(2 * time.Second)
	good := uplink.ConfigUpdate{EffectiveAt: at, IdleTimeoutSeconds: 45, OfflinePerPayment: 10000, OfflineTotal: 50000,
		Banner: &uplink.ConfigBanner{Zh: "本周六 22:00 起系统维护一小时", En: "Maintenance on Saturday from 22:00 for an hour"}}
	v1, err := s.platform.SetTerminalConfig(term, good)
	if err != nil {
		t.Fatal(err)
	}
	var fs fleetStatus
	eventually(t, "the configuration received and pending", 5*time.Second, func() bool {
		json.Unmarshal([]byte(getBody(t, "http://"+s.svcAddr+"/api/fleet")), &fs)
		return len(fs.Pending) == 1 && fs.Pending[0].Version == v1.Version
	})
	at = v1.EffectiveAt // as stored (to the millisecond)
	if time.Now().Before(at) {
		for _, sn := range c.history() {
			if sn.Banner != nil {
				t.Fatal("banner shown before the configuration's effective time")
			}
		}
	}
	sn := c.until("banner on the home screen", func(sn terminal.Snapshot) bool { return sn.Banner != nil })
	late := time.Now().Round(0).Sub(at)
	t.Logf("configuration on screen %v after its effective time", late)
	if late < 0 || late > 2*time.Second {
		t.Errorf("applied %v after its effective time", late)
	}
	if sn.Banner.Zh != good.Banner.Zh {
		t.Fatalf("banner %+v", sn.Banner)
	}
	json.Unmarshal([]byte(getBody(t, "http://"+s.svcAddr+"/api/fleet")), &fs)
	if fs.Applied == nil || fs.Applied.Version != v1.Version || fs.Applied.IdleTimeoutSeconds != 45 {
		t.Fatalf("fleet status after apply %+v", fs)
	}

	// A broken configuration (an idle timeout of one second, an offline
	// limit above the total) is refused; version 1 stays in force.
	bad, err := s.platform.SetTerminalConfig(term, uplink.ConfigUpdate{IdleTimeoutSeconds: 1, OfflinePerPayment: 900000, OfflineTotal: 1000,
		Banner: &uplink.ConfigBanner{Zh: "恶意"}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the broken configuration refused", 5*time.Second, func() bool {
		json.Unmarshal([]byte(getBody(t, "http://"+s.svcAddr+"/api/fleet")), &fs)
		return fs.Refused[bad.Version] != ""
	})
	t.Logf("refused: %s", fs.Refused[bad.Version])
	if fs.Applied == nil || fs.Applied.Version != v1.Version || len(fs.Pending) != 0 {
		t.Fatalf("after the broken configuration: %+v", fs)
	}
	time.Sleep(500 * time.Millisecond)
	if sn := c.history()[len(c.history())-1]; sn.Banner == nil || sn.Banner.Zh != good.Banner.Zh {
		t.Fatalf("banner after the broken configuration: %+v", sn.Banner)
	}
	// doctor prints the same.
	var out strings.Builder
	if err := doctor(t.Context(), &out, "http://"+s.svcAddr, false); err != nil && !errors.Is(err, errNotOnline) {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Configuration: version 1") || !strings.Contains(out.String(), "refused: idle timeout") || !strings.Contains(out.String(), "Heartbeat every 200ms") {
		t.Errorf("doctor:\n%s", out.String())
	}
	// The heartbeat reports the version in force.
	eventually(t, "heartbeat with config version 1", 5*time.Second, func() bool {
		hs, _ := s.platform.FleetHealth(false)
		for _, h := range hs {
			if h.TerminalID == term && h.Heartbeat != nil && h.Heartbeat.ConfigVersion == v1.Version {
				return true
			}
		}
		return false
	})
}
