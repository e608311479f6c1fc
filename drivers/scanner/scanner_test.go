package scanner_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/scanner"
	"tongban/drivers/scanner/codec"
	"tongban/drivers/scanner/sim"
	"tongban/drivers/serialport"
	"tongban/drivers/simport"
)

const (
	wechat  = "134567890123456789"
	alipay  = "286543210987654321"
	receipt = "http://127.0.0.1:8700/verify/P20261127ABCDEFGHIJ?c=7K3Q"
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

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rig is a driver on the follower of a real pty, the simulator on the
// leader.
type rig struct {
	t      testing.TB
	ctx    context.Context
	cancel context.CancelFunc
	link   string
	logs   *syncBuffer
	ep     *simport.Endpoint
	sim    *sim.Scanner
	drv    *scanner.Scanner
	done   chan struct{}
}

func newRig(t testing.TB, cfg scanner.Config, scfg *sim.Config) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{t: t, ctx: ctx, cancel: cancel, link: filepath.Join(t.TempDir(), "ttyScanner"), logs: &syncBuffer{}, done: make(chan struct{})}
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Path = r.link
	cfg.Logger = log
	cfg.ReconnectMin, cfg.ReconnectMax = 20*time.Millisecond, 200*time.Millisecond
	drv, err := scanner.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.drv = drv
	if scfg != nil {
		r.startSim(*scfg)
	}
	go func() {
		defer close(r.done)
		if err := drv.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not stop")
		}
		if r.ep != nil {
			r.ep.Close()
		}
		if t.Failed() || os.Getenv("SCANNER_TEST_LOG") != "" {
			t.Logf("log:\n%s", r.logs.String())
		}
	})
	return r
}

func (r *rig) startSim(cfg sim.Config) {
	r.t.Helper()
	ep, err := simport.Open(r.link, scanner.DefaultLine())
	if err != nil {
		r.t.Fatal(err)
	}
	r.ep = ep
	cfg.Logger = slog.New(slog.NewTextHandler(r.logs, nil)).With("side", "sim")
	r.sim = sim.New(ep, cfg)
	go r.sim.Run(r.ctx)
}

func (r *rig) waitState(s device.State, detail string) {
	r.t.Helper()
	waitFor(r.t, 5*time.Second, string(s)+" "+detail, func() bool {
		h := r.drv.Health()
		return h.State == s && h.Detail == detail
	})
}

// next waits for a read.
func (r *rig) next() scanner.Read {
	r.t.Helper()
	select {
	case rd := <-r.drv.Reads():
		return rd
	case <-time.After(3 * time.Second):
		r.t.Fatal("no read")
	}
	return scanner.Read{}
}

// none checks that no read arrives for d.
func (r *rig) none(d time.Duration) {
	r.t.Helper()
	select {
	case rd := <-r.drv.Reads():
		r.t.Fatalf("unexpected read %v", rd.Code)
	case <-time.After(d):
	}
}

func (r *rig) trigger(on bool) error {
	ctx, cancel := context.WithTimeout(r.ctx, 3*time.Second)
	defer cancel()
	return r.drv.Trigger(ctx, on)
}

func TestGenericAutoRead(t *testing.T) {
	r := newRig(t, scanner.Config{}, &sim.Config{})
	r.waitState(device.Online, "")
	for _, code := range []string{wechat, alipay, receipt} {
		r.sim.Scan(code)
		rd := r.next()
		if rd.Code.Text != code || rd.At.IsZero() {
			t.Fatalf("read %q, want %q", rd.Code.Text, code)
		}
	}
	if err := r.trigger(true); !errors.Is(err, scanner.ErrUnsupported) {
		t.Fatalf("trigger on a generic scanner: %v", err)
	}
	if c := r.drv.Health().Counters[scanner.CounterReads]; c != 3 {
		t.Fatalf("reads %d", c)
	}
	if line := r.drv.Config().Line; line != (serialport.Line{Baud: 9600, DataBits: 8, Parity: "none", StopBits: 1}) {
		t.Fatalf("default line %v", line) // a pty cannot check this
	}
}

func TestClassifiedReads(t *testing.T) {
	r := newRig(t, scanner.Config{StripAIM: true, Prefix: "S:"}, &sim.Config{Prefix: "S:", AIM: "]Q1"})
	r.waitState(device.Online, "")
	bill, _ := codec.BillBarcode("water", "001001000001")
	for code, kind := range map[string]codec.Kind{
		wechat: codec.KindWeChatPay, alipay: codec.KindAlipay, "6223456789012345678": codec.KindUnionPay,
		receipt: codec.KindReceipt, bill: codec.KindUtilityBill, "13456789012345678": codec.KindUnknown,
		"tongban-enroll:v1?p=http%3A%2F%2F127.0.0.1%3A8700&t=Zk3xY0qL9vB2nM8rT4wA&exp=1795000000": codec.KindEnroll,
	} {
		r.sim.Scan(code)
		rd := r.next()
		if rd.Code.Kind != kind || rd.Code.Text != code || rd.AIM != "]Q1" {
			t.Fatalf("%q: kind %s aim %q text %q", code, rd.Code.Kind, rd.AIM, rd.Code.Text)
		}
	}
}

// Payment codes never reach the log in full.
func TestLogsMasked(t *testing.T) {
	r := newRig(t, scanner.Config{}, &sim.Config{})
	r.waitState(device.Online, "")
	r.sim.Scan(wechat)
	r.next()
	r.sim.DropSuffixOnce() // an incomplete read of a payment code
	r.sim.Scan(alipay)
	waitFor(t, 2*time.Second, "incomplete", func() bool { return r.drv.Health().Counters[scanner.CounterIncomplete] == 1 })
	logs := r.logs.String()
	driverLines := ""
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "driver=scanner") {
			driverLines += l + "\n"
		}
	}
	if !strings.Contains(driverLines, "wechatPay") {
		t.Fatalf("read not logged:\n%s", driverLines)
	}
	for _, secret := range []string{wechat, alipay, wechat[2:16], alipay[2:16]} {
		if strings.Contains(driverLines, secret) {
			t.Fatalf("log holds %q:\n%s", secret, driverLines)
		}
	}
}

func TestHoneywellTrigger(t *testing.T) {
	r := newRig(t, scanner.Config{Model: "honeywell"}, &sim.Config{Model: codec.ModelHoneywell, Manual: true})
	r.waitState(device.Online, "")
	r.sim.Scan(wechat)
	r.none(300 * time.Millisecond) // manual mode: nothing without a trigger
	if err := r.trigger(true); err != nil {
		t.Fatal(err)
	}
	if rd := r.next(); rd.Code.Kind != codec.KindWeChatPay {
		t.Fatalf("read %v", rd.Code)
	}
	// The read ended the trigger: the next code waits for the next one.
	r.sim.Scan(alipay)
	r.none(200 * time.Millisecond)
	if err := r.trigger(true); err != nil {
		t.Fatal(err)
	}
	if rd := r.next(); rd.Code.Kind != codec.KindAlipay {
		t.Fatalf("read %v", rd.Code)
	}
	if err := r.trigger(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "triggered", r.sim.Triggered)
	if err := r.trigger(false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "trigger released", func() bool { return !r.sim.Triggered() })
	if got := r.sim.Commands(); !slices.Equal(got, []string{"SYN T", "SYN T", "SYN T", "SYN U"}) {
		t.Fatalf("commands %v", got)
	}
}

func TestNewlandTriggerAndMode(t *testing.T) {
	r := newRig(t, scanner.Config{Model: "newland", Mode: "manual"}, &sim.Config{Model: codec.ModelNewland})
	r.waitState(device.Online, "")
	waitFor(t, 2*time.Second, "manual mode", r.sim.Manual)
	r.sim.Scan(receipt)
	r.none(300 * time.Millisecond)
	if err := r.trigger(true); err != nil {
		t.Fatal(err)
	}
	if rd := r.next(); rd.Code.Kind != codec.KindReceipt || rd.Code.Receipt.PaymentID != "P20261127ABCDEFGHIJ" {
		t.Fatalf("read %+v", rd.Code)
	}
	if err := r.trigger(false); err != nil {
		t.Fatal(err)
	}
	if got := r.sim.Commands(); !slices.Equal(got, []string{"@SCNMOD0", "#SCNTRG1", "#SCNTRG0"}) {
		t.Fatalf("commands %v", got)
	}
}

func TestNewlandAutoMode(t *testing.T) {
	r := newRig(t, scanner.Config{Model: "newland", Mode: "auto"}, &sim.Config{Model: codec.ModelNewland, Manual: true})
	waitFor(t, 2*time.Second, "auto mode", func() bool { return !r.sim.Manual() })
	r.sim.Scan(wechat)
	if rd := r.next(); rd.Code.Kind != codec.KindWeChatPay {
		t.Fatalf("read %v", rd.Code)
	}
}

func TestNewlandRefusedAndSilent(t *testing.T) {
	r := newRig(t, scanner.Config{Model: "newland"}, &sim.Config{Model: codec.ModelNewland, Manual: true})
	r.waitState(device.Online, "")

	r.sim.SetRefuse(codec.NAK)
	err := r.trigger(true)
	var re *scanner.RefusedError
	if !errors.Is(err, scanner.ErrRefused) || !errors.As(err, &re) || re.Status != codec.NAK {
		t.Fatalf("NAK: %v", err)
	}
	r.sim.SetRefuse(codec.ENQ)
	if err := r.trigger(true); !errors.As(err, &re) || re.Status != codec.ENQ {
		t.Fatalf("ENQ: %v", err)
	}
	r.sim.SetRefuse(0)

	r.sim.SetDeaf(true)
	start := time.Now()
	if err := r.trigger(true); !errors.Is(err, scanner.ErrNoReply) {
		t.Fatalf("deaf: %v", err)
	}
	if d := time.Since(start); d < 450*time.Millisecond || d > 2*time.Second {
		t.Fatalf("no-reply after %v, want about the 500 ms reply timeout", d)
	}
	r.sim.SetDeaf(false)
	if err := r.trigger(true); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	c := r.drv.Health().Counters
	if c[scanner.CounterRefused] != 2 || c[scanner.CounterNoReply] != 1 {
		t.Fatalf("counters %v", c)
	}
}

// A Newland scanner that does not answer the mode command is Offline
// until it does.
func TestNewlandSilentAtConnect(t *testing.T) {
	r := newRig(t, scanner.Config{Model: "newland", Mode: "manual", ReplyTimeout: 100 * time.Millisecond}, nil)
	r.startSim(sim.Config{Model: codec.ModelNewland})
	r.sim.SetDeaf(true)
	r.waitState(device.Offline, "scanner does not answer")
	// Unplugged while the mode command is being retried: the session must
	// still end and the port be reopened.
	if err := r.sim.Unplug(); err != nil {
		t.Fatal(err)
	}
	r.waitState(device.NoDevice, "port not present")
	r.sim.SetDeaf(false)
	if err := r.sim.Replug(); err != nil {
		t.Fatal(err)
	}
	r.waitState(device.Online, "")
	waitFor(t, 2*time.Second, "manual mode", r.sim.Manual)
}

func TestSlowDevice(t *testing.T) {
	r := newRig(t, scanner.Config{Model: "newland"}, &sim.Config{Model: codec.ModelNewland, Manual: true})
	r.waitState(device.Online, "")
	// 10 ms a byte (0.2 s for a payment code, 10 times the wire time) and
	// 200 ms before each reply: 0.37 s for a trigger reply.
	r.sim.SetSlow(10*time.Millisecond, 200*time.Millisecond)
	r.sim.Scan(wechat)
	if err := r.trigger(true); err != nil {
		t.Fatalf("slow reply inside the timeout: %v", err)
	}
	if rd := r.next(); rd.Code.Kind != codec.KindWeChatPay || rd.Code.Text != wechat {
		t.Fatalf("slow read %+v", rd.Code)
	}
	// A NAK that comes after the timeout must not be taken for the answer
	// to the next command (which arrives while that one is waiting).
	r.sim.SetSlow(0, 700*time.Millisecond)
	r.sim.SetRefuse(codec.NAK)
	if err := r.trigger(true); !errors.Is(err, scanner.ErrNoReply) {
		t.Fatalf("reply after the timeout: %v", err)
	}
	r.sim.SetSlow(0, 0)
	r.sim.SetRefuse(0)
	if err := r.trigger(false); err != nil {
		t.Fatalf("a late reply to the previous command was taken for this one's: %v", err)
	}
}

func TestGarbageBytes(t *testing.T) {
	r := newRig(t, scanner.Config{}, &sim.Config{})
	r.waitState(device.Online, "")
	r.sim.SendGarbage([]byte{0xFF, 0x00, 0x13, 0x8F, '\r', '\n'})
	r.sim.SendGarbage([]byte{0x02, 0x01, '0', '1', '\r', '\n'}) // not a Newland reply
	r.sim.SendGarbage([]byte{0xC3, 0x28, 'a'})                  // invalid UTF-8, then the line goes quiet
	time.Sleep(250 * time.Millisecond)
	r.sim.Scan(wechat)
	if rd := r.next(); rd.Code.Text != wechat {
		t.Fatalf("read after garbage %q", rd.Code.Text)
	}
	c := r.drv.Health().Counters
	if c[scanner.CounterGarbage] < 1 || c[scanner.CounterBadReplies] < 1 || c[scanner.CounterIncomplete] < 1 {
		t.Fatalf("counters %v", c)
	}
	if h := r.drv.Health(); h.LastError == "" || h.State != device.Online {
		t.Fatalf("health %+v", h)
	}
}

func TestDroppedBytes(t *testing.T) {
	r := newRig(t, scanner.Config{}, &sim.Config{})
	r.waitState(device.Online, "")
	// A read without its suffix, then (after a pause) the next read: the
	// first is discarded, not glued to the second.
	r.sim.DropSuffixOnce()
	r.sim.Scan(wechat)
	time.Sleep(250 * time.Millisecond)
	r.sim.Scan(alipay)
	if rd := r.next(); rd.Code.Text != alipay {
		t.Fatalf("read %q, want only the second code", rd.Code.Text)
	}
	r.none(200 * time.Millisecond)
	if c := r.drv.Health().Counters[scanner.CounterIncomplete]; c != 1 {
		t.Fatalf("incomplete %d", c)
	}
	// Bytes lost from the middle: the 17-digit remainder is no payment code.
	r.sim.DropBytesOnce(1)
	r.sim.Scan(wechat)
	rd := r.next()
	if rd.Code.Kind != codec.KindUnknown || !strings.Contains(rd.Code.Why, "17 digits") {
		t.Fatalf("damaged read classified %s (%s)", rd.Code.Kind, rd.Code.Why)
	}
}

func TestUnplugReplug(t *testing.T) {
	r := newRig(t, scanner.Config{}, &sim.Config{})
	r.waitState(device.Online, "")
	r.sim.Scan(wechat)
	r.next()
	if err := r.sim.Unplug(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "port lost", func() bool {
		s := r.drv.Health().State
		return s == device.Offline || s == device.NoDevice
	})
	r.waitState(device.NoDevice, "port not present")
	r.sim.Scan(alipay) // scanned while unplugged: lost
	if err := r.sim.Replug(); err != nil {
		t.Fatal(err)
	}
	r.waitState(device.Online, "")
	r.sim.Scan(receipt)
	if rd := r.next(); rd.Code.Text != receipt {
		t.Fatalf("after replug %q", rd.Code.Text)
	}
	if c := r.drv.Health().Counters[scanner.CounterReconnects]; c < 1 {
		t.Fatalf("reconnects %d", c)
	}
}

func TestMissingAtStart(t *testing.T) {
	r := newRig(t, scanner.Config{Model: "honeywell"}, nil)
	r.waitState(device.NoDevice, "port not present")
	if err := r.trigger(true); !errors.Is(err, scanner.ErrNoDevice) {
		t.Fatalf("trigger without a port: %v", err)
	}
	r.startSim(sim.Config{Model: codec.ModelHoneywell, Manual: true})
	r.waitState(device.Online, "")
	r.sim.Scan(wechat)
	if err := r.trigger(true); err != nil {
		t.Fatal(err)
	}
	if rd := r.next(); rd.Code.Text != wechat {
		t.Fatalf("%q", rd.Code.Text)
	}
}

// Nobody takes reads: the buffer fills, later reads are dropped and
// counted, and the driver keeps going.
func TestReadsDroppedWhenNobodyListens(t *testing.T) {
	r := newRig(t, scanner.Config{Buffer: 2}, &sim.Config{})
	r.waitState(device.Online, "")
	for range 4 {
		r.sim.Scan(wechat)
	}
	waitFor(t, 2*time.Second, "drops", func() bool { return r.drv.Health().Counters[scanner.CounterDropped] == 2 })
	r.next()
	r.next()
	r.sim.Scan(alipay)
	if rd := r.next(); rd.Code.Text != alipay {
		t.Fatalf("%q", rd.Code.Text)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []scanner.Config{
		{Model: "zebra"},
		{Model: "honeywell", Mode: "manual"},
		{Model: "newland", Mode: "sometimes"},
		{Suffix: "tab"},
		{Line: serialport.Line{Baud: 9600, DataBits: 9}},
	} {
		if _, err := scanner.New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
