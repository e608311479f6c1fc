package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/drivers/idcard"
	"tongban/drivers/pulse"
	"tongban/drivers/simgpio"
)

type rig struct {
	t   *testing.T
	sim *Simulator
	url string
}

func newRig(t *testing.T, protocol string) *rig {
	t.Helper()
	s, err := New(Options{Dir: filepath.Join(t.TempDir(), "sim"), Fast: true, BillValidator: protocol})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return &rig{t: t, sim: s, url: srv.URL}
}

// call posts body (nil: a GET) and returns the status and decoded reply.
func (r *rig) call(path string, body any) (int, map[string]any) {
	r.t.Helper()
	var resp *http.Response
	var err error
	if body == nil && !strings.HasPrefix(path, "/card/remove") {
		resp, err = http.Get(r.url + path)
	} else {
		b, _ := json.Marshal(body)
		resp, err = http.Post(r.url+path, "application/json", bytes.NewReader(b))
	}
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		r.t.Fatalf("%s: %v: %s", path, err, raw)
	}
	return resp.StatusCode, out
}

func (r *rig) ok(path string, body any) map[string]any {
	r.t.Helper()
	code, out := r.call(path, body)
	if code != http.StatusOK {
		r.t.Fatalf("%s %v: %d %v", path, body, code, out)
	}
	return out
}

func (r *rig) refused(path string, body any, code int, want string) {
	r.t.Helper()
	got, out := r.call(path, body)
	if got != code || !strings.Contains(out["error"].(string), want) {
		r.t.Fatalf("%s %v: %d %v, want %d with %q", path, body, got, out, code, want)
	}
}

func (r *rig) state() State {
	r.t.Helper()
	resp, err := http.Get(r.url + "/state")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		r.t.Fatal(err)
	}
	return st
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEveryDeviceHasALink(t *testing.T) {
	r := newRig(t, "")
	for _, role := range Roles() {
		if _, err := os.Lstat(r.sim.Link(role)); err != nil {
			t.Errorf("%s: %v", role, err)
		}
	}
	st := r.state()
	if st.BillValidator.Protocol != ProtocolID003 || !st.BillValidator.Plugged || st.BillValidator.Path == "" {
		t.Errorf("bill validator %+v", st.BillValidator)
	}
	if !st.Printer.Plugged || !st.IDCardReader.Plugged || !st.Scanner.Plugged || st.Scanner.Model != "newland" {
		t.Errorf("state %+v", st)
	}
	if !st.CoinAcceptor.Inhibited || st.CoinAcceptor.Pin != "sim:coin" || len(st.GPIO.Inputs) != 3 || len(st.GPIO.Lights) != 3 {
		t.Errorf("gpio state %+v %+v", st.CoinAcceptor, st.GPIO)
	}
	if len(st.IDCardReader.Samples) != 5 || !slices.Contains(st.IDCardReader.Samples, "resident") {
		t.Errorf("samples %v", st.IDCardReader.Samples)
	}
}

func TestFaultsEveryDevice(t *testing.T) {
	r := newRig(t, "")
	for _, c := range []struct{ device, fault, shown string }{
		{"billValidator", "stackerOpen", "stackerOpen"},
		{"printer", "paperEnd", "paperEnd"},
		{"printer", "runOutAfter:300", "runOutAfter:300"},
		{"idCardReader", "mute", "mute"},
		{"idCardReader", "samFault", "samFault"},
		{"idCardReader", "slow:200", "slow:200"},
		{"scanner", "deaf", "deaf"},
		{"scanner", "refuse:enq", "refuse:enq"},
		{"coinAcceptor", "bounce:2", "bounce:2"},
		{"gpio", "bounce", "bounce"},
	} {
		r.ok("/fault", map[string]string{"device": c.device, "fault": c.fault})
		st := r.state()
		got := map[string][]string{"billValidator": st.BillValidator.Faults, "printer": st.Printer.Faults, "idCardReader": st.IDCardReader.Faults,
			"scanner": st.Scanner.Faults, "coinAcceptor": st.CoinAcceptor.Faults, "gpio": st.GPIO.Faults}[c.device]
		if !slices.Contains(got, c.shown) {
			t.Errorf("%s %s: state shows %v", c.device, c.fault, got)
		}
	}
	if r.sim.Printer().Status().Ready() {
		t.Error("printer ready with paper end")
	}
	// One-shot faults are accepted and not listed.
	for _, c := range [][2]string{{"billValidator", "powerCut"}, {"idCardReader", "garbage:4"}, {"idCardReader", "fail:41"},
		{"idCardReader", "removeDuringRead"}, {"idCardReader", "truncate"}, {"scanner", "garbage"}, {"scanner", "dropSuffix"},
		{"coinAcceptor", "glitch:3"}, {"gpio", "glitch:door"}} {
		r.ok("/fault", map[string]string{"device": c[0], "fault": c[1]})
	}
	// A lasting fault switches off alone; none clears the rest.
	r.ok("/fault", map[string]string{"device": "printer", "fault": "paperEnd:off"})
	if st := r.state(); slices.Contains(st.Printer.Faults, "paperEnd") || !slices.Contains(st.Printer.Faults, "runOutAfter:300") {
		t.Errorf("after paperEnd:off: %v", st.Printer.Faults)
	}
	for _, d := range Roles() {
		r.ok("/fault", map[string]string{"device": d, "fault": "none"})
	}
	st := r.state()
	if n := len(st.BillValidator.Faults) + len(st.Printer.Faults) + len(st.IDCardReader.Faults) + len(st.Scanner.Faults) +
		len(st.CoinAcceptor.Faults) + len(st.GPIO.Faults); n != 0 {
		t.Errorf("faults left after none: %+v", st)
	}
	if !r.sim.Printer().Status().Ready() {
		t.Error("printer not ready after none")
	}

	r.refused("/fault", map[string]string{"device": "printer", "fault": "onFire"}, 400, "want one of")
	r.refused("/fault", map[string]string{"device": "toaster", "fault": "none"}, 400, "unknown device")
	r.refused("/fault", map[string]string{"device": "idCardReader", "fault": "garbage:off"}, 400, "acts once")
	r.refused("/fault", map[string]string{"device": "idCardReader", "fault": "fail:zz"}, 400, "hex")
	r.refused("/fault", map[string]string{"device": "billValidator", "fault": "safeJam"}, 400, "want one of") // SSP only
	r.refused("/fault", map[string]string{"device": "gpio", "fault": "chatter:window"}, 400, "want door")

	resp, err := http.Get(r.url + "/faults")
	if err != nil {
		t.Fatal(err)
	}
	var help map[string][]string
	json.NewDecoder(resp.Body).Decode(&help)
	resp.Body.Close()
	for _, role := range Roles() {
		if len(help[role]) < 2 {
			t.Errorf("/faults %s: %v", role, help[role])
		}
	}
}

func TestSSPSelectable(t *testing.T) {
	r := newRig(t, ProtocolSSP)
	if st := r.state(); st.BillValidator.Protocol != "ssp" || r.sim.SSP() == nil || r.sim.BillValidator() != nil {
		t.Fatalf("state %+v", st.BillValidator)
	}
	for _, f := range []string{"safeJam", "unsafeJam", "stackerFull", "cashboxRemoved", "fraud", "slow:100"} {
		r.ok("/fault", map[string]string{"device": "billValidator", "fault": f})
	}
	// One condition at a time; the line fault stays.
	if st := r.state(); !slices.Equal(st.BillValidator.Faults, []string{"fraud", "slow:100"}) {
		t.Errorf("faults %v", st.BillValidator.Faults)
	}
	for _, f := range []string{"powerCut", "garbage:2", "dropReplies", "dropBytes:3", "none"} {
		r.ok("/fault", map[string]string{"device": "billValidator", "fault": f})
	}
	r.refused("/fault", map[string]string{"device": "billValidator", "fault": "stackerOpen"}, 400, "want one of") // ID003 only
	// Disabled after power-up: a note is refused, not lost.
	r.refused("/insert", map[string]int{"value": 1000}, 409, "not accepting")
	if _, err := New(Options{Dir: t.TempDir(), BillValidator: "cctalk"}); err == nil {
		t.Fatal("unknown protocol accepted")
	}
}

func TestCardScanSwitchesAndPlugs(t *testing.T) {
	r := newRig(t, "")
	r.ok("/card/place", map[string]string{"sample": "resident"})
	if c, ok := r.sim.IDCardReader().Card(); !ok || c.Text.IDNumber == "" || r.state().IDCardReader.Card != "resident" {
		t.Fatal("card not placed")
	}
	r.refused("/card/place", map[string]string{"sample": "passport"}, 400, "foreign2017")
	r.ok("/card/remove", nil)
	if _, ok := r.sim.IDCardReader().Card(); ok || r.state().IDCardReader.Card != "" {
		t.Fatal("card not removed")
	}

	out := r.ok("/scan", map[string]string{"code": "0112001001000001"})
	if out["presented"] != float64(16) {
		t.Errorf("scan reply %v", out)
	}
	r.refused("/scan", map[string]string{"code": ""}, 400, "non-empty")

	r.ok("/gpio", map[string]any{"input": "door", "active": true})
	if st := r.state(); !st.GPIO.Inputs["door"] || st.GPIO.Inputs["tamper"] {
		t.Errorf("inputs %v", st.GPIO.Inputs)
	}
	r.refused("/gpio", map[string]any{"input": "window", "active": true}, 400, "want door")

	// No daemon has released the coin acceptor: the coin comes back.
	r.refused("/coin", map[string]int{"value": 100}, 409, "inhibited")
	r.refused("/coin", map[string]int{"value": 30}, 400, "takes")

	for _, role := range SerialRoles() {
		r.ok("/plug", map[string]any{"device": role, "in": false})
		if _, err := os.Lstat(r.sim.Link(role)); err == nil {
			t.Errorf("%s: link still there while unplugged", role)
		}
		r.ok("/plug", map[string]any{"device": role, "in": true})
		if _, err := os.Lstat(r.sim.Link(role)); err != nil {
			t.Errorf("%s: no link after replug: %v", role, err)
		}
		st := r.state()
		plugged := map[string]bool{BillValidator: st.BillValidator.Plugged, Printer: st.Printer.Plugged, IDCardReader: st.IDCardReader.Plugged, Scanner: st.Scanner.Plugged}
		if !plugged[role] {
			t.Errorf("%s: not plugged after replug: %+v", role, st)
		}
	}
	r.refused("/plug", map[string]any{"device": "gpio", "in": false}, 400, "cannot be unplugged")
	r.refused("/insert", map[string]any{"value": 1000, "colour": "red"}, 400, "value")

	// Only loopback pages may call the API.
	req, _ := http.NewRequest(http.MethodPost, r.url+"/insert", strings.NewReader(`{"value":1000}`))
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin: %d", resp.StatusCode)
	}
}

// TestDriversAgainstTheSimulator runs the real ID card and pulse drivers
// on the simulator's links: a card placed through the API is read over
// the pty, and a coin goes through the GPIO board once the driver
// releases the acceptor.
func TestDriversAgainstTheSimulator(t *testing.T) {
	r := newRig(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	reader := idcard.New(idcard.Config{Path: r.sim.Link(IDCardReader)})
	wg.Go(func() { reader.Run(ctx) })
	waitFor(t, "reader online", func() bool { return reader.Health().State == device.Online })
	r.ok("/card/place", map[string]string{"sample": "resident"})
	c, err := reader.Read(ctx, idcard.ReadOptions{})
	if err != nil || c.Text.Name != "张三" {
		t.Fatalf("read %q: %v", c.Text.Name, err)
	}

	board := simgpio.NewClient(r.sim.Link(CoinAcceptor), nil)
	wg.Go(func() { board.Run(ctx) })
	var mu sync.Mutex
	var credited int64
	coins := pulse.New(pulse.Config{Name: CoinAcceptor, Pin: board.Pin(PinCoin), InhibitPin: board.Pin(PinCoinInhibit), InhibitLevel: gpio.High,
		ValuePerPulse: CoinValuePerPulse, ActiveLow: true, Denominations: Coins(), ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond})
	wg.Go(func() {
		coins.Run(ctx, func(e cash.Event) cash.Decision {
			if e.Kind == cash.Credited {
				mu.Lock()
				credited += e.Value
				mu.Unlock()
			}
			return cash.Return
		})
	})
	waitFor(t, "coin acceptor online", func() bool { return coins.Health().State == device.Online })
	coins.Enable(Coins())
	waitFor(t, "acceptor released", func() bool { return !r.state().CoinAcceptor.Inhibited })
	r.ok("/coin", map[string]int{"value": 100})
	waitFor(t, "coin credited", func() bool { mu.Lock(); defer mu.Unlock(); return credited == 100 })
	if st := r.state(); st.CoinAcceptor.Total != 100 || st.GPIO.Clients != 1 {
		t.Errorf("coin acceptor %+v, gpio clients %d", st.CoinAcceptor, st.GPIO.Clients)
	}
	r.ok("/fault", map[string]string{"device": "coinAcceptor", "fault": "stuck"})
	waitFor(t, "stuck line reported", func() bool { return coins.Health().State == device.HardwareError })
	r.ok("/fault", map[string]string{"device": "coinAcceptor", "fault": "none"})
	waitFor(t, "line released", func() bool { return coins.Health().State == device.Online })
}
