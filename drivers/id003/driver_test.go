package id003_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/drivers/id003"
	"tongban/drivers/id003/codec"
	"tongban/drivers/id003/sim"
	"tongban/drivers/simport"
)

var allCNY = []int64{100, 500, 1000, 2000, 5000, 10000}

// recorder is a core stand-in: it records events and decides escrow.
type recorder struct {
	mu     sync.Mutex
	events []cash.Event
	decide cash.Decision
}

func (r *recorder) handle(ev cash.Event) cash.Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return r.decide
}

func (r *recorder) snapshot() []cash.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) count(k cash.Kind) int {
	n := 0
	for _, ev := range r.snapshot() {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// rig is a simulator on a pty and a driver on the follower side.
type rig struct {
	t    testing.TB
	link string
	ep   *simport.Endpoint
	sim  *sim.Sim
	drv  *id003.Driver
	rec  *recorder
	wrap func(io.ReadWriter) io.ReadWriter // set before startSim
}

func newRig(t testing.TB) *rig {
	return &rig{t: t, link: filepath.Join(t.TempDir(), "ttyBV0"), rec: &recorder{decide: cash.Stack}}
}

func (r *rig) startSim(cfg sim.Config) {
	r.t.Helper()
	ep, err := simport.Open(r.link, id003.DefaultLine())
	if err != nil {
		r.t.Fatal(err)
	}
	if cfg.Delays == (sim.Delays{}) {
		cfg.Delays = sim.FastDelays()
	}
	r.ep, r.sim = ep, sim.New(cfg)
	var rw io.ReadWriter = ep
	if r.wrap != nil {
		rw = r.wrap(ep)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.sim.Serve(context.Background(), rw); err != nil {
			r.t.Logf("sim: %v", err)
		}
	}()
	r.t.Cleanup(func() {
		ep.Close()
		<-done
	})
}

func (r *rig) startDriver(cfg id003.Config) {
	r.t.Helper()
	cfg.Name, cfg.Path = "billValidator", r.link
	if cfg.Logger == nil {
		cfg.Logger = testLogger(r.t)
	}
	r.drv = id003.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.drv.Run(ctx, r.rec.handle) }()
	r.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				r.t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			r.t.Error("Run did not stop")
		}
	})
}

func (r *rig) waitState(s device.State, detail string) {
	r.t.Helper()
	waitFor(r.t, 10*time.Second, fmt.Sprintf("state %s %q", s, detail), func() bool {
		h := r.drv.Health()
		return h.State == s && (detail == "" || strings.Contains(h.Detail, detail))
	})
}

func kinds(evs []cash.Event) []cash.Kind {
	var k []cash.Kind
	for _, e := range evs {
		k = append(k, e.Kind)
	}
	return k
}

func TestDefaultLineIs9600_8E1(t *testing.T) {
	// A pty ignores parity, so the setting is checked here instead.
	cfg := id003.New(id003.Config{Path: "/dev/null"}).Config()
	if cfg.Line.String() != "9600 8E1" {
		t.Fatalf("line %s, want 9600 8E1", cfg.Line)
	}
	if m, err := cfg.Line.Mode(); err != nil || m.Parity != 2 /* serial.EvenParity */ {
		t.Fatalf("mode %+v %v", m, err)
	}
	if cfg.PollInterval != 150*time.Millisecond || cfg.ResponseTimeout != 50*time.Millisecond || cfg.InitTimeout != 500*time.Millisecond {
		t.Fatalf("timing defaults %+v", cfg)
	}
}

// TestNoteCreditedOnce: a 10-yuan note at the default 150 ms poll is
// escrowed, credited and stacked, each reported exactly once, in order.
func TestNoteCreditedOnce(t *testing.T) {
	r := newRig(t)
	r.startSim(sim.Config{})
	r.startDriver(id003.Config{})
	r.drv.Enable(allCNY)
	r.waitState(device.Online, "accepting notes")
	if got := r.drv.Denominations(); !slices.Equal(got, allCNY) {
		t.Fatalf("Denominations %v (from 8A), want %v", got, allCNY)
	}
	if v := r.drv.Version(); v != sim.DefaultVersion {
		t.Fatalf("Version %q", v)
	}

	if err := r.sim.Insert(1000); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "stacked", func() bool { return r.rec.count(cash.Stacked) > 0 })
	time.Sleep(600 * time.Millisecond) // a few more polls: nothing may follow
	evs := r.rec.snapshot()
	want := []cash.Kind{cash.Escrowed, cash.Credited, cash.Stacked}
	if !slices.Equal(kinds(evs), want) {
		t.Fatalf("events %v, want %v", evs, want)
	}
	for _, ev := range evs {
		if ev.Value != 1000 || ev.Code != 0x63 {
			t.Errorf("event %v: want 1000 fen, code 63", ev)
		}
	}
	if cb := r.sim.CashBox(); cb[1000] != 1 || len(cb) != 1 {
		t.Fatalf("cash box %v", cb)
	}
	c := r.drv.Health().Counters
	if c["notes"] != 1 || c["credited"] != 1 || c["stacked"] != 1 {
		t.Fatalf("counters %v", c)
	}
}

func TestDisabledDenominationRejected(t *testing.T) {
	r := newRig(t)
	r.startSim(sim.Config{})
	r.startDriver(id003.Config{PollInterval: 50 * time.Millisecond})
	r.drv.Enable([]int64{1000}) // 10 yuan only
	r.waitState(device.Online, "accepting notes")
	r.sim.Insert(2000)
	waitFor(t, 10*time.Second, "reject", func() bool { return r.rec.count(cash.Rejected) > 0 })
	time.Sleep(300 * time.Millisecond)
	evs := r.rec.snapshot()
	if len(evs) != 1 || evs[0].Kind != cash.Rejected || !strings.Contains(evs[0].Detail, "inhibit") {
		t.Fatalf("events %v, want one reject (inhibited)", evs)
	}
	if len(r.sim.CashBox()) != 0 || r.drv.Health().Counters["rejects"] != 1 {
		t.Fatalf("cash box %v counters %v", r.sim.CashBox(), r.drv.Health().Counters)
	}

	// Enable takes effect at the next poll: now 20 yuan is fine, and an
	// empty list inhibits the acceptor (1A).
	r.drv.Enable([]int64{2000})
	time.Sleep(200 * time.Millisecond)
	r.sim.Insert(2000)
	waitFor(t, 10*time.Second, "credit", func() bool { return r.rec.count(cash.Stacked) > 0 })
	r.drv.Enable(nil)
	r.waitState(device.Online, "inhibited")
	r.sim.Insert(1000)
	waitFor(t, 10*time.Second, "second reject", func() bool { return r.rec.count(cash.Rejected) == 2 })
	if r.rec.count(cash.Credited) != 1 {
		t.Fatalf("events %v", r.rec.snapshot())
	}
}

func TestReturnDecision(t *testing.T) {
	r := newRig(t)
	r.rec.decide = cash.Return
	r.startSim(sim.Config{})
	r.startDriver(id003.Config{PollInterval: 50 * time.Millisecond})
	r.drv.Enable(allCNY)
	r.waitState(device.Online, "accepting notes")
	r.sim.Insert(5000)
	waitFor(t, 10*time.Second, "returned", func() bool { return r.rec.count(cash.Returned) > 0 })
	time.Sleep(300 * time.Millisecond)
	evs := r.rec.snapshot()
	if !slices.Equal(kinds(evs), []cash.Kind{cash.Escrowed, cash.Returned}) || evs[1].Value != 5000 {
		t.Fatalf("events %v, want escrowed then returned 5000", evs)
	}
	if len(r.sim.CashBox()) != 0 {
		t.Fatalf("cash box %v", r.sim.CashBox())
	}
}

func TestUnplugReplug(t *testing.T) {
	r := newRig(t)
	r.startSim(sim.Config{})
	r.startDriver(id003.Config{PollInterval: 50 * time.Millisecond, ReconnectMax: 400 * time.Millisecond})
	r.drv.Enable(allCNY)
	r.waitState(device.Online, "accepting notes")
	r.sim.Insert(1000)
	waitFor(t, 10*time.Second, "first note", func() bool { return r.rec.count(cash.Stacked) == 1 })

	r.ep.Unplug()
	waitFor(t, 5*time.Second, "port lost", func() bool {
		s := r.drv.Health().State
		return s == device.Offline || s == device.NoDevice
	})
	r.waitState(device.NoDevice, "")
	if err := r.ep.Replug(); err != nil {
		t.Fatal(err)
	}
	r.waitState(device.Online, "accepting notes")
	r.sim.Insert(500)
	waitFor(t, 10*time.Second, "second note", func() bool { return r.rec.count(cash.Stacked) == 2 })
	if r.rec.count(cash.Credited) != 2 {
		t.Fatalf("events %v", r.rec.snapshot())
	}
	if c := r.drv.Health().Counters; c["reconnects"] < 1 {
		t.Fatalf("counters %v", c)
	}
}

func TestMissingAtStart(t *testing.T) {
	r := newRig(t)
	r.startDriver(id003.Config{PollInterval: 50 * time.Millisecond, ReconnectMax: 300 * time.Millisecond})
	r.waitState(device.NoDevice, "")
	r.drv.Enable(allCNY)
	time.Sleep(300 * time.Millisecond) // a few failed opens
	r.startSim(sim.Config{})
	r.waitState(device.Online, "accepting notes")
	r.sim.Insert(10000)
	waitFor(t, 10*time.Second, "credit", func() bool { return r.rec.count(cash.Stacked) == 1 })
	if evs := r.rec.snapshot(); evs[1].Kind != cash.Credited || evs[1].Value != 10000 {
		t.Fatalf("events %v", evs)
	}
}

// TestPowerCut: power lost with a note in escrow (41) and past the stacker
// lever (42); the driver reports PowerUpWithNote, resets and recovers.
func TestPowerCut(t *testing.T) {
	r := newRig(t)
	r.startSim(sim.Config{Delays: sim.Delays{Accept: 5 * time.Millisecond, Stack: time.Hour, Stacked: 5 * time.Millisecond, Reject: 5 * time.Millisecond, Return: 5 * time.Millisecond}})
	r.startDriver(id003.Config{PollInterval: 50 * time.Millisecond})
	r.drv.Enable(allCNY)
	r.waitState(device.Online, "accepting notes")

	r.sim.Insert(2000)
	waitFor(t, 10*time.Second, "stacking", func() bool { return r.sim.Status() == 0x14 })
	r.sim.SetFault(sim.FaultPowerCut)
	waitFor(t, 10*time.Second, "power up event", func() bool { return r.rec.count(cash.PowerUpWithNote) == 1 })
	r.waitState(device.Online, "accepting notes")
	evs := r.rec.snapshot()
	if !slices.Equal(kinds(evs), []cash.Kind{cash.Escrowed, cash.PowerUpWithNote}) || evs[1].Detail != "stacker" {
		t.Fatalf("events %v", evs)
	}
	if cb := r.sim.CashBox(); cb[2000] != 1 {
		t.Fatalf("cash box %v: the stacker note is stored on reset", cb)
	}

	// Power lost while a returned note is still in the acceptor: 41, the
	// note comes back on reset and is reported returned only once.
	r = newRig(t)
	r.rec.decide = cash.Return
	r.startSim(sim.Config{Delays: sim.Delays{Accept: 5 * time.Millisecond, Stack: 5 * time.Millisecond, Stacked: 5 * time.Millisecond, Reject: 5 * time.Millisecond, Return: time.Hour}})
	r.startDriver(id003.Config{PollInterval: 50 * time.Millisecond})
	r.drv.Enable(allCNY)
	r.waitState(device.Online, "accepting notes")
	r.sim.Insert(500)
	waitFor(t, 10*time.Second, "returning", func() bool { return r.rec.count(cash.Returned) == 1 })
	r.sim.SetFault(sim.FaultPowerCut)
	waitFor(t, 10*time.Second, "power up event", func() bool { return r.rec.count(cash.PowerUpWithNote) == 1 })
	time.Sleep(500 * time.Millisecond)
	evs = r.rec.snapshot()
	if !slices.Equal(kinds(evs), []cash.Kind{cash.Escrowed, cash.Returned, cash.PowerUpWithNote}) || evs[2].Detail != "acceptor" {
		t.Fatalf("events %v", evs)
	}
}

// TestFaults: stacker open and a jam show in Health and clear again.
func TestFaults(t *testing.T) {
	r := newRig(t)
	r.startSim(sim.Config{})
	r.startDriver(id003.Config{PollInterval: 50 * time.Millisecond})
	r.drv.Enable(allCNY)
	r.waitState(device.Online, "accepting notes")
	var changes atomic.Int32
	r.drv.OnHealth(func(device.Health) { changes.Add(1) })

	r.sim.SetFault(sim.FaultStackerOpen)
	r.waitState(device.UserError, "stacker open")
	r.sim.SetFault(sim.FaultNone)
	r.waitState(device.Online, "accepting notes")
	r.sim.SetFault(sim.FaultJamInAcceptor)
	r.waitState(device.HardwareError, "jam in acceptor")
	r.sim.SetFault(sim.FaultNone)
	r.waitState(device.Online, "accepting notes")
	h := r.drv.Health()
	if h.Counters["jams"] != 1 || h.LastError == "" {
		t.Fatalf("health %+v", h)
	}
	if changes.Load() < 4 {
		t.Fatalf("OnHealth called %d times", changes.Load())
	}
}

// noisy corrupts the line both ways at random (fixed seed): about one
// host frame in five loses a bit pattern in its last byte (the simulator
// drops it, as the device would: lost commands, lost ACKs), and about one
// answer in five is preceded by garbage. The driver must still credit each
// note exactly once.
type noisy struct {
	rw  io.ReadWriter
	rnd *rand.Rand
	mu  sync.Mutex
}

func (n *noisy) hit() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rnd.IntN(5) == 0
}

func (n *noisy) Read(p []byte) (int, error) {
	k, err := n.rw.Read(p)
	if k > 0 && n.hit() {
		p[k-1] ^= 0x5A
	}
	return k, err
}

func (n *noisy) Write(p []byte) (int, error) {
	if n.hit() {
		n.rw.Write([]byte{0x00, 0xFC, 0x03, 0x99})
	}
	return n.rw.Write(p)
}

func TestNoisyLine(t *testing.T) {
	r := newRig(t)
	r.wrap = func(rw io.ReadWriter) io.ReadWriter { return &noisy{rw: rw, rnd: rand.New(rand.NewPCG(3, 4))} }
	r.startSim(sim.Config{})
	r.startDriver(id003.Config{PollInterval: 30 * time.Millisecond})
	r.drv.Enable(allCNY)
	r.waitState(device.Online, "accepting notes")
	notes := []int64{100, 500, 1000, 2000, 5000, 10000, 1000, 1000}
	var sum int64
	for _, v := range notes {
		sum += v
		if err := r.sim.Insert(v); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "all notes stacked", func() bool {
		n := 0
		for _, c := range r.sim.CashBox() {
			n += c
		}
		return n == len(notes) && r.rec.count(cash.Stacked) == len(notes)
	})
	time.Sleep(300 * time.Millisecond)
	var credited int64
	for _, ev := range r.rec.snapshot() {
		if ev.Kind == cash.Credited {
			credited += ev.Value
		}
	}
	if credited != sum || r.rec.count(cash.Credited) != len(notes) || r.rec.count(cash.Escrowed) != len(notes) {
		t.Fatalf("credited %d fen in %d events, want %d in %d: %v", credited, r.rec.count(cash.Credited), sum, len(notes), r.rec.snapshot())
	}
	c := r.drv.Health().Counters
	if c["timeouts"] == 0 || c["framingErrors"]+c["crcErrors"] == 0 {
		t.Fatalf("the noise did not show in the counters: %v", c)
	}
	t.Logf("counters %v", c)
}

// dropFirstACK garbles the host's first ACK (50) on its way to the
// acceptor, which therefore keeps reporting vend valid.
type dropFirstACK struct {
	rw      io.ReadWriter
	dropped atomic.Bool
}

func (d *dropFirstACK) Read(p []byte) (int, error) {
	k, err := d.rw.Read(p)
	ack := []byte{0xFC, 0x05, 0x50, 0xAA, 0x05}
	if i := bytes.Index(p[:k], ack); i >= 0 && d.dropped.CompareAndSwap(false, true) {
		p[i+4] ^= 0xFF
	}
	return k, err
}

func (d *dropFirstACK) Write(p []byte) (int, error) { return d.rw.Write(p) }

// TestLostACKCreditsOnce: vend valid repeats because the ACK was lost;
// the driver ACKs again but credits only once.
func TestLostACKCreditsOnce(t *testing.T) {
	r := newRig(t)
	drop := &dropFirstACK{}
	r.wrap = func(rw io.ReadWriter) io.ReadWriter { drop.rw = rw; return drop }
	r.startSim(sim.Config{})
	r.startDriver(id003.Config{PollInterval: 50 * time.Millisecond})
	r.drv.Enable(allCNY)
	r.waitState(device.Online, "accepting notes")
	r.sim.Insert(1000)
	waitFor(t, 10*time.Second, "stacked", func() bool { return r.rec.count(cash.Stacked) == 1 })
	time.Sleep(200 * time.Millisecond)
	if !drop.dropped.Load() {
		t.Fatal("no ACK was dropped")
	}
	if got := kinds(r.rec.snapshot()); !slices.Equal(got, []cash.Kind{cash.Escrowed, cash.Credited, cash.Stacked}) {
		t.Fatalf("events %v", got)
	}
	if cb := r.sim.CashBox(); cb[1000] != 1 {
		t.Fatalf("cash box %v", cb)
	}
}

// silence hides some host commands from the simulator, as an acceptor
// that does not implement them and stays silent would.
type silence struct {
	rw   io.ReadWriter
	cmds []byte
}

func (s *silence) Read(p []byte) (int, error) {
	k, err := s.rw.Read(p)
	if k >= 3 && p[0] == 0xFC && bytes.IndexByte(s.cmds, p[2]) >= 0 {
		return 0, err // the frame never arrives
	}
	return k, err
}

func (s *silence) Write(p []byte) (int, error) { return s.rw.Write(p) }

// TestNoCurrencyTableUsesProfile: an acceptor that answers neither the
// currency table, the version nor the direction setting still comes
// online, and escrow codes are valued with the profile's static map.
func TestNoCurrencyTableUsesProfile(t *testing.T) {
	r := newRig(t)
	r.wrap = func(rw io.ReadWriter) io.ReadWriter { return &silence{rw: rw, cmds: []byte{0x8A, 0x88, 0xC4}} }
	r.startSim(sim.Config{})
	static := map[byte]int64{0x61: 100, 0x62: 500, 0x63: 1000, 0x64: 2000, 0x65: 5000, 0x66: 10000}
	r.startDriver(id003.Config{PollInterval: 50 * time.Millisecond, InitTimeout: 100 * time.Millisecond, Denominations: static})
	r.drv.Enable([]int64{5000})
	r.waitState(device.Online, "accepting notes")
	if got := r.drv.Denominations(); !slices.Equal(got, allCNY) || r.drv.Version() != "" {
		t.Fatalf("Denominations %v version %q", got, r.drv.Version())
	}
	r.sim.Insert(5000)
	waitFor(t, 10*time.Second, "stacked", func() bool { return r.rec.count(cash.Stacked) == 1 })
	if evs := r.rec.snapshot(); evs[1].Kind != cash.Credited || evs[1].Value != 5000 {
		t.Fatalf("events %v", evs)
	}
}

// TestUnknownValueIsReturned: without a table or profile the driver
// cannot value a note, so it returns it even if the core says stack.
func TestUnknownValueIsReturned(t *testing.T) {
	r := newRig(t)
	r.wrap = func(rw io.ReadWriter) io.ReadWriter { return &silence{rw: rw, cmds: []byte{0x8A}} }
	r.startSim(sim.Config{})
	r.startDriver(id003.Config{PollInterval: 50 * time.Millisecond, InitTimeout: 100 * time.Millisecond})
	// Nothing is known, so Enable cannot enable a code: the acceptor is
	// inhibited. Open it up by hand to get a note into escrow.
	r.drv.Enable(allCNY)
	r.waitState(device.Online, "inhibited")
	r.sim.Respond(codecFrame(0xC3, 0x00))
	r.sim.Respond(codecFrame(0xC0, 0x00, 0x00))
	r.sim.Insert(1000)
	waitFor(t, 10*time.Second, "returned", func() bool { return r.rec.count(cash.Returned) == 1 })
	evs := r.rec.snapshot()
	if evs[0].Kind != cash.Escrowed || evs[0].Value != 0 || !strings.Contains(evs[0].Detail, "unknown denomination") || r.rec.count(cash.Credited) != 0 {
		t.Fatalf("events %v", evs)
	}
	if len(r.sim.CashBox()) != 0 {
		t.Fatalf("cash box %v", r.sim.CashBox())
	}
}

func codecFrame(cmd byte, data ...byte) codec.Frame { return codec.Frame{Cmd: cmd, Data: data} }
