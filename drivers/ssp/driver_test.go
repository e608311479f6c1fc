package ssp_test

import (
	"context"
	"errors"
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
	"tongban/drivers/simport"
	"tongban/drivers/ssp"
	"tongban/drivers/ssp/codec"
	"tongban/drivers/ssp/sim"
)

var allCNY = []int64{100, 500, 1000, 2000, 5000, 10000}

// recorder is a core stand-in: it records events and decides escrow.
type recorder struct {
	mu     sync.Mutex
	events []cash.Event
	decide cash.Decision
	delay  time.Duration // how long the core takes over an escrowed note
}

func (r *recorder) handle(ev cash.Event) cash.Decision {
	r.mu.Lock()
	r.events = append(r.events, ev)
	d, delay := r.decide, r.delay
	r.mu.Unlock()
	if ev.Kind == cash.Escrowed && delay > 0 {
		time.Sleep(delay)
	}
	return d
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

func (r *recorder) sum(k cash.Kind) int64 {
	var v int64
	for _, ev := range r.snapshot() {
		if ev.Kind == k {
			v += ev.Value
		}
	}
	return v
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
	drv  *ssp.Driver
	rec  *recorder
	wrap func(io.ReadWriter) io.ReadWriter // set before startSim
}

func newRig(t testing.TB) *rig {
	return &rig{t: t, link: filepath.Join(t.TempDir(), "ttyBV0"), rec: &recorder{decide: cash.Stack}}
}

func (r *rig) startSim(cfg sim.Config) {
	r.t.Helper()
	ep, err := simport.Open(r.link, ssp.DefaultLine())
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

// fast are test timings: quick polls and short reply waits.
func fast(cfg ssp.Config) ssp.Config {
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 40 * time.Millisecond
	}
	if cfg.ResponseTimeout == 0 {
		cfg.ResponseTimeout = 150 * time.Millisecond
	}
	if cfg.ReconnectMax == 0 {
		cfg.ReconnectMax = 400 * time.Millisecond
	}
	return cfg
}

func (r *rig) startDriver(cfg ssp.Config) {
	r.t.Helper()
	cfg.Name, cfg.Path = "billValidator", r.link
	if cfg.Logger == nil {
		cfg.Logger = testLogger(r.t)
	}
	r.drv = ssp.New(cfg)
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

func (r *rig) insert(v int64) {
	r.t.Helper()
	if err := r.sim.Insert(v); err != nil {
		r.t.Fatal(err)
	}
}

func kinds(evs []cash.Event) []cash.Kind {
	var k []cash.Kind
	for _, e := range evs {
		k = append(k, e.Kind)
	}
	return k
}

// ready starts a simulator and a driver accepting every CNY note.
func ready(t *testing.T, encrypted bool, scfg sim.Config, dcfg ssp.Config) *rig {
	t.Helper()
	r := newRig(t)
	scfg.RequireEncryption = encrypted
	r.startSim(scfg)
	dcfg.Encrypted = encrypted
	r.startDriver(fast(dcfg))
	r.drv.Enable(allCNY)
	r.waitState(device.Online, "accepting notes")
	return r
}

func modes(t *testing.T, f func(t *testing.T, encrypted bool)) {
	t.Run("SSP", func(t *testing.T) { f(t, false) })
	t.Run("eSSP", func(t *testing.T) { f(t, true) })
}

func TestDefaults(t *testing.T) {
	// A pty ignores stop bits and parity, so the setting is checked here.
	cfg := ssp.New(ssp.Config{Path: "/dev/null"}).Config()
	if cfg.Line.String() != "9600 8N2" {
		t.Fatalf("line %s, want 9600 8N2", cfg.Line)
	}
	if m, err := cfg.Line.Mode(); err != nil || m.StopBits != 2 /* serial.TwoStopBits */ || m.Parity != 0 || m.DataBits != 8 {
		t.Fatalf("mode %+v %v", m, err)
	}
	if cfg.PollInterval != 300*time.Millisecond || cfg.ResponseTimeout != time.Second || cfg.Retries != 20 ||
		cfg.Protocol != 6 || cfg.FixedKey != 0x0123456701234567 || cfg.Addr != 0 {
		t.Fatalf("defaults %+v", cfg)
	}
}

// TestNoteCreditedOnce: a 10-yuan note at the default 300 ms poll is
// escrowed, credited and stacked, each reported exactly once, in order,
// in plain SSP and in eSSP.
func TestNoteCreditedOnce(t *testing.T) {
	modes(t, func(t *testing.T, encrypted bool) {
		r := ready(t, encrypted, sim.Config{}, ssp.Config{PollInterval: ssp.DefaultPollInterval})
		if got := r.drv.Denominations(); !slices.Equal(got, allCNY) {
			t.Fatalf("Denominations %v (from the setup request), want %v", got, allCNY)
		}
		if st, ok := r.drv.Setup(); !ok || st.Country != "CNY" || r.drv.Serial() != sim.DefaultSerial {
			t.Fatalf("setup %+v serial %d", st, r.drv.Serial())
		}
		if s := r.sim.State(); !s.Enabled || s.Inhibits != 0x3F || s.Protocol != 6 || s.Encrypted != encrypted {
			t.Fatalf("simulator state %+v", s)
		}
		r.insert(1000)
		waitFor(t, 10*time.Second, "stacked", func() bool { return r.rec.count(cash.Stacked) > 0 })
		time.Sleep(700 * time.Millisecond) // a few more polls: nothing may follow
		evs := r.rec.snapshot()
		if !slices.Equal(kinds(evs), []cash.Kind{cash.Escrowed, cash.Credited, cash.Stacked}) {
			t.Fatalf("events %v", evs)
		}
		for _, ev := range evs {
			if ev.Value != 1000 || ev.Code != 3 {
				t.Errorf("event %v: want 1000 fen on channel 3", ev)
			}
			// At is when the poll reply carrying it arrived, for latency.
			if ev.At.IsZero() || time.Since(ev.At) > 10*time.Second {
				t.Errorf("event %v: arrival time %v", ev, ev.At)
			}
		}
		if cb := r.sim.CashBox(); cb[1000] != 1 || len(cb) != 1 {
			t.Fatalf("cash box %v", cb)
		}
		c := r.drv.Health().Counters
		if c["notes"] != 1 || c["credited"] != 1 || c["stacked"] != 1 {
			t.Fatalf("counters %v", c)
		}
		st := r.sim.Stats()
		if encrypted && (st.Encrypted < 5 || st.KeyExchange != 1 || c["keyExchanges"] != 1) {
			t.Fatalf("eSSP not used: sim %+v counters %v", st, c)
		}
		if !encrypted && st.Encrypted != 0 {
			t.Fatalf("plain SSP sent encrypted packets: %+v", st)
		}
	})
}

func TestReturnDecision(t *testing.T) {
	modes(t, func(t *testing.T, encrypted bool) {
		r := newRig(t)
		r.rec.decide = cash.Return
		r.startSim(sim.Config{RequireEncryption: encrypted})
		r.startDriver(fast(ssp.Config{Encrypted: encrypted}))
		r.drv.Enable(allCNY)
		r.waitState(device.Online, "accepting notes")
		r.insert(5000)
		waitFor(t, 10*time.Second, "returned", func() bool { return r.rec.count(cash.Returned) > 0 })
		time.Sleep(300 * time.Millisecond)
		evs := r.rec.snapshot()
		if !slices.Equal(kinds(evs), []cash.Kind{cash.Escrowed, cash.Returned}) || evs[1].Value != 5000 || evs[1].Code != 5 {
			t.Fatalf("events %v, want escrowed then returned 5000", evs)
		}
		if len(r.sim.CashBox()) != 0 {
			t.Fatalf("cash box %v", r.sim.CashBox())
		}
	})
}

func TestDisabledChannelRejected(t *testing.T) {
	r := newRig(t)
	r.startSim(sim.Config{})
	r.startDriver(fast(ssp.Config{}))
	r.drv.Enable([]int64{1000}) // 10 yuan only
	r.waitState(device.Online, "accepting notes")
	waitFor(t, 5*time.Second, "inhibits", func() bool { return r.sim.State().Inhibits == 0x04 })
	r.insert(2000)
	waitFor(t, 10*time.Second, "reject", func() bool { return r.rec.count(cash.Rejected) > 0 })
	time.Sleep(200 * time.Millisecond)
	evs := r.rec.snapshot()
	if len(evs) != 1 || evs[0].Kind != cash.Rejected || !strings.Contains(evs[0].Detail, fmt.Sprintf("reject code %02X", sim.RejectInhibited)) {
		t.Fatalf("events %v, want one reject (channel inhibited)", evs)
	}
	if len(r.sim.CashBox()) != 0 || r.drv.Health().Counters["rejects"] != 1 {
		t.Fatalf("cash box %v counters %v", r.sim.CashBox(), r.drv.Health().Counters)
	}

	// Enable takes effect at the next poll; an empty list disables.
	r.drv.Enable([]int64{2000})
	waitFor(t, 5*time.Second, "inhibits", func() bool { return r.sim.State().Inhibits == 0x08 })
	r.insert(2000)
	waitFor(t, 10*time.Second, "credit", func() bool { return r.rec.count(cash.Stacked) > 0 })
	r.drv.Enable(nil)
	r.waitState(device.Online, "inhibited")
	waitFor(t, 5*time.Second, "disabled", func() bool { return !r.sim.State().Enabled })
	if err := r.sim.Insert(1000); !errors.Is(err, sim.ErrNotAccepting) {
		t.Fatalf("Insert while disabled: %v", err)
	}
	if r.rec.count(cash.Credited) != 1 || r.rec.sum(cash.Credited) != 2000 {
		t.Fatalf("events %v", r.rec.snapshot())
	}
}

// TestLostReplyCreditsOnce: the poll reply carrying the credit is lost on
// the line; the driver sends the identical request again, the validator
// answers with the same reply, and the note is credited exactly once.
func TestLostReplyCreditsOnce(t *testing.T) {
	modes(t, func(t *testing.T, encrypted bool) {
		r := ready(t, encrypted, sim.Config{}, ssp.Config{})
		r.sim.DropReplyWithEvent(codec.EvCredit)
		r.insert(10000)
		waitFor(t, 10*time.Second, "stacked", func() bool { return r.rec.count(cash.Stacked) == 1 })
		time.Sleep(300 * time.Millisecond)
		if got := kinds(r.rec.snapshot()); !slices.Equal(got, []cash.Kind{cash.Escrowed, cash.Credited, cash.Stacked}) {
			t.Fatalf("events %v", r.rec.snapshot())
		}
		st, c := r.sim.Stats(), r.drv.Health().Counters
		if st.Dropped != 1 || st.Repeats < 1 || c["retransmits"] < 1 || c["credited"] != 1 || r.rec.sum(cash.Credited) != 10000 {
			t.Fatalf("sim %+v counters %v", st, c)
		}
		if cb := r.sim.CashBox(); cb[10000] != 1 {
			t.Fatalf("cash box %v", cb)
		}
	})
}

// noisy corrupts the line both ways at random (fixed seed): some host
// frames lose a bit pattern in their last byte (the simulator drops them:
// lost commands), some replies come after garbage or lose a byte.
type noisy struct {
	rw  io.ReadWriter
	mu  sync.Mutex
	rnd *rand.Rand
}

func (n *noisy) roll(k int) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rnd.IntN(k)
}

func (n *noisy) Read(p []byte) (int, error) {
	k, err := n.rw.Read(p)
	if k > 0 && n.roll(6) == 0 {
		p[k-1] ^= 0x5A
	}
	return k, err
}

func (n *noisy) Write(p []byte) (int, error) {
	switch n.roll(8) {
	case 0:
		n.rw.Write([]byte{0x00, 0x7F, 0x80, 0x7F, 0x13})
	case 1:
		if len(p) > 3 {
			q := append(slices.Clone(p[:2]), p[3:]...) // a byte lost on the wire
			_, err := n.rw.Write(q)
			return len(p), err
		}
	}
	return n.rw.Write(p)
}

func TestNoisyLine(t *testing.T) {
	modes(t, func(t *testing.T, encrypted bool) {
		r := newRig(t)
		r.wrap = func(rw io.ReadWriter) io.ReadWriter { return &noisy{rw: rw, rnd: rand.New(rand.NewPCG(3, 4))} }
		r.startSim(sim.Config{RequireEncryption: encrypted})
		r.startDriver(fast(ssp.Config{Encrypted: encrypted, PollInterval: 30 * time.Millisecond, ResponseTimeout: 100 * time.Millisecond}))
		r.drv.Enable(allCNY)
		r.waitState(device.Online, "accepting notes")
		r.sim.Garbage(3)
		r.sim.DropBytes(3)
		notes := []int64{100, 500, 1000, 2000, 5000, 10000, 1000, 1000}
		var sum int64
		for _, v := range notes {
			sum += v
			r.insert(v)
		}
		waitFor(t, 60*time.Second, "all notes stacked", func() bool {
			n := 0
			for _, c := range r.sim.CashBox() {
				n += c
			}
			return n == len(notes) && r.rec.count(cash.Stacked) == len(notes)
		})
		time.Sleep(300 * time.Millisecond)
		if r.rec.sum(cash.Credited) != sum || r.rec.count(cash.Credited) != len(notes) || r.rec.count(cash.Escrowed) != len(notes) {
			t.Fatalf("credited %d fen in %d events, want %d in %d: %v", r.rec.sum(cash.Credited), r.rec.count(cash.Credited), sum, len(notes), r.rec.snapshot())
		}
		c := r.drv.Health().Counters
		if c["timeouts"] == 0 || c["retransmits"] == 0 || c["framingErrors"]+c["crcErrors"] == 0 {
			t.Fatalf("the noise did not show in the counters: %v", c)
		}
		t.Logf("counters %v, sim %+v", c, r.sim.Stats())
	})
}

// TestSlowDevice: replies slower than the reply wait are late; the driver
// sends again, takes the first good reply, skips the stale ones, and
// still credits once.
func TestSlowDevice(t *testing.T) {
	r := ready(t, false, sim.Config{}, ssp.Config{ResponseTimeout: 200 * time.Millisecond})
	r.sim.SetReplyDelay(120 * time.Millisecond) // slow but in time
	r.insert(500)
	waitFor(t, 10*time.Second, "first note", func() bool { return r.rec.count(cash.Stacked) == 1 })
	r.sim.SetReplyDelay(260 * time.Millisecond) // later than the wait
	r.insert(1000)
	waitFor(t, 20*time.Second, "second note", func() bool { return r.rec.count(cash.Stacked) == 2 })
	r.sim.SetReplyDelay(0)
	time.Sleep(500 * time.Millisecond)
	if r.rec.count(cash.Credited) != 2 || r.rec.sum(cash.Credited) != 1500 || r.rec.count(cash.Escrowed) != 2 {
		t.Fatalf("events %v", r.rec.snapshot())
	}
	c := r.drv.Health().Counters
	if c["retransmits"] == 0 || c["seqMismatches"] == 0 {
		t.Fatalf("counters %v", c)
	}
	t.Logf("counters %v", c)
}

// flipSeq flips the sequence flag of the slave's replies (CRC fixed up)
// while on, as a slave out of step would send them.
type flipSeq struct {
	rw io.ReadWriter
	on atomic.Bool
}

func (f *flipSeq) Read(p []byte) (int, error) { return f.rw.Read(p) }
func (f *flipSeq) Write(p []byte) (int, error) {
	if !f.on.Load() {
		return f.rw.Write(p)
	}
	var d codec.Decoder
	d.Feed(p)
	fr, err := d.Next()
	if err != nil {
		return f.rw.Write(p)
	}
	fr.Seq = !fr.Seq
	w, _ := codec.Encode(fr)
	_, err = f.rw.Write(w)
	return len(p), err
}

// TestSequenceMismatchResync: replies with the wrong flag are skipped, the
// driver gives up on the request after a few and resynchronises with
// SYNC, and then works normally.
func TestSequenceMismatchResync(t *testing.T) {
	r := newRig(t)
	flip := &flipSeq{}
	r.wrap = func(rw io.ReadWriter) io.ReadWriter { flip.rw = rw; return flip }
	r.startSim(sim.Config{})
	r.startDriver(fast(ssp.Config{ResponseTimeout: 80 * time.Millisecond}))
	r.drv.Enable(allCNY)
	r.waitState(device.Online, "accepting notes")
	flip.on.Store(true)
	waitFor(t, 10*time.Second, "resync", func() bool { return r.drv.Health().Counters["resyncs"] > 0 })
	flip.on.Store(false)
	r.waitState(device.Online, "accepting notes")
	r.insert(2000)
	waitFor(t, 10*time.Second, "stacked", func() bool { return r.rec.count(cash.Stacked) == 1 })
	if c := r.drv.Health().Counters; c["seqMismatches"] < 3 || c["credited"] != 1 {
		t.Fatalf("counters %v", c)
	}
}

// TestHoldWhileDeciding: the core takes longer than the validator's escrow
// time-out; HOLD keeps the note in escrow and it is stacked. With HOLD
// disabled the validator gives the note back.
func TestHoldWhileDeciding(t *testing.T) {
	for _, hold := range []bool{true, false} {
		t.Run(fmt.Sprintf("hold=%v", hold), func(t *testing.T) {
			cfg := ssp.Config{HoldEvery: 60 * time.Millisecond}
			if !hold {
				cfg.HoldEvery = -1
			}
			r := ready(t, false, sim.Config{EscrowTimeout: 250 * time.Millisecond}, cfg)
			r.rec.mu.Lock()
			r.rec.delay = 600 * time.Millisecond
			r.rec.mu.Unlock()
			r.insert(5000)
			if hold {
				waitFor(t, 10*time.Second, "stacked", func() bool { return r.rec.count(cash.Stacked) == 1 })
				if c := r.drv.Health().Counters; c["holds"] < 5 || r.sim.CashBox()[5000] != 1 {
					t.Fatalf("counters %v cash box %v", c, r.sim.CashBox())
				}
				return
			}
			waitFor(t, 10*time.Second, "returned", func() bool { return r.rec.count(cash.Returned) == 1 })
			if r.rec.count(cash.Credited) != 0 || len(r.sim.CashBox()) != 0 {
				t.Fatalf("events %v", r.rec.snapshot())
			}
		})
	}
}

func TestFaults(t *testing.T) {
	r := ready(t, false, sim.Config{}, ssp.Config{})
	var changes atomic.Int32
	r.drv.OnHealth(func(device.Health) { changes.Add(1) })
	for _, tc := range []struct {
		f      sim.Fault
		state  device.State
		detail string
	}{
		{sim.FaultSafeJam, device.HardwareError, "safe note jam"},
		{sim.FaultUnsafeJam, device.HardwareError, "unsafe note jam"},
		{sim.FaultStackerFull, device.UserError, "stacker full"},
		{sim.FaultCashboxRemoved, device.UserError, "cash box removed"},
		{sim.FaultFraud, device.UserError, "fraud attempt"},
	} {
		r.sim.SetFault(tc.f)
		r.waitState(tc.state, tc.detail)
		r.sim.SetFault(sim.FaultNone)
		r.waitState(device.Online, "accepting notes")
	}
	h := r.drv.Health()
	c := h.Counters
	if c["jams"] != 2 || c["stackerFull"] != 1 || c["cashboxRemoved"] != 1 || c["fraud"] != 1 || h.LastError == "" {
		t.Fatalf("health %+v", h)
	}
	if changes.Load() < 10 {
		t.Fatalf("OnHealth called %d times", changes.Load())
	}
	// A note still goes through after the faults.
	r.insert(100)
	waitFor(t, 10*time.Second, "stacked", func() bool { return r.rec.count(cash.Stacked) == 1 })
}

// TestPowerCut: power lost with a note in escrow (cleared from the front:
// "acceptor") and while stacking (cleared into the cashbox: "stacker");
// the driver reports PowerUpWithNote with the value, starts up again and
// goes on. In eSSP the key is lost too and negotiated again.
func TestPowerCut(t *testing.T) {
	modes(t, func(t *testing.T, encrypted bool) {
		r := ready(t, encrypted, sim.Config{Delays: sim.Delays{Read: 5 * time.Millisecond, Stack: time.Hour, Stacked: 5 * time.Millisecond, Reject: 5 * time.Millisecond}}, ssp.Config{})
		r.insert(2000)
		waitFor(t, 10*time.Second, "stacking", func() bool { return r.sim.State().Phase == "stacking" })
		r.sim.PowerCut()
		waitFor(t, 10*time.Second, "power-up event", func() bool { return r.rec.count(cash.PowerUpWithNote) == 1 })
		r.waitState(device.Online, "accepting notes")
		evs := r.rec.snapshot()
		if !slices.Equal(kinds(evs), []cash.Kind{cash.Escrowed, cash.PowerUpWithNote}) || evs[1].Detail != "stacker" || evs[1].Value != 2000 {
			t.Fatalf("events %v", evs)
		}
		if cb := r.sim.CashBox(); cb[2000] != 1 {
			t.Fatalf("cash box %v", cb)
		}
		if encrypted && r.sim.Stats().KeyExchange != 2 {
			t.Fatalf("key not negotiated again: %+v", r.sim.Stats())
		}

		// In escrow, while the core still decides.
		r.rec.mu.Lock()
		r.rec.delay = 300 * time.Millisecond
		r.rec.mu.Unlock()
		r.insert(500)
		waitFor(t, 10*time.Second, "escrow", func() bool { return r.rec.count(cash.Escrowed) == 2 })
		r.sim.PowerCut()
		waitFor(t, 10*time.Second, "power-up event", func() bool { return r.rec.count(cash.PowerUpWithNote) == 2 })
		r.waitState(device.Online, "accepting notes")
		evs = r.rec.snapshot()
		if last := evs[len(evs)-1]; last.Detail != "acceptor" || last.Value != 500 || r.rec.count(cash.Credited) != 0 {
			t.Fatalf("events %v", evs)
		}
		if c := r.drv.Health().Counters; c["powerUps"] < 2 || c["powerUpWithNote"] != 2 {
			t.Fatalf("counters %v", c)
		}
	})
}

func TestUnplugReplug(t *testing.T) {
	modes(t, func(t *testing.T, encrypted bool) {
		r := ready(t, encrypted, sim.Config{}, ssp.Config{})
		r.insert(1000)
		waitFor(t, 10*time.Second, "first note", func() bool { return r.rec.count(cash.Stacked) == 1 })
		r.ep.Unplug()
		r.waitState(device.NoDevice, "")
		if err := r.ep.Replug(); err != nil {
			t.Fatal(err)
		}
		r.waitState(device.Online, "accepting notes")
		r.insert(500)
		waitFor(t, 10*time.Second, "second note", func() bool { return r.rec.count(cash.Stacked) == 2 })
		if r.rec.count(cash.Credited) != 2 || r.rec.sum(cash.Credited) != 1500 {
			t.Fatalf("events %v", r.rec.snapshot())
		}
		if c := r.drv.Health().Counters; c["reconnects"] < 1 {
			t.Fatalf("counters %v", c)
		}
	})
}

func TestMissingAtStart(t *testing.T) {
	r := newRig(t)
	r.startDriver(fast(ssp.Config{ReconnectMax: 300 * time.Millisecond}))
	r.waitState(device.NoDevice, "port not present")
	r.drv.Enable(allCNY)
	time.Sleep(300 * time.Millisecond) // a few failed opens
	r.startSim(sim.Config{})
	r.waitState(device.Online, "accepting notes")
	r.insert(10000)
	waitFor(t, 10*time.Second, "credit", func() bool { return r.rec.count(cash.Stacked) == 1 })
	if evs := r.rec.snapshot(); evs[1].Kind != cash.Credited || evs[1].Value != 10000 {
		t.Fatalf("events %v", evs)
	}
}

// TestSilentDevice: a port that is there but never answers is Offline,
// not fatal, and comes online when the device starts talking.
func TestSilentDevice(t *testing.T) {
	r := newRig(t)
	ep, err := simport.Open(r.link, ssp.DefaultLine())
	if err != nil {
		t.Fatal(err)
	}
	r.startDriver(fast(ssp.Config{ResponseTimeout: 50 * time.Millisecond, Retries: 4}))
	r.drv.Enable(allCNY)
	r.waitState(device.Offline, "does not answer")
	waitFor(t, 10*time.Second, "a resync", func() bool { return r.drv.Health().Counters["resyncs"] >= 1 })
	s := sim.New(sim.Config{Delays: sim.FastDelays()})
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(context.Background(), ep) }()
	t.Cleanup(func() { ep.Close(); <-done })
	r.waitState(device.Online, "accepting notes")
	if c := r.drv.Health().Counters; c["timeouts"] < 4 {
		t.Fatalf("counters %v", c)
	}
}

// TestKeyExchangeOrder: a device that wants the generator above the
// modulus refuses the first try; the driver swaps them and goes on.
func TestKeyExchangeOrder(t *testing.T) {
	r := ready(t, true, sim.Config{GeneratorAboveModulus: true}, ssp.Config{})
	if st := r.sim.Stats(); st.KeyExchange != 1 || r.drv.Health().Counters["keyExchanges"] != 1 {
		t.Fatalf("sim %+v counters %v", st, r.drv.Health().Counters)
	}
	r.insert(100)
	waitFor(t, 10*time.Second, "stacked", func() bool { return r.rec.count(cash.Stacked) == 1 })
}

// TestEncryptionRequired: a validator that insists on eSSP, driven without
// it, is reported with a clear detail rather than failing silently.
func TestEncryptionRequired(t *testing.T) {
	r := newRig(t)
	r.startSim(sim.Config{RequireEncryption: true})
	r.startDriver(fast(ssp.Config{}))
	r.drv.Enable(allCNY)
	r.waitState(device.HardwareError, "requires eSSP")
}
