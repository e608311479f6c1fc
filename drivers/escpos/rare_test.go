package escpos_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/escpos"
	"tongban/drivers/escpos/codec"
	"tongban/drivers/escpos/sim"
)

// needFont fails in CI (where .ci/install-deps installs the fonts) and
// skips elsewhere.
func needFont(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true, so this is a failure, not a skip)", why)
	}
	t.Skip(why)
}

// nameReceipt is a receipt with an applicant's name on one line.
func nameReceipt(t *testing.T, b *codec.Builder, name string) []byte {
	t.Helper()
	job, err := b.Init().
		Align(codec.AlignCenter).Bold(true).Line("受理回执").Bold(false).
		Align(codec.AlignLeft).
		TwoColumn("事项", "户籍证明").
		Line("申请人："+name).
		Align(codec.AlignCenter).QR(receiptURL, 6, codec.QRLevelM).
		Line("请保留此凭证").
		Feed(2).Cut().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// The driver finds a CJK font on its own (DefaultFontPaths) and a name
// with 䶮 comes out of the simulated printer as one image line, the rest
// of the receipt as text.
func TestRareCharacterNamePrintsAsImage(t *testing.T) {
	if f, _, _ := escpos.LoadFont(""); !f.Has('䶮') {
		needFont(t, "no default font draws 䶮: apt-get install fonts-droid-fallback (or fonts-noto-cjk)")
	}
	r := newRig(t, true, func(c *escpos.Config) { c.Paper = codec.Paper80 })
	r.waitState(device.Online, "")
	if r.drv.Font() == nil || !strings.Contains(r.logs.String(), "font for rare characters loaded") {
		t.Fatalf("font not loaded:\n%s", r.logs.String())
	}
	b := r.drv.Builder()
	job := nameReceipt(t, b, "王䶮")
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
	for _, want := range []string{"受理回执  «bold»", "事项 ", "户籍证明", "\n[image 576x24: rare-character line]\n", "[QR: " + receiptURL + "]", "请保留此凭证", "--- cut ---"} {
		if !strings.Contains(string(txt), want) {
			t.Errorf("receipt lacks %q", want)
		}
	}
	if strings.Contains(string(txt), "申请人") || strings.Contains(string(txt), "王?") {
		t.Error("the name line also printed as text")
	}
	if len(rs[0].Rasters) != 1 || len(b.Substitutions()) != 0 || len(b.RasterLines()) != 1 {
		t.Errorf("rasters %d, substitutions %v, raster lines %v", len(rs[0].Rasters), b.Substitutions(), b.RasterLines())
	}
}

// Without a font the name prints with '?' and the builder says so.
func TestRareCharacterWithoutFont(t *testing.T) {
	r := newRig(t, true, func(c *escpos.Config) { c.FontPath = "none" })
	r.waitState(device.Online, "")
	if r.drv.Font() != nil {
		t.Fatal("font loaded despite FontPath none")
	}
	b := r.drv.Builder()
	if err := r.print(nameReceipt(t, b, "王䶮")); err != nil {
		t.Fatal(err)
	}
	rs := r.sim.Receipts()
	if len(rs) != 1 || !strings.Contains(rs[0].Text, "申请人：王?") || len(rs[0].Rasters) != 0 {
		t.Fatalf("receipt:\n%s", rs[0].Text)
	}
	if subs := b.Substitutions(); len(subs) != 1 || subs[0].Rune != '䶮' {
		t.Errorf("substitutions %+v", subs)
	}
}

func TestLoadFont(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.ttf")
	junk := filepath.Join(t.TempDir(), "junk.ttf")
	if err := os.WriteFile(junk, []byte("not a font, just bytes on a disk"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, loaded, errs := escpos.LoadFont(missing + string(filepath.ListSeparator) + junk)
	if f != nil || len(loaded) != 0 || len(errs) != 2 || !errors.Is(errs[0], os.ErrNotExist) || !errors.Is(errs[1], codec.ErrFont) {
		t.Fatalf("font %v, loaded %v, errs %v", f, loaded, errs)
	}
	// A broken font file costs the rare characters, never the printer.
	r := newRig(t, true, func(c *escpos.Config) { c.FontPath = junk })
	r.waitState(device.Online, "")
	if err := r.print(nameReceipt(t, r.drv.Builder(), "王䶮")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.logs.String(), "no font for rare characters") {
		t.Error("missing font not logged")
	}

	if _, err := os.Stat("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"); err != nil {
		needFont(t, "fonts-wqy-microhei not installed")
	}
	f, loaded, errs = escpos.LoadFont("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
	if f == nil || len(loaded) != 1 || len(errs) != 0 || !f.Has('王') {
		t.Fatalf("font %v, loaded %v, errs %v", f, loaded, errs)
	}
}

// A profile for a printer without GS ( k: the QR code goes as an image
// and decodes back from the bits the simulator received.
func TestQRModeRaster(t *testing.T) {
	r := newRig(t, true, func(c *escpos.Config) {
		c.QRMode = codec.QRModeRaster
		c.JobPoll = 10 * time.Millisecond // many status requests during the image
	})
	r.waitState(device.Online, "")
	job := receiptJobWith(t, r.drv.Builder(), "电费缴费凭证")
	if err := r.print(job); err != nil {
		t.Fatal(err)
	}
	rs := r.sim.Receipts()
	if len(rs) != 1 || len(rs[0].Rasters) != 1 || len(rs[0].QRPayloads) != 0 || !strings.Contains(rs[0].Text, "[image ") {
		t.Fatalf("receipt:\n%s", rs[0].Text)
	}
	// No status request landed inside the image data.
	if !bytes.Equal(rs[0].Raw, job) || r.sim.Garbage() != 0 {
		t.Fatalf("the printer received %d bytes for a %d-byte job, %d garbage", len(rs[0].Raw), len(job), r.sim.Garbage())
	}

	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("zbarimg not installed (apt-get install zbar-tools): %v", err)
		}
		t.Skip("zbarimg not installed")
	}
	path := filepath.Join(t.TempDir(), "qr.pbm")
	if err := os.WriteFile(path, rs[0].Rasters[0].PBM(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbar, "--nodbus", "-q", "--raw", path).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	if got := strings.TrimRight(string(out), "\n"); got != receiptURL {
		t.Errorf("zbarimg read %q, want %q", got, receiptURL)
	}
}

func receiptJobWith(t *testing.T, b *codec.Builder, title string) []byte {
	t.Helper()
	job, err := b.Init().
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

func TestConfigValidate(t *testing.T) {
	for cfg, want := range map[escpos.Config]string{
		{}:                              "no path",
		{Path: "x", Paper: 66}:          "paper 66",
		{Path: "x", Charset: "big5"}:    "charset",
		{Path: "x", QRMode: "hologram"}: "qr mode",
	} {
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", cfg, err, want)
		}
	}
	ok := escpos.Config{Path: "x", Paper: codec.Paper58, Charset: codec.CharsetGB2312, QRMode: codec.QRModeRaster, FontPath: "none"}
	if err := ok.Validate(); err != nil {
		t.Error(err)
	}
	// The profile's charset reaches the builder: 喆 is not in GB2312 (and
	// with no font it cannot be drawn either).
	p := escpos.New(ok)
	if job, _ := p.Builder().Text("喆").Bytes(); string(job) != "?" {
		t.Errorf("gb2312 job %q", job)
	}
}

// longJob takes about two seconds at 115200 baud.
func longJob(t *testing.T) []byte {
	t.Helper()
	b := codec.NewBuilder(codec.Paper58).Init()
	for i := range 600 {
		b.Line(fmt.Sprintf("line %03d 明细 ........ %d.00", i, i))
	}
	job, err := b.Cut().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// The cover is opened in the middle of a job and stays open.
func TestCoverOpenDuringJob(t *testing.T) {
	r := newRig(t, true)
	r.waitState(device.Online, "")
	job := receiptJob(t, "x")
	r.sim.FaultAfter(sim.FaultCoverOpen, len(job)/2)
	err := r.print(job)
	if !errors.Is(err, escpos.ErrJobFailed) || !errors.Is(err, escpos.ErrCoverOpen) {
		t.Fatalf("err = %v, want a failed job with cover open", err)
	}
	if len(r.sim.Receipts()) != 0 || len(r.files()) != 0 {
		t.Fatalf("a receipt was saved: %v", r.files())
	}
	h := r.waitState(device.UserError, "cover open")
	if h.Counters[escpos.CounterReceipts] != 0 || h.Counters[escpos.CounterErrors] != 1 {
		t.Errorf("counters %v", h.Counters)
	}
	r.sim.SetCoverOpen(false)
	r.waitState(device.Online, "")
	if err := r.print(receiptJob(t, "reprint")); err != nil {
		t.Fatal(err)
	}
}

// The cover is opened and closed again while a long job is still being
// sent: by the end of the job the printer is ready, but part of the
// receipt is lost. The status asked during the job catches it.
func TestCoverOpenedAndClosedDuringJob(t *testing.T) {
	r := newRig(t, true, func(c *escpos.Config) { c.JobPoll = 50 * time.Millisecond })
	r.waitState(device.Online, "")
	job := longJob(t)
	time.AfterFunc(400*time.Millisecond, func() { r.sim.SetCoverOpen(true) })
	time.AfterFunc(700*time.Millisecond, func() { r.sim.SetCoverOpen(false) })
	start := time.Now()
	err := r.print(job)
	if !errors.Is(err, escpos.ErrJobFailed) {
		t.Fatalf("err = %v, want ErrJobFailed", err)
	}
	if !errors.Is(err, escpos.ErrCoverOpen) && !errors.Is(err, escpos.ErrOffline) {
		t.Errorf("err = %v, want the cause", err)
	}
	// It stopped sending at the fault instead of pushing the whole job.
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("failed after %v", d)
	}
	if len(r.sim.Receipts()) != 0 {
		t.Fatal("a receipt was completed")
	}
	r.waitState(device.Online, "")
	if h := r.drv.Health(); h.Counters[escpos.CounterReceipts] != 0 || h.Counters[escpos.CounterErrors] != 1 {
		t.Errorf("counters %v", h.Counters)
	}
}

// The cutter jams at the end of the receipt: printed but not cut, so the
// resident may not get it; the job is failed, never printed.
func TestCutterJamAtEndOfJob(t *testing.T) {
	r := newRig(t, true)
	r.waitState(device.Online, "")
	r.sim.JamNextCut()
	err := r.print(receiptJob(t, "x"))
	if !errors.Is(err, escpos.ErrJobFailed) || !errors.Is(err, escpos.ErrHardware) {
		t.Fatalf("err = %v, want a failed job with a hardware error", err)
	}
	var nr *escpos.NotReadyError
	if !errors.As(err, &nr) || !nr.Status.CutterError {
		t.Errorf("no cutter error in %v", err)
	}
	if len(r.sim.Receipts()) != 0 {
		t.Fatal("receipt saved")
	}
	r.waitState(device.HardwareError, "cutter error")
	r.sim.SetCutterError(false)
	r.waitState(device.Online, "")
	if err := r.print(receiptJob(t, "after repair")); err != nil {
		t.Fatal(err)
	}
}

// Paper near end is a warning: online, printing goes on, and each episode
// counts once, even across a lost cable.
func TestPaperNearEndEpisodes(t *testing.T) {
	r := newRig(t, true)
	r.waitState(device.Online, "")
	count := func() int64 { return r.drv.Health().Counters[escpos.CounterPaperLow] }

	r.sim.SetNearEnd(true)
	r.waitState(device.Online, "paper near end")
	if err := r.print(receiptJob(t, "near end")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // more polls
	if count() != 1 {
		t.Fatalf("paperLow %d after one episode", count())
	}
	r.ep.Unplug()
	r.waitState(device.NoDevice, "*")
	if err := r.ep.Replug(); err != nil {
		t.Fatal(err)
	}
	r.waitState(device.Online, "paper near end")
	if count() != 1 {
		t.Errorf("paperLow %d after a replug in the same episode", count())
	}
	r.sim.SetNearEnd(false) // new roll
	r.waitState(device.Online, "")
	r.sim.SetNearEnd(true)
	r.waitState(device.Online, "paper near end")
	if count() != 2 {
		t.Errorf("paperLow %d after two episodes", count())
	}
	// Near end appearing during a job does not fail it.
	r.sim.SetNearEnd(false)
	r.waitState(device.Online, "")
	job := receiptJob(t, "near end midway")
	time.AfterFunc(20*time.Millisecond, func() { r.sim.SetNearEnd(true) })
	if err := r.print(job); err != nil {
		t.Fatal(err)
	}
	if h := r.waitState(device.Online, "paper near end"); h.Counters[escpos.CounterPaperLow] != 3 || h.Counters[escpos.CounterReceipts] != 2 {
		t.Errorf("counters %v", h.Counters)
	}
}

// A slow printer that still answers within the timeout prints; one that
// answers too late is offline ("no status reply") until it speeds up.
func TestSlowPrinter(t *testing.T) {
	r := newRig(t, true)
	r.waitState(device.Online, "")
	r.sim.SetReplyDelay(50 * time.Millisecond)
	if err := r.print(receiptJob(t, "slow")); err != nil {
		t.Fatal(err)
	}
	r.sim.SetReplyDelay(time.Second)
	r.waitState(device.Offline, "no status reply")
	err := r.print(receiptJob(t, "too slow"))
	if !errors.Is(err, escpos.ErrNoReply) || errors.Is(err, escpos.ErrJobFailed) {
		t.Fatalf("err = %v, want a refusal with ErrNoReply", err)
	}
	r.sim.SetReplyDelay(0)
	r.waitState(device.Online, "")
	if err := r.print(receiptJob(t, "fast again")); err != nil {
		t.Fatal(err)
	}
	if n := len(r.sim.Receipts()); n != 2 {
		t.Errorf("%d receipts", n)
	}
}

// Line noise from the printer is skipped and logged; status and printing
// go on.
func TestGarbageFromPrinter(t *testing.T) {
	r := newRig(t, true)
	r.waitState(device.Online, "")
	r.sim.SendGarbage([]byte{0x00, 0xff, 0x81, 0x7e})
	time.Sleep(250 * time.Millisecond) // an idle poll meets it
	if err := r.print(receiptJob(t, "after noise")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.logs.String(), "discarding unexpected bytes from printer") {
		t.Error("noise not logged")
	}
	if h := r.drv.Health(); h.State != device.Online || h.Counters[escpos.CounterErrors] != 0 {
		t.Errorf("health %+v", h)
	}
}

// Bytes lost on the way to the printer: ESC/POS has no checksum, so the
// driver cannot tell unless the loss takes a status request with it. This
// pins down what the simulator does with it for the lead's fault panel.
func TestDroppedBytesReachTheSimulator(t *testing.T) {
	r := newRig(t, true, func(c *escpos.Config) { c.PollInterval = time.Hour })
	r.waitState(device.Online, "") // the check at connect
	r.sim.DropBytes(3)             // one DLE EOT request vanishes
	if _, err := r.drv.Status(r.ctx); !errors.Is(err, escpos.ErrNoReply) {
		t.Fatalf("status err = %v, want ErrNoReply", err)
	}
	if h := r.drv.Health(); h.State != device.Offline {
		t.Errorf("state %s after a lost request", h.State)
	}
	if _, err := r.drv.Status(r.ctx); err != nil {
		t.Fatal(err)
	}
	if r.sim.Dropped() != 3 {
		t.Errorf("dropped %d", r.sim.Dropped())
	}
}
