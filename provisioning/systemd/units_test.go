// Package systemd holds the units a technician installs on a terminal
// (kioskd.service, tongban-screen.service); this test checks them.
package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unit is a parsed unit file: section -> key -> values (in order).
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	sec := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			sec = strings.Trim(line, "[]")
			u[sec] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || sec == "" {
				t.Fatalf("%s:%d: not key=value in a section: %q", path, n, line)
			}
			u[sec][k] = append(u[sec][k], v)
		}
	}
	return u
}

func (u unit) has(t *testing.T, name, sec, key, want string) {
	t.Helper()
	vs := u[sec][key]
	if len(vs) == 0 {
		t.Errorf("%s: [%s] %s missing", name, sec, key)
		return
	}
	if want != "" && !strings.Contains(strings.Join(vs, " "), want) {
		t.Errorf("%s: [%s] %s=%v, want it to contain %q", name, sec, key, vs, want)
	}
}

// TestUnitsHaveWhatTheFieldNeeds: the daemon's unit is hardened and
// always restarted, with its state folder; the screen's unit runs
// Chromium in kiosk mode on the screen's URL after kioskd and restarts
// it if it dies.
func TestUnitsHaveWhatTheFieldNeeds(t *testing.T) {
	k := parseUnit(t, "kioskd.service")
	for _, c := range [][3]string{
		{"Unit", "After", "network-online.target"},
		{"Service", "User", "tongban"},
		{"Service", "StateDirectory", "tongban"},
		{"Service", "Restart", "always"},
		{"Service", "RestartSec", ""},
		{"Service", "ExecStart", "kioskd run -data /var/lib/tongban"},
		{"Service", "ExecStart", "-tech-pin-file ${CREDENTIALS_DIRECTORY}/tech-pin"},
		{"Service", "ExecStart", "-listen 127.0.0.1:"},
		{"Service", "LoadCredential", "tech-pin:"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ProtectHome", "yes"},
		{"Service", "PrivateTmp", "yes"},
		{"Service", "CapabilityBoundingSet", ""},
		{"Service", "DevicePolicy", "closed"},
		{"Service", "DeviceAllow", "char-ttyUSB"},
		{"Service", "SupplementaryGroups", "dialout"},
		{"Service", "SystemCallFilter", "@system-service"},
		{"Install", "WantedBy", "multi-user.target"},
	} {
		k.has(t, "kioskd.service", c[0], c[1], c[2])
	}
	if v := k["Service"]["CapabilityBoundingSet"]; len(v) != 1 || v[0] != "" {
		t.Errorf("kioskd.service: CapabilityBoundingSet=%v, want empty (no capabilities)", v)
	}
	s := parseUnit(t, "tongban-screen.service")
	for _, c := range [][3]string{
		{"Unit", "After", "kioskd.service"},
		{"Unit", "Wants", "kioskd.service"},
		{"Service", "User", "kiosk"},
		{"Service", "Restart", "always"},
		{"Service", "ExecStart", "chromium --kiosk"},
		{"Service", "ExecStart", "http://127.0.0.1:8780/"},
		{"Service", "ExecStartPre", "/var/lib/tongban/ui.addr"},
		{"Service", "TTYPath", "/dev/tty1"},
		{"Install", "WantedBy", "graphical.target"},
	} {
		s.has(t, "tongban-screen.service", c[0], c[1], c[2])
	}
}

// TestUnitsVerify runs systemd-analyze verify on both units, with their
// programs replaced by a stand-in (the test machine has no kioskd in
// /usr/local/bin nor cage): any complaint fails. .ci/install-deps
// installs systemd for it; a missing systemd-analyze is a failure.
func TestUnitsVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found: install systemd (.ci/install-deps does)")
	}
	dir := t.TempDir()
	stand := filepath.Join(dir, "stand-in")
	if err := os.WriteFile(stand, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kioskd.service", "tongban-screen.service"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.NewReplacer("/usr/local/bin/kioskd", stand, "/usr/bin/cage", stand).Replace(string(b))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(sa, "verify", "--man=no", "kioskd.service", "tongban-screen.service")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
