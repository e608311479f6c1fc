package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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
)

const testTechPIN = "246810"

// techPost sends a technician action and decodes the JSON answer.
func techPost(t *testing.T, s *stack, path, pin string, body any, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.svcAddr+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if pin != "" {
		req.Header.Set("X-Tech-PIN", pin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s: %s: %v", path, data, err)
		}
	}
	if resp.StatusCode != http.StatusOK {
		t.Logf("%s: %s %s", path, resp.Status, bytes.TrimSpace(data))
	}
	return resp.StatusCode
}

// TestTechnicianSavesProfileWithPrinterOnAnotherPort: the printer is
// replaced on another port; the technician probes that port on the
// service listener, gets a profile proposing the move, confirms, and the
// profile is saved (the previous kept as .bak) and applied: the same
// daemon prints on the new port, with nothing restarted or re-enrolled.
// Along the way: the PIN guards the actions, and the printer's self-test
// prints a test page.
func TestTechnicianSavesProfileWithPrinterOnAnotherPort(t *testing.T) {
	var profPath string
	s := startStackOpts(t, stackOptions{
		profile: func(dir string, sim *simulator.Simulator) *profile.Profile {
			// Real pty paths, not the simulator's stable links: a moved
			// device really is on another path.
			real := func(role string) string {
				p, err := filepath.EvalSymlinks(sim.Link(role))
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			p := &profile.Profile{Devices: map[string]profile.Device{
				"billValidator": {Driver: "id003", Path: real(simulator.BillValidator), Denominations: []int64{1000, 2000, 5000, 10000}},
				"printer":       {Driver: "escpos", Path: real(simulator.Printer), Paper: 80},
			}}
			loaded, path := profileFile(t, dir, func(f string) error { return profile.Write(f, p) })
			profPath = path
			return loaded
		},
		daemon: func(c *daemonConfig) { c.ProfilePath, c.TechPIN = profPath, testTechPIN },
	})
	s.waitDevice("printer", "online", func(h device.Health) bool { return h.State == device.Online })
	oldPath := s.sim.State().Printer.Path

	// Actions need the PIN.
	var e map[string]string
	if code := techPost(t, s, "/api/tech/selftest/printer", "", nil, &e); code != http.StatusUnauthorized {
		t.Fatalf("self-test without a PIN: %d %v", code, e)
	}
	if code := techPost(t, s, "/api/tech/selftest/printer", "000000", nil, &e); code != http.StatusUnauthorized {
		t.Fatalf("self-test with a wrong PIN: %d %v", code, e)
	}
	var st selfTestResult
	if code := techPost(t, s, "/api/tech/selftest/printer", testTechPIN, nil, &st); code != http.StatusOK || !st.OK {
		t.Fatalf("printer self-test: %d %+v", code, st)
	}
	if rs := s.sim.Printer().Receipts(); len(rs) != 1 || !strings.Contains(rs[0].Text, "TEST PAGE") {
		t.Fatalf("test page not printed: %+v", rs)
	}
	page := getBody(t, "http://"+s.svcAddr+"/tech")
	if !strings.Contains(page, "/api/tech/selftest/printer") || !strings.Contains(page, "/api/tech/probe") {
		t.Fatalf("technician page:\n%s", page)
	}

	// The printer is moved: unplugged, and back on another pty (another
	// pty takes its old number first, as another ttyUSB would).
	s.simPost("/plug", map[string]any{"device": "printer", "in": false})
	s.waitDevice("printer", "noDevice", func(h device.Health) bool { return h.State == device.NoDevice })
	other, otherTTY, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	defer otherTTY.Close()
	s.simPost("/plug", map[string]any{"device": "printer", "in": true})
	newPath := s.sim.State().Printer.Path
	// The old path now holds something that is not the printer (the other
	// pty), as a reused ttyUSB number would: the daemon does not find the
	// printer by itself.
	if newPath == oldPath {
		t.Fatalf("replugged on the same pty %s", newPath)
	}

	time.Sleep(1500 * time.Millisecond)
	if h := s.health("printer"); h.State == device.Online {
		t.Fatalf("printer online on its old path before the profile was saved: %+v", h)
	}
	var pr probeResult
	if code := techPost(t, s, "/api/tech/probe", testTechPIN, map[string]any{"paths": []string{newPath, s.sim.Link(simulator.BillValidator)}}, &pr); code != http.StatusOK {
		t.Fatalf("probe: %d", code)
	}
	t.Logf("probe took %s, skipped %v, changes %+v", pr.Took, pr.Skipped, pr.Changes)
	if len(pr.Changes) != 1 || pr.Changes[0].Role != "printer" || pr.Changes[0].To != newPath || !pr.Changes[0].Live {
		t.Fatalf("proposed changes %+v (findings %+v)", pr.Changes, pr.Findings)
	}
	if len(pr.Skipped) == 0 {
		t.Errorf("the bill validator's port, in use, was probed")
	}
	// Not confirmed: nothing is saved.
	if code := techPost(t, s, "/api/tech/profile", testTechPIN, map[string]any{"profile": pr.Proposed}, &e); code != http.StatusBadRequest {
		t.Fatalf("unconfirmed save: %d", code)
	}
	before, _ := os.ReadFile(profPath)
	var sr saveResult
	if code := techPost(t, s, "/api/tech/profile", testTechPIN, map[string]any{"profile": pr.Proposed, "confirm": true}, &sr); code != http.StatusOK {
		t.Fatalf("save: %d", code)
	}
	if len(sr.Restart) != 0 || len(sr.Changes) != 1 {
		t.Fatalf("save result %+v", sr)
	}
	if bak, _ := os.ReadFile(profPath + ".bak"); !bytes.Equal(bak, before) {
		t.Fatalf("backup is not the previous profile:\n%s", bak)
	}
	saved, err := profile.Load(profPath)
	if err != nil || saved.Devices["printer"].Path != newPath || saved.Devices["billValidator"].Path != s.profile.Devices["billValidator"].Path {
		t.Fatalf("saved profile %+v %v", saved, err)
	}
	s.waitDevice("printer", "online on the new port", func(h device.Health) bool { return h.State == device.Online })
	if code := techPost(t, s, "/api/tech/selftest/printer", testTechPIN, nil, &st); code != http.StatusOK || !st.OK {
		t.Fatalf("printer self-test on the new port: %d %+v", code, st)
	}
	if rs := s.sim.Printer().Receipts(); len(rs) != 2 {
		t.Fatalf("receipts after the move: %d", len(rs))
	}
	// And residents are served: a cash payment prints on the new port.
	c := s.dial()
	payWater(t, s, c)
	if rs := s.sim.Printer().Receipts(); len(rs) != 3 {
		t.Fatalf("receipts after a payment: %d", len(rs))
	}
}

// payWater pays the demo water bill with two 50-yuan notes.
func payWater(t *testing.T, s *stack, c *client) {
	t.Helper()
	c.until("cash and printer ready", func(sn terminal.Snapshot) bool { return sn.Services.CashAvailable && sn.Services.PrinterReady })
	for _, step := range []struct {
		name    string
		payload any
	}{{"Session.Start", map[string]string{"utility": "water"}}, {"Bill.Lookup", map[string]string{"account": "100100100001"}}, {"Cash.Start", nil}} {
		if code, desc := c.do(step.name, step.payload); code != "success" {
			t.Fatalf("%s: %s %s", step.name, code, desc)
		}
	}
	c.until("acceptor enabled", func(sn terminal.Snapshot) bool { return sn.Devices["billValidator"].Detail == "accepting notes" })
	for _, want := range []int64{5000, 10000} {
		if err := s.sim.InsertNote(5000); err != nil {
			t.Fatal(err)
		}
		c.until("note credited", func(sn terminal.Snapshot) bool { return sn.Cash != nil && sn.Cash.Credit == want && !sn.Cash.InFlight })
	}
	if code, desc := c.do("Payment.Confirm", nil); code != "success" {
		t.Fatalf("confirm: %s %s", code, desc)
	}
	done := c.until("done", func(sn terminal.Snapshot) bool {
		return sn.Screen == terminal.ScreenDone && sn.Payment != nil && sn.Payment.Receipt != "printing"
	})
	if done.Payment.Receipt != "printed" {
		t.Fatalf("receipt %q (%s)", done.Payment.Receipt, done.Payment.ReceiptError)
	}
}

// TestTechnicianSelfTests: on the demo's hardware, each self-test does
// what it says through the real drivers and simulators: a test card is
// read (masked in the answer), the bill validator is enabled and
// inhibited again, the lights blink and are put back.
func TestTechnicianSelfTests(t *testing.T) {
	var profPath string
	s := startStackOpts(t, stackOptions{
		profile: func(dir string, sim *simulator.Simulator) *profile.Profile {
			p, path := profileFile(t, dir, writeDemoProfile)
			profPath = path
			return p
		},
		daemon: func(c *daemonConfig) { c.ProfilePath, c.TechPIN = profPath, testTechPIN },
	})
	for _, role := range []string{"billValidator", "idCardReader", "gpio"} {
		s.waitDevice(role, "online", func(h device.Health) bool { return h.State == device.Online })
	}
	var st selfTestResult
	// No card on the reader: the read fails, and says so.
	if code := techPost(t, s, "/api/tech/selftest/idCardReader", testTechPIN, nil, &st); code != http.StatusOK || st.OK {
		t.Fatalf("card read with no card: %d %+v", code, st)
	}
	if err := s.sim.PlaceCard("resident"); err != nil {
		t.Fatal(err)
	}
	if code := techPost(t, s, "/api/tech/selftest/idCardReader", testTechPIN, nil, &st); code != http.StatusOK || !st.OK || !strings.Contains(st.Detail, "*") {
		t.Fatalf("card read: %d %+v", code, st)
	}
	t.Logf("card: %s", st.Detail)
	s.sim.RemoveCard()

	if code := techPost(t, s, "/api/tech/selftest/billValidator", testTechPIN, nil, &st); code != http.StatusOK || !st.OK {
		t.Fatalf("validator cycle: %d %+v", code, st)
	}
	t.Logf("validator: %v", st.Steps)
	if h := s.health("billValidator"); strings.Contains(h.Detail, "accepting") {
		t.Fatalf("validator left accepting: %+v", h)
	}
	// Not while a resident uses the terminal.
	c := s.dial()
	if code, _ := c.do("Session.Start", map[string]string{"utility": "water"}); code != "success" {
		t.Fatal("session")
	}
	if code := techPost(t, s, "/api/tech/selftest/billValidator", testTechPIN, nil, &st); code != http.StatusConflict {
		t.Fatalf("validator cycle during a session: %d", code)
	}
	c.do("Session.Cancel", nil)

	before := s.sim.State().GPIO.Lights
	done := make(chan int, 1)
	go func() { done <- techPost(t, s, "/api/tech/selftest/gpio", testTechPIN, nil, &st) }()
	lit, dark := false, false // a light seen both ways: it blinks
	for i := 0; i < 50 && !(lit && dark); i++ {
		for n, on := range s.sim.State().GPIO.Lights {
			if on != before[n] {
				lit = lit || on
				dark = dark || !on
			} else if lit {
				dark = dark || !on
			}
		}
		time.Sleep(40 * time.Millisecond)
	}
	if code := <-done; code != http.StatusOK || !st.OK {
		t.Fatalf("blink: %d %+v", code, st)
	}
	if !lit || !dark {
		t.Fatalf("no light blinked on the simulated board (lit %v, dark %v)", lit, dark)
	}
	time.Sleep(100 * time.Millisecond)
	if after := s.sim.State().GPIO.Lights; fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("lights %v after the test, %v before", after, before)
	}
}
