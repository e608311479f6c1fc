package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"tongban/drivers/device"
	"tongban/drivers/simulator"
	"tongban/kiosk/terminal"
	"tongban/provisioning/profile"
	"tongban/ui/service"
)

// demoStack runs the stack with the demo's profile.
func demoStack(t *testing.T) *stack {
	return startStackWith(t, withDemoProfile(t))
}

// withDemoProfile gives a stack the demo's profile, written into the stack's
// data folder and loaded from there as `kioskd demo` does.
func withDemoProfile(t *testing.T) func(dir string, sim *simulator.Simulator) *profile.Profile {
	return func(dir string, sim *simulator.Simulator) *profile.Profile {
		p, _ := profileFile(t, dir, writeDemoProfile)
		return p
	}
}

// profileFile writes a stack's profile.json into its data folder with
// write and loads it from there, as the daemon does; it returns the
// profile and the file's path.
func profileFile(t *testing.T, dir string, write func(path string) error) (*profile.Profile, string) {
	t.Helper()
	path := filepath.Join(dir, "profile.json")
	if err := write(path); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p, path
}

func (s *stack) report() service.Report {
	s.t.Helper()
	resp, err := http.Get("http://" + s.svcAddr + "/api/devices")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep service.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		s.t.Fatal(err)
	}
	return rep
}

func (s *stack) health(role string) device.Health {
	for _, h := range s.report().Devices {
		if h.Name == role {
			return h
		}
	}
	s.t.Fatalf("%s not in the device report", role)
	return device.Health{}
}

// waitDevice waits until role's health satisfies ok.
func (s *stack) waitDevice(role, what string, ok func(device.Health) bool) device.Health {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		h := s.health(role)
		if ok(h) {
			return h
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: timed out waiting for %s; now %s %q (last error %q)", role, what, h.State, h.Detail, h.LastError)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// simPost calls the simulator's control API, as `kioskd sim` does.
func (s *stack) simPost(path string, body any) {
	s.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(s.simURL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		s.t.Fatalf("simulator %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("simulator %s: %s %s", path, resp.Status, msg)
	}
}

func (s *stack) service(path string) string {
	s.t.Helper()
	resp, err := http.Get("http://" + s.svcAddr + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("%s: %s", path, resp.Status)
	}
	return string(b)
}

// TestEveryDeviceOfTheDemoProfile starts every device of the demo profile
// against the simulator and follows each through the technician's
// service and doctor: all online; a cable pulled and put back on a new
// pty without a restart; a paper end on the status page and in metrics.
func TestEveryDeviceOfTheDemoProfile(t *testing.T) {
	s := demoStack(t)
	roles := []string{"billValidator", "coinAcceptor", "printer", "idCardReader", "scanner", "gpio"}
	if len(s.profile.Devices) != len(roles) {
		t.Fatalf("demo profile has %d devices, want %d", len(s.profile.Devices), len(roles))
	}
	// The demo profile names exactly the simulator's links.
	for role, d := range s.profile.Devices {
		if d.Path != s.sim.Link(role) {
			t.Errorf("%s: profile path %s, simulator link %s", role, d.Path, s.sim.Link(role))
		}
	}
	for _, role := range roles {
		s.waitDevice(role, "online", func(h device.Health) bool { return h.State == device.Online })
	}
	rep := s.report()
	for i, h := range rep.Devices {
		if h.Name != roles[i] || h.Path == "" || h.Driver == "" {
			t.Errorf("device %d: %+v", i, h)
		}
	}

	var out bytes.Buffer
	if err := doctor(t.Context(), &out, "http://"+s.svcAddr, false); err != nil {
		t.Fatalf("doctor: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.HasPrefix(lines[2], "DEVICE") || len(lines) != 3+len(roles) {
		t.Fatalf("doctor table:\n%s", out.String())
	}
	for i, role := range roles {
		f := strings.Fields(lines[3+i])
		if f[0] != role || f[2] != "online" {
			t.Errorf("doctor row %q", lines[3+i])
		}
	}
	// The columns line up: every row's STATE starts where the header's does.
	col := strings.Index(lines[2], "STATE")
	for _, l := range lines[3:] {
		if !strings.HasPrefix(l[col:], "online") {
			t.Errorf("misaligned row %q", l)
		}
	}

	// The scanner's reads reach the core (and are counted).
	s.simPost("/scan", map[string]string{"code": "0112001001000001"})
	s.waitDevice("scanner", "one read", func(h device.Health) bool { return h.Counters["reads"] == 1 })
	// A cabinet door opened on the simulated GPIO board reaches the daemon.
	s.simPost("/gpio", map[string]any{"input": "door", "active": true})
	s.waitDevice("gpio", "door open", func(h device.Health) bool { return h.State == device.UserError && h.Detail == "door open" })
	s.simPost("/gpio", map[string]any{"input": "door", "active": false})
	s.waitDevice("gpio", "door closed", func(h device.Health) bool { return h.State == device.Online })

	// Unplug the ID card reader: noDevice, and doctor says so with exit 1.
	before := s.sim.State().IDCardReader.Path
	s.simPost("/plug", map[string]any{"device": "idCardReader", "in": false})
	s.waitDevice("idCardReader", "noDevice", func(h device.Health) bool { return h.State == device.NoDevice })
	out.Reset()
	err := doctor(t.Context(), &out, "http://"+s.svcAddr, false)
	if !errors.Is(err, errNotOnline) || !strings.Contains(err.Error(), "idCardReader (noDevice") {
		t.Fatalf("doctor with the reader unplugged: %v", err)
	}
	if !strings.Contains(out.String(), "noDevice") {
		t.Errorf("doctor output:\n%s", out.String())
	}
	// Replug on a new pseudo terminal, as a USB adapter comes back under
	// another ttyUSB number: another pty takes the old number first. The
	// link follows; the same daemon finds the reader again.
	other, otherTTY, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	defer otherTTY.Close()
	s.simPost("/plug", map[string]any{"device": "idCardReader", "in": true})
	after := s.sim.State().IDCardReader.Path
	if after == before {
		t.Errorf("replugged on the same pty %s", after)
	}
	h := s.waitDevice("idCardReader", "online again", func(h device.Health) bool { return h.State == device.Online })
	if h.Counters["reconnects"] < 1 {
		t.Errorf("reader counters %v: no reconnect counted", h.Counters)
	}
	t.Logf("ID card reader: %s before the unplug, %s after", before, after)

	// Paper end: on the status page and in the metrics.
	s.simPost("/fault", map[string]string{"device": "printer", "fault": "paperEnd"})
	s.waitDevice("printer", "paper end", func(h device.Health) bool { return h.State == device.UserError && h.Detail == "paper end" })
	page := s.service("/status")
	for _, want := range []string{`id="dev-printer"`, `data-state="userError"`, "paper end", "凭条打印机", "Receipt printer", `http-equiv="refresh"`} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	metrics := s.service("/metrics")
	for _, want := range []string{
		`tongban_device_state{device="printer",driver="escpos",state="userError"} 1`,
		`tongban_device_state{device="printer",driver="escpos",state="online"} 0`,
		`tongban_device_up{device="idCardReader",driver="idcard"} 1`,
		`tongban_device_reads_total{device="scanner",driver="scanner"} 1`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
		"tongban_journal_commits_total ",
		"tongban_journal_commit_seconds_total ",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	s.simPost("/fault", map[string]string{"device": "printer", "fault": "none"})
	s.waitDevice("printer", "paper back", func(h device.Health) bool { return h.State == device.Online })
}

func TestBuildDevicesRefusesWhatNoDriverCanUse(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	d, err := buildDevices(DemoProfile(), log)
	if err != nil {
		t.Fatal(err)
	}
	if d.Cash == nil || d.Coins == nil || d.Printer == nil || d.IDCard == nil || d.Scanner == nil || d.GPIO == nil || len(d.Health) != 6 || len(d.boards) != 1 {
		t.Fatalf("demo devices: %+v", d)
	}
	// A profile that skipped Parse's checks still meets the drivers' own.
	bad := &profile.Profile{Devices: map[string]profile.Device{"scanner": {Driver: "scanner", Path: "/x", Model: "zebra"}}}
	if _, err := buildDevices(bad, log); err == nil || !strings.Contains(err.Error(), `device "scanner"`) {
		t.Fatalf("bad scanner: %v", err)
	}
	bad = &profile.Profile{Devices: map[string]profile.Device{"coinAcceptor": {Driver: "pulse", Pin: "GPIO17"}}}
	if _, err := buildDevices(bad, log); err == nil || !strings.Contains(err.Error(), "value per pulse") {
		t.Fatalf("bad pulse: %v", err)
	}
	if err := (&lazyPin{name: "NO_SUCH_LINE"}).Out(true); err == nil {
		t.Fatal("a line this machine lacks was driven")
	}
	// The daemon refuses a technician service off loopback before it
	// starts anything.
	if _, err := d.start(t.Context(), daemonConfig{Service: "0.0.0.0:8781", Log: log}, "T", nil); err == nil {
		t.Fatal("non-loopback service address accepted")
	}
}

func TestDemoProfileParsesAndUpgrades(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "profile.json")
	// An older demo profile: two devices.
	old := `{"devices":{"billValidator":{"driver":"id003","path":"sim/dev/bill-validator"},"printer":{"driver":"escpos","path":"sim/dev/printer"}}}`
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	proto, err := prepareDemoProfile(path, "")
	if err != nil || proto != "id003" {
		t.Fatalf("%s %v", proto, err)
	}
	p, err := profile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Devices) != 6 || p.Devices["billValidator"].Path != filepath.Join(dir, "sim/dev/bill-validator") {
		t.Fatalf("upgraded profile %+v", p.Devices)
	}
	if proto, err := prepareDemoProfile(path, "ssp"); err != nil || proto != "ssp" {
		t.Fatalf("%s %v", proto, err)
	}
	if p, _ := profile.Load(path); p.Devices["billValidator"].Driver != "ssp" || !p.Devices["billValidator"].Encrypted {
		t.Fatalf("bill validator %+v", p.Devices["billValidator"])
	}
	if proto, _ := prepareDemoProfile(path, ""); proto != "ssp" {
		t.Fatalf("the profile's protocol is kept: %s", proto)
	}
	if _, err := prepareDemoProfile(path, "cctalk"); err == nil {
		t.Fatal("unknown protocol accepted")
	}
}

// TestCoinThroughTheGPIOBoard pays with a coin: the core enables the coin
// acceptor with the notes, the simulator's pulse train crosses the
// simulated GPIO board into the pulse driver, and the core credits it.
func TestCoinThroughTheGPIOBoard(t *testing.T) {
	s := demoStack(t)
	c := s.dial()
	c.until("cash available", func(sn terminal.Snapshot) bool {
		return sn.Services.CashAvailable && sn.Devices["coinAcceptor"].State == device.Online
	})
	// Before the screen takes cash the acceptor is held inhibited.
	b, _ := json.Marshal(map[string]int{"value": 100})
	resp, err := http.Post(s.simURL+"/coin", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("coin while inhibited: %s", resp.Status)
	}
	if code, desc := c.do("Session.Start", map[string]string{"utility": "water"}); code != "success" {
		t.Fatalf("start: %s %s", code, desc)
	}
	if code, desc := c.do("Bill.Lookup", map[string]string{"account": "100100100001"}); code != "success" {
		t.Fatalf("lookup: %s %s", code, desc)
	}
	c.until("bill shown", func(sn terminal.Snapshot) bool { return sn.Screen == terminal.ScreenBill })
	if code, desc := c.do("Cash.Start", nil); code != "success" {
		t.Fatalf("cash: %s %s", code, desc)
	}
	c.until("coins accepted", func(sn terminal.Snapshot) bool { return sn.Devices["coinAcceptor"].Detail == "accepting" })
	// The inhibit line crosses the simulated board's socket after the
	// driver has set it: wait until the acceptor sees it low.
	for deadline := time.Now().Add(5 * time.Second); s.sim.State().CoinAcceptor.Inhibited; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the coin acceptor never saw its inhibit line released")
		}
	}
	s.simPost("/coin", map[string]int{"value": 100})
	s.simPost("/coin", map[string]int{"value": 50})
	c.until("two coins credited", func(sn terminal.Snapshot) bool { return sn.Cash != nil && sn.Cash.Credit == 150 })
	if h := s.health("coinAcceptor"); h.Counters["fen"] != 150 || h.Counters["trains"] != 2 {
		t.Errorf("coin acceptor counters %v", h.Counters)
	}
	if st := s.sim.State(); st.CoinAcceptor.Total != 150 {
		t.Errorf("simulator's coin box %+v", st.CoinAcceptor)
	}
}
