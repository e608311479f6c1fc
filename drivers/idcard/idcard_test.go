package idcard_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/idcard"
	"tongban/drivers/idcard/codec"
	"tongban/drivers/idcard/sim"
	"tongban/drivers/simport"
)

// syncBuffer collects log lines from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig is a driver talking to a simulated reader over a real pseudo
// terminal: the driver opens the follower (through a stable link) with
// serialport.Open, the simulator sits on the leader.
type rig struct {
	t    testing.TB
	ctx  context.Context
	link string
	logs *syncBuffer
	ep   *simport.Endpoint
	sim  *sim.Sim
	drv  *idcard.Reader
}

// testConfig makes reconnects and presence checks quick; the command
// timeouts stay the brief's.
func testConfig() idcard.Config {
	return idcard.Config{PresenceInterval: 50 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
}

func newRig(t testing.TB, cfg idcard.Config, simCfg *sim.Config) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{t: t, ctx: ctx, link: filepath.Join(t.TempDir(), "ttyID0"), logs: &syncBuffer{}}
	if simCfg != nil {
		r.startSim(*simCfg)
	}
	cfg.Path = r.link
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r.drv = idcard.New(cfg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.drv.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("driver Run did not stop")
		}
		if r.ep != nil {
			r.ep.Close()
		}
		if t.Failed() || os.Getenv("IDCARD_TEST_LOG") != "" {
			t.Logf("log:\n%s", r.logs.String())
		}
	})
	return r
}

func (r *rig) startSim(cfg sim.Config) {
	r.t.Helper()
	ep, err := simport.Open(r.link, idcard.DefaultLine())
	if err != nil {
		r.t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("side", "sim")
	}
	r.ep, r.sim = ep, sim.New(cfg)
	go r.sim.Serve(r.ctx, ep)
}

func (r *rig) waitState(want device.State, detail string) device.Health {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h := r.drv.Health()
		if h.State == want && (detail == "*" || strings.Contains(h.Detail, detail)) {
			return h
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("state %s %q, want %s %q", h.State, h.Detail, want, detail)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *rig) read(opts idcard.ReadOptions) (idcard.Card, error) {
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	return r.drv.Read(ctx, opts)
}

func (r *rig) mustRead(want codec.Card) {
	r.t.Helper()
	got, err := r.read(idcard.ReadOptions{})
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	if got.Text != want.Text || !bytes.Equal(got.Photo, want.Photo) {
		r.t.Fatalf("read %v, want %v", got, want)
	}
}

func (r *rig) place(c codec.Card) {
	r.t.Helper()
	if err := r.sim.PlaceCard(c); err != nil {
		r.t.Fatal(err)
	}
}

func fast() *sim.Config { return &sim.Config{Fast: true} }

func TestReadEachCardType(t *testing.T) {
	r := newRig(t, testConfig(), fast())
	r.waitState(device.Online, "")
	n := 0
	for name, want := range sim.Samples() {
		r.place(want)
		opts := idcard.ReadOptions{AppendedAddress: true, Fingerprint: want.Fingerprint != nil}
		got, err := r.read(opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Text != want.Text {
			t.Errorf("%s: text differs: %v", name, got)
		}
		if !bytes.Equal(got.Photo, want.Photo) || len(got.Photo) != codec.PhotoLen {
			t.Errorf("%s: photo not passed through", name)
		}
		if !bytes.Equal(got.Fingerprint, want.Fingerprint) || got.AppendedAddress != want.AppendedAddress {
			t.Errorf("%s: fingerprint %d bytes, appended address %q", name, len(got.Fingerprint), got.AppendedAddress)
		}
		n++
	}
	// The rare-name sample has it all: 长期, an appended address, a fingerprint.
	r.place(sim.SampleRareName())
	got, err := r.read(idcard.ReadOptions{Fingerprint: true, AppendedAddress: true})
	if err != nil || got.Text.Name != "王䶮" || !got.Text.LongTerm || got.AppendedAddress == "" || len(got.Fingerprint) != codec.FingerprintLen {
		t.Fatalf("rare name: %v %v", got, err)
	}
	// Without the options neither is read.
	got, err = r.read(idcard.ReadOptions{})
	if err != nil || got.AppendedAddress != "" || got.Fingerprint != nil {
		t.Fatalf("plain read: %v", err)
	}
	st := r.sim.Stats().Commands
	if st[codec.OpReadFingerprint] != 2 || st[codec.OpReadAppended] != n+1 {
		t.Errorf("commands seen: %v", st)
	}
	h := r.waitState(device.Online, "")
	if h.Counters[idcard.CounterReads] != int64(n+2) || h.Counters[idcard.CounterErrors] != 0 {
		t.Errorf("counters %v", h.Counters)
	}
}

func TestNoCard(t *testing.T) {
	r := newRig(t, testConfig(), fast())
	r.waitState(device.Online, "")
	_, err := r.read(idcard.ReadOptions{})
	if !errors.Is(err, idcard.ErrNoCard) {
		t.Fatalf("got %v, want ErrNoCard", err)
	}
	var se *codec.StatusError
	if !errors.As(err, &se) || se.Op != codec.OpFindCard || !strings.Contains(err.Error(), "寻找证/卡失败") {
		t.Fatalf("error %v does not say which command and why", err)
	}
	h := r.waitState(device.Online, "")
	if h.Counters[idcard.CounterNoCard] != 1 || h.Counters[idcard.CounterErrors] != 0 {
		t.Errorf("counters %v", h.Counters)
	}
}

func TestFaults(t *testing.T) {
	cfg := testConfig()
	cfg.Timeouts.Read = 400 * time.Millisecond // the truncated reply waits this long
	r := newRig(t, cfg, fast())
	r.waitState(device.Online, "")
	card := sim.SampleResident()
	cases := []struct {
		name    string
		inject  func(*sim.Sim)
		want    []error // nil: the read succeeds despite the fault
		text    string  // in the error message
		counter string  // incremented
		state   device.State
		settle  time.Duration // the device finishes what it was doing
	}{
		{name: "garbage before a reply", inject: func(s *sim.Sim) { s.GarbageNext(37) }, counter: idcard.CounterFraming},
		{name: "garbage before the big reply", inject: func(s *sim.Sim) { s.Inject(sim.Fault{Op: codec.OpReadText, Garbage: 300}) }, counter: idcard.CounterFraming},
		{name: "corrupt reply", inject: func(s *sim.Sim) { s.CorruptNext(codec.OpReadText) },
			want: []error{idcard.ErrBadReply, codec.ErrChecksum}, text: "30 01", counter: idcard.CounterChecksum},
		{name: "truncated reply", inject: func(s *sim.Sim) { s.TruncateNext(codec.OpReadText, 200) },
			want: []error{idcard.ErrTimeout}, text: "1095 of 1295 bytes", counter: idcard.CounterTimeouts},
		{name: "truncated header", inject: func(s *sim.Sim) { s.TruncateNext(codec.OpSelectCard, 14) },
			want: []error{idcard.ErrTimeout}, text: "5 bytes but no reply", counter: idcard.CounterTimeouts},
		{name: "slow device within budget", inject: func(s *sim.Sim) { s.SetDelay(40 * time.Millisecond) }},
		{name: "slow device past the timeout", inject: func(s *sim.Sim) { s.SetDelay(300 * time.Millisecond) },
			want: []error{idcard.ErrTimeout}, text: "find card (20 01)", counter: idcard.CounterTimeouts, settle: 300 * time.Millisecond},
		{name: "card fails authentication", inject: func(s *sim.Sim) { s.FailNext(codec.OpReadText, codec.StatusSAMAuthCard) },
			want: []error{codec.ErrSAMAuthCard}, text: "SAM认证证/卡失败", counter: idcard.CounterErrors},
		{name: "select fails", inject: func(s *sim.Sim) { s.FailNext(codec.OpSelectCard, codec.StatusSelectFailed) },
			want: []error{codec.ErrSelectFailed}, text: "select card", counter: idcard.CounterErrors},
		{name: "SAM self-test failed", inject: func(s *sim.Sim) { s.SetSAMFault(codec.StatusSelfTest) },
			want: []error{codec.ErrSAMSelfTest}, text: "SAM自检失败", counter: idcard.CounterErrors, state: device.HardwareError},
		{name: "SAM not authorised", inject: func(s *sim.Sim) { s.SetSAMFault(codec.StatusNotAuthorised) },
			want: []error{codec.ErrSAMNotAuthorised}, text: "not authorised", counter: idcard.CounterErrors, state: device.HardwareError},
		{name: "mute SAM", inject: func(s *sim.Sim) { s.SetMute(true) },
			want: []error{idcard.ErrTimeout}, text: "no reply within", counter: idcard.CounterTimeouts},
	}
	for _, tc := range cases {
		r.sim.ClearFaults()
		r.place(card)
		r.mustRead(card)
		before := r.drv.Health().Counters
		tc.inject(r.sim)
		start := time.Now()
		got, err := r.read(idcard.ReadOptions{})
		took := time.Since(start)
		if tc.want == nil {
			if err != nil || got.Text != card.Text {
				t.Fatalf("%s: %v", tc.name, err)
			}
		} else {
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Fatalf("%s: got %v, want %v", tc.name, err, w)
				}
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("%s: error %q lacks %q", tc.name, err, tc.text)
			}
		}
		if tc.counter != "" {
			if after := r.drv.Health().Counters; after[tc.counter] <= before[tc.counter] {
				t.Errorf("%s: counter %s stayed %d", tc.name, tc.counter, after[tc.counter])
			}
		}
		if tc.state != "" {
			r.waitState(tc.state, "*")
		}
		if errors.Is(err, idcard.ErrBadReply) && took > 300*time.Millisecond {
			t.Errorf("%s: a corrupt reply took %v to report (the read timeout is 400ms)", tc.name, took)
		}
		// Cleared, the next read works and the reader is online again.
		r.sim.ClearFaults()
		time.Sleep(tc.settle)
		r.mustRead(card)
		r.waitState(device.Online, "")
	}
}

func TestMuteGoesOffline(t *testing.T) {
	r := newRig(t, testConfig(), fast())
	r.waitState(device.Online, "")
	r.sim.SetMute(true)
	for range 2 {
		if _, err := r.read(idcard.ReadOptions{}); !errors.Is(err, idcard.ErrTimeout) {
			t.Fatalf("got %v, want ErrTimeout", err)
		}
	}
	r.waitState(device.Offline, "SAM not answering")
	r.sim.SetMute(false)
	if err := r.drv.Status(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.waitState(device.Online, "")
}

func TestCardRemovedMidRead(t *testing.T) {
	r := newRig(t, testConfig(), fast())
	r.waitState(device.Online, "")
	card := sim.SampleHKMOTW()
	r.place(card)
	r.sim.RemoveCardDuringRead()
	_, err := r.read(idcard.ReadOptions{})
	if !errors.Is(err, codec.ErrReadFailed) || !strings.Contains(err.Error(), "30 01") {
		t.Fatalf("got %v, want a read failure of 30 01", err)
	}
	if _, err := r.read(idcard.ReadOptions{}); !errors.Is(err, idcard.ErrNoCard) {
		t.Fatalf("card gone: got %v, want ErrNoCard", err)
	}
	r.sim.ClearFaults()
	r.place(card)
	r.mustRead(card)
}

// TestLateReplyIsNotTaken: after a timeout the SAM's late answer arrives
// while the next command waits; it must be skipped, not taken as the
// answer (SAM replies do not name their command).
func TestLateReplyIsNotTaken(t *testing.T) {
	r := newRig(t, testConfig(), fast())
	r.waitState(device.Online, "")
	card := sim.SampleForeign2023()
	r.place(card)
	r.sim.SetDelay(150 * time.Millisecond) // past find's 100 ms, within 12 FF's 300 ms
	if _, err := r.read(idcard.ReadOptions{}); !errors.Is(err, idcard.ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	// The find's 9F arrives while 12 FF waits, then 12 FF's own reply.
	framing := r.drv.Health().Counters[idcard.CounterFraming]
	id, err := r.drv.SAMID(r.ctx)
	if err != nil || id != sim.DefaultSAMID() {
		t.Fatalf("SAMID after a late reply: %v, %v", id, err)
	}
	if r.drv.Health().Counters[idcard.CounterFraming] == framing {
		t.Error("no stray reply was skipped; the test did not exercise the late reply")
	}
	r.sim.SetDelay(0)
	r.mustRead(card)
}

func TestUnplugReplug(t *testing.T) {
	r := newRig(t, testConfig(), fast())
	r.waitState(device.Online, "")
	card := sim.SampleForeign2017()
	r.place(card)
	r.mustRead(card)

	r.ep.Unplug()
	r.waitState(device.NoDevice, "*")
	if _, err := r.read(idcard.ReadOptions{}); !errors.Is(err, idcard.ErrNoDevice) {
		t.Fatalf("unplugged: got %v, want ErrNoDevice", err)
	}
	if err := r.ep.Replug(); err != nil {
		t.Fatal(err)
	}
	r.waitState(device.Online, "")
	r.mustRead(card)
	if h := r.drv.Health(); h.Counters[idcard.CounterReconnects] < 1 {
		t.Errorf("counters %v", h.Counters)
	}

	// Unplugged in the middle of a (slow) reply: a port error, not a timeout.
	r.sim.SetDelay(300 * time.Millisecond)
	errc := make(chan error, 1)
	go func() { _, err := r.read(idcard.ReadOptions{}); errc <- err }()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	r.ep.Unplug()
	if err := <-errc; !errors.Is(err, idcard.ErrNoDevice) {
		t.Fatalf("unplugged mid-command: got %v, want ErrNoDevice", err)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("took %v to notice the unplug", took)
	}
	r.sim.SetDelay(0)
	if err := r.ep.Replug(); err != nil {
		t.Fatal(err)
	}
	r.waitState(device.Online, "")
	r.mustRead(card)
}

func TestMissingAtStart(t *testing.T) {
	r := newRig(t, testConfig(), nil)
	h := r.waitState(device.NoDevice, "port not present")
	if h.LastError == "" {
		t.Error("no last error")
	}
	if _, err := r.read(idcard.ReadOptions{}); !errors.Is(err, idcard.ErrNoDevice) {
		t.Fatalf("got %v, want ErrNoDevice", err)
	}
	time.Sleep(100 * time.Millisecond)
	r.startSim(sim.Config{Fast: true})
	r.waitState(device.Online, "")
	card := sim.SampleResident()
	r.place(card)
	r.mustRead(card)
}

func TestWaitCard(t *testing.T) {
	r := newRig(t, testConfig(), fast())
	r.waitState(device.Online, "")
	// Idle: nothing is polled.
	finds := func() int { return r.sim.Stats().Commands[codec.OpFindCard] }
	time.Sleep(300 * time.Millisecond)
	if n := finds(); n != 0 {
		t.Fatalf("%d find commands while idle", n)
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- r.drv.WaitCard(r.ctx, 50*time.Millisecond) }()
	time.Sleep(400 * time.Millisecond)
	n := finds()
	if n < 5 || n > 10 {
		t.Errorf("%d finds in 400ms at a 50ms interval", n)
	}
	r.place(sim.SampleResident())
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Second):
		t.Fatal("WaitCard did not return after the card was placed")
	}
	t.Logf("card found after %v, %d finds", time.Since(start).Round(time.Millisecond), finds())
	r.mustRead(sim.SampleResident())
	// Polling stops with the wait.
	n = finds()
	time.Sleep(200 * time.Millisecond)
	if finds() != n {
		t.Error("still polling after WaitCard returned")
	}
	// Give up when ctx ends.
	r.sim.RemoveCard()
	ctx, cancel := context.WithTimeout(r.ctx, 150*time.Millisecond)
	defer cancel()
	if err := r.drv.WaitCard(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	// A SAM that cannot work ends the wait at once.
	r.sim.SetSAMFault(codec.StatusNotAuthorised)
	if err := r.drv.WaitCard(r.ctx, 0); !errors.Is(err, codec.ErrSAMNotAuthorised) {
		t.Fatalf("got %v, want ErrSAMNotAuthorised", err)
	}
}

func TestIdleStatusCheck(t *testing.T) {
	cfg := testConfig()
	cfg.StatusInterval = 200 * time.Millisecond
	r := newRig(t, cfg, fast())
	r.waitState(device.Online, "")
	status := func() int { return r.sim.Stats().Commands[codec.OpSAMStatus] }
	s0 := status()
	time.Sleep(time.Second)
	if n := status() - s0; n < 3 || n > 6 {
		t.Errorf("%d status checks in 1s at a 200ms idle interval", n)
	}
	if n := r.sim.Stats().Commands[codec.OpFindCard]; n != 0 {
		t.Errorf("%d finds while idle", n)
	}
	// The idle check alone notices a SAM fault, and its end.
	r.sim.SetSAMFault(codec.StatusSelfTest)
	h := r.waitState(device.HardwareError, "60")
	if !strings.Contains(h.Detail, "SAM自检失败") {
		t.Errorf("detail %q", h.Detail)
	}
	r.sim.SetSAMFault(0)
	r.waitState(device.Online, "")
}

func TestSAMID(t *testing.T) {
	r := newRig(t, testConfig(), fast())
	r.waitState(device.Online, "")
	id, err := r.drv.SAMID(r.ctx)
	if err != nil || id != sim.DefaultSAMID() || id.String() != "05.01-20261126-000000001-000000042" {
		t.Fatalf("SAMID = %v, %v", id, err)
	}
}

func TestMaxRFByteOnConnect(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRFByte = codec.DefaultMaxRFByte
	r := newRig(t, cfg, fast())
	r.waitState(device.Online, "")
	if n := r.sim.Stats().Commands[codec.OpSetMaxRFByte]; n != 1 {
		t.Fatalf("61 FF sent %d times", n)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := idcard.New(idcard.Config{Path: "/dev/null"}).Config()
	if c.Line.String() != "115200 8N1" || c.Name != "idCardReader" || c.StatusInterval != 10*time.Second {
		t.Fatalf("defaults: %s %s %v", c.Line, c.Name, c.StatusInterval)
	}
	if c.Timeouts != idcard.DefaultTimeouts() || c.Timeouts.Find != 100*time.Millisecond || c.Timeouts.Read != 2*time.Second {
		t.Fatalf("timeouts %+v", c.Timeouts)
	}
	if _, err := c.Line.Mode(); err != nil {
		t.Fatal(err)
	}
}

// TestLogsAreMasked: invariant 5, logs carry masked identifiers only.
func TestLogsAreMasked(t *testing.T) {
	r := newRig(t, testConfig(), fast())
	r.waitState(device.Online, "")
	for _, c := range sim.Samples() {
		r.place(c)
		if _, err := r.read(idcard.ReadOptions{AppendedAddress: true}); err != nil {
			t.Fatal(err)
		}
	}
	logs := r.logs.String()
	for _, c := range sim.Samples() {
		for _, secret := range []string{c.Text.IDNumber, c.Text.Name, c.Text.EnglishName, c.Text.Address} {
			if secret != "" && strings.Contains(logs, secret) {
				t.Errorf("log contains %q", secret)
			}
		}
	}
	if !strings.Contains(logs, "1101**********0015") {
		t.Error("log lacks the masked ID number")
	}
}
