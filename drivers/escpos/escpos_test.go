package escpos_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/escpos"
	"tongban/drivers/escpos/codec"
	"tongban/drivers/escpos/sim"
	"tongban/drivers/serialport"
	"tongban/drivers/simport"
)

const receiptURL = "https://zwfw.example.gov.cn/verify?r=ZB20261126000123&sig=3f9a"

// syncBuffer collects the driver's log lines.
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

// rig is a driver talking to a simulated printer over a real pseudo
// terminal: the driver opens the follower (through a stable link) with
// serialport.Open, the simulator sits on the leader.
type rig struct {
	t     *testing.T
	ctx   context.Context
	link  string
	dir   string
	logs  *syncBuffer
	ep    *simport.Endpoint
	sim   *sim.Printer
	drv   *escpos.Printer
	paper codec.PaperWidth
}

// newRig starts a driver (58 mm paper, fast polling) and, if withSim, a
// simulated printer; tweaks adjust the driver's profile.
func newRig(t *testing.T, withSim bool, tweaks ...func(*escpos.Config)) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{t: t, ctx: ctx, link: filepath.Join(t.TempDir(), "ttyPRN0"), dir: t.TempDir(), logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := escpos.Config{
		Name: "receiptPrinter", Path: r.link, Paper: codec.Paper58,
		PollInterval: 100 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Logger: log,
	}
	for _, f := range tweaks {
		f(&cfg)
	}
	r.paper = cfg.Paper
	r.drv = escpos.New(cfg)
	if withSim {
		r.startSim()
	}
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
		if t.Failed() || os.Getenv("ESCPOS_TEST_LOG") != "" {
			t.Logf("driver log:\n%s", r.logs.String())
		}
	})
	return r
}

func (r *rig) startSim() {
	r.t.Helper()
	ep, err := simport.Open(r.link, escpos.DefaultLine())
	if err != nil {
		r.t.Fatal(err)
	}
	r.ep = ep
	r.sim = sim.New(ep, sim.Config{Dir: r.dir, Paper: r.paper,
		Logger: slog.New(slog.NewTextHandler(r.logs, nil)).With("side", "sim")})
	go r.sim.Run(r.ctx)
}

func (r *rig) waitState(want device.State, detail string) device.Health {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h := r.drv.Health()
		if h.State == want && (detail == "*" || h.Detail == detail) {
			return h
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("state %s %q, want %s %q", h.State, h.Detail, want, detail)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *rig) print(job []byte) error {
	ctx, cancel := context.WithTimeout(r.ctx, 20*time.Second)
	defer cancel()
	return r.drv.Print(ctx, job)
}

func (r *rig) files() []string {
	entries, _ := os.ReadDir(r.dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func receiptJob(t *testing.T, title string) []byte {
	t.Helper()
	job, err := codec.NewBuilder(codec.Paper58).
		Init().
		Align(codec.AlignCenter).Bold(true).Size(2, 2).Line("通办终端").
		Size(1, 1).Bold(false).Line(title).
		Align(codec.AlignLeft).
		TwoColumn("户号", "0101-2233").
		TwoColumn("金额", "20.00 元").
		Align(codec.AlignCenter).QR(receiptURL, 6, codec.QRLevelM).
		Line("请保留此凭证").
		Feed(3).Cut().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return job
}

func TestPrintReceipt(t *testing.T) {
	r := newRig(t, true)
	r.waitState(device.Online, "")
	job := receiptJob(t, "电费缴费凭证")
	if err := r.print(job); err != nil {
		t.Fatal(err)
	}
	rs := r.sim.Receipts()
	if len(rs) != 1 {
		t.Fatalf("%d receipts", len(rs))
	}
	txt, err := os.ReadFile(rs[0].TextPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s:\n%s", rs[0].TextPath, txt)
	// 58 mm: 通办终端 at double width is 16 of 32 columns, centred.
	for _, want := range []string{"        通办终端  «bold 2x2»", "电费缴费凭证", "户号 ", "0101-2233", "金额 ", " 20.00 元", "请保留此凭证", "[QR: " + receiptURL + "]", "--- cut ---"} {
		if !strings.Contains(string(txt), want) {
			t.Errorf("receipt text lacks %q:\n%s", want, txt)
		}
	}
	if len(rs[0].QRPayloads) != 1 || rs[0].QRPayloads[0] != receiptURL {
		t.Errorf("QR payloads %q", rs[0].QRPayloads)
	}
	bin, _ := os.ReadFile(rs[0].BinPath)
	if !bytes.Equal(bin, job) {
		t.Errorf("saved bytes differ from the job")
	}
	if filepath.Base(rs[0].BinPath) != "receipt-000001.bin" {
		t.Errorf("file %s", rs[0].BinPath)
	}
	h := r.drv.Health()
	if h.Counters[escpos.CounterReceipts] != 1 || h.Counters[escpos.CounterCuts] != 1 || h.Counters[escpos.CounterErrors] != 0 {
		t.Errorf("counters %v", h.Counters)
	}
}

func TestPaperOutBeforeJob(t *testing.T) {
	r := newRig(t, true)
	r.waitState(device.Online, "")
	r.sim.SetPaperEnd(true)
	err := r.print(receiptJob(t, "x"))
	if !errors.Is(err, escpos.ErrPaperOut) || errors.Is(err, escpos.ErrJobFailed) {
		t.Fatalf("err = %v, want a paper-out refusal", err)
	}
	var nr *escpos.NotReadyError
	if !errors.As(err, &nr) || !nr.Status.PaperEnd {
		t.Errorf("no status in %v", err)
	}
	// Nothing was sent: the printer dropped nothing and saved nothing.
	if len(r.sim.Receipts()) != 0 || r.sim.Dropped() != 0 || len(r.files()) != 0 {
		t.Errorf("receipts %d dropped %d files %v", len(r.sim.Receipts()), r.sim.Dropped(), r.files())
	}
	h := r.waitState(device.UserError, "paper end")
	if h.Counters[escpos.CounterErrors] != 1 || h.Counters[escpos.CounterReceipts] != 0 {
		t.Errorf("counters %v", h.Counters)
	}
	r.sim.SetPaperEnd(false)
	r.waitState(device.Online, "")
	if err := r.print(receiptJob(t, "after reload")); err != nil {
		t.Fatal(err)
	}
}

func TestPaperRunsOutDuringJob(t *testing.T) {
	r := newRig(t, true)
	r.waitState(device.Online, "")
	job := receiptJob(t, "x")
	r.sim.RunOutAfter(len(job) / 2)
	err := r.print(job)
	if !errors.Is(err, escpos.ErrJobFailed) || !errors.Is(err, escpos.ErrPaperOut) {
		t.Fatalf("err = %v, want a failed job with paper out", err)
	}
	if len(r.sim.Receipts()) != 0 || len(r.files()) != 0 {
		t.Fatalf("a receipt was saved: %v", r.files())
	}
	r.waitState(device.UserError, "paper end")

	r.sim.SetPaperEnd(false)
	job2 := receiptJob(t, "reprint")
	if err := r.print(job2); err != nil {
		t.Fatal(err)
	}
	rs := r.sim.Receipts()
	if len(rs) != 1 || !bytes.Equal(rs[0].Raw, job2) {
		t.Fatalf("reprint: %d receipts", len(rs))
	}
}

func TestFaultStates(t *testing.T) {
	r := newRig(t, true)
	r.waitState(device.Online, "")
	for _, tt := range []struct {
		set    func(bool)
		state  device.State
		detail string
		err    error
	}{
		{r.sim.SetCoverOpen, device.UserError, "cover open", escpos.ErrCoverOpen},
		{r.sim.SetCutterError, device.HardwareError, "cutter error", escpos.ErrHardware},
		{r.sim.SetOffline, device.Offline, "offline", escpos.ErrOffline},
	} {
		tt.set(true)
		r.waitState(tt.state, tt.detail) // seen by the idle poll
		if err := r.print(receiptJob(t, "x")); !errors.Is(err, tt.err) || errors.Is(err, escpos.ErrJobFailed) {
			t.Errorf("%s: err = %v, want %v", tt.detail, err, tt.err)
		}
		tt.set(false)
		r.waitState(device.Online, "")
	}

	r.sim.SetNearEnd(true)
	h := r.waitState(device.Online, "paper near end")
	if err := r.print(receiptJob(t, "near end still prints")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a few more polls must not count it again
	h = r.drv.Health()
	if h.Counters[escpos.CounterPaperLow] != 1 || h.Counters[escpos.CounterReceipts] != 1 {
		t.Errorf("counters %v", h.Counters)
	}
	if len(r.sim.Receipts()) != 1 {
		t.Errorf("%d receipts", len(r.sim.Receipts()))
	}
}

func TestUnplugReplug(t *testing.T) {
	r := newRig(t, true)
	r.waitState(device.Online, "")
	if err := r.print(receiptJob(t, "one")); err != nil {
		t.Fatal(err)
	}
	r.ep.Unplug()
	r.waitState(device.NoDevice, "*")
	if err := r.print(receiptJob(t, "while unplugged")); !errors.Is(err, escpos.ErrNoDevice) {
		t.Fatalf("err = %v, want ErrNoDevice", err)
	}
	if err := r.ep.Replug(); err != nil {
		t.Fatal(err)
	}
	r.waitState(device.Online, "")
	if err := r.print(receiptJob(t, "two")); err != nil {
		t.Fatal(err)
	}
	rs := r.sim.Receipts()
	if len(rs) != 2 || !strings.Contains(rs[1].Text, "two") {
		t.Fatalf("%d receipts", len(rs))
	}
}

func TestUnplugDuringJob(t *testing.T) {
	r := newRig(t, true)
	r.waitState(device.Online, "")
	// ~24 KB takes about 2 s at 115200 baud: the cable goes at 300 ms.
	b := codec.NewBuilder(codec.Paper58).Init()
	for i := 0; i < 600; i++ {
		b.Line(fmt.Sprintf("line %03d 明细 ........ %d.00", i, i))
	}
	job, err := b.Cut().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, r.ep.Unplug)
	err = r.print(job)
	if !errors.Is(err, escpos.ErrJobFailed) {
		t.Fatalf("err = %v, want ErrJobFailed", err)
	}
	if len(r.sim.Receipts()) != 0 {
		t.Fatal("a receipt was completed")
	}
	r.waitState(device.NoDevice, "*")
	if err := r.ep.Replug(); err != nil {
		t.Fatal(err)
	}
	r.waitState(device.Online, "")
}

func TestDeviceMissingAtStart(t *testing.T) {
	r := newRig(t, false)
	r.waitState(device.NoDevice, "*")
	if err := r.print(receiptJob(t, "x")); !errors.Is(err, escpos.ErrNoDevice) {
		t.Fatalf("err = %v, want ErrNoDevice", err)
	}
	if _, err := r.drv.Status(r.ctx); !errors.Is(err, escpos.ErrNoDevice) {
		t.Fatalf("Status err = %v", err)
	}
	r.startSim()
	r.waitState(device.Online, "")
	if err := r.print(receiptJob(t, "late")); err != nil {
		t.Fatal(err)
	}
	if len(r.sim.Receipts()) != 1 {
		t.Fatal("no receipt")
	}
}

func TestNoReply(t *testing.T) {
	r := newRig(t, false)
	// A port with nothing behind it: the pty exists but nobody answers.
	ep, err := simport.Open(r.link, escpos.DefaultLine())
	if err != nil {
		t.Fatal(err)
	}
	r.ep = ep
	r.waitState(device.Offline, "no status reply")
	start := time.Now()
	_, err = r.drv.Status(r.ctx)
	if !errors.Is(err, escpos.ErrNoReply) {
		t.Fatalf("err = %v, want ErrNoReply", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Errorf("timed out after %v, want about the 300 ms status timeout", d)
	}
	if err := r.print(receiptJob(t, "x")); !errors.Is(err, escpos.ErrNoReply) || errors.Is(err, escpos.ErrJobFailed) {
		t.Fatalf("print err = %v", err)
	}
}

func TestStatusSkipsAutomaticStatusBack(t *testing.T) {
	r := newRig(t, true)
	r.waitState(device.Online, "")
	// A job that switches ASB on: the printer answers with 4 unsolicited
	// bytes at once and again on every change.
	job, err := codec.NewBuilder(codec.Paper58).Init().Raw([]byte{codec.GS, 'a', 0x0f}).Line("asb").Cut().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.print(job); err != nil {
		t.Fatal(err)
	}
	r.sim.SetNearEnd(true)
	time.Sleep(50 * time.Millisecond) // let the ASB block arrive
	st, err := r.drv.Status(r.ctx)
	if err != nil || !st.PaperNearEnd || !st.Ready() {
		t.Fatalf("status %+v, %v", st, err)
	}
	if !strings.Contains(r.logs.String(), "kind=\"automatic status back\"") {
		t.Errorf("no log line for the discarded ASB bytes:\n%s", r.logs.String())
	}
}

func TestConcurrentPrintsDoNotInterleave(t *testing.T) {
	r := newRig(t, true)
	r.waitState(device.Online, "")
	jobs := map[string][]byte{}
	for i := 0; i < 4; i++ {
		name := fmt.Sprintf("job-%d", i)
		jobs[name] = receiptJob(t, name)
	}
	var wg sync.WaitGroup
	for name, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.print(job); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}()
	}
	wg.Wait()
	rs := r.sim.Receipts()
	if len(rs) != len(jobs) {
		t.Fatalf("%d receipts", len(rs))
	}
	for _, rc := range rs {
		found := false
		for _, job := range jobs {
			found = found || bytes.Equal(rc.Raw, job)
		}
		if !found {
			t.Errorf("receipt %d is not one whole job", rc.Seq)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	p := escpos.New(escpos.Config{Path: "/dev/null"})
	if got := p.Line(); got != (serialport.Line{Baud: 115200, DataBits: 8, Parity: "none", StopBits: 1}) || got.String() != "115200 8N1" {
		t.Errorf("default line %+v", got)
	}
	if p.Paper() != codec.Paper80 || p.Builder().Paper() != codec.Paper80 {
		t.Errorf("default paper %v", p.Paper())
	}
	custom := escpos.New(escpos.Config{Path: "x", Line: serialport.Line{Baud: 9600, DataBits: 8, Parity: "even", StopBits: 1}})
	if custom.Line().String() != "9600 8E1" {
		t.Errorf("custom line %v", custom.Line())
	}
	h := p.Health()
	if h.State != device.Starting || h.Driver != "escpos" || h.Name != "receiptPrinter" {
		t.Errorf("health %+v", h)
	}
	if err := p.Print(context.Background(), nil); err == nil {
		t.Error("empty job accepted")
	}
}

// A device (not the simulator) that puts an ASB block in front of every
// reply: the driver must skip those bytes while waiting and log them.
func TestStatusSkipsBytesBeforeReply(t *testing.T) {
	r := newRig(t, false)
	ep, err := simport.Open(r.link, escpos.DefaultLine())
	if err != nil {
		t.Fatal(err)
	}
	r.ep = ep
	go func() {
		p := codec.NewParser()
		buf := make([]byte, 256)
		for {
			n, err := ep.Read(buf)
			if err != nil {
				return
			}
			p.Write(buf[:n])
			for {
				c, err := p.Next()
				if errors.Is(err, codec.ErrNeedMore) {
					break
				}
				if s, ok := c.(codec.RealTimeStatus); ok {
					reply := codec.Status{PaperNearEnd: true}.Reply(s.N)
					ep.Write([]byte{0x10, 0x00, 0x03, 0x00, reply})
				}
			}
		}
	}()
	r.waitState(device.Online, "paper near end")
	if !strings.Contains(r.logs.String(), `when="waiting for DLE EOT 1"`) {
		t.Errorf("no log line for bytes skipped while waiting:\n%s", r.logs.String())
	}
}
