// Package escpos drives an ESC/POS thermal receipt printer on a serial
// line (a UART, a USB-serial adapter, or a simulator's pseudo terminal).
//
// The driver keeps the port open, reconnecting with backoff when it
// vanishes (package link); checks the printer's real-time status (DLE EOT
// 1..4) every PollInterval while idle and around every job; and publishes
// its state in a device.Monitor. Print refuses a job the printer cannot take and reports
// a job as printed only when the status after it is ready again: a receipt
// that might not have come out is always an error, never a success.
package escpos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/escpos/codec"
	"tongban/drivers/link"
	"tongban/drivers/serialport"
)

// Errors Print and Status return; test them with errors.Is. A refusal
// before a job (nothing was sent) is ErrNoDevice, ErrNoReply or one of the
// not-ready errors alone; a job that was (partly) sent but not confirmed
// also matches ErrJobFailed.
var (
	ErrNoDevice  = errors.New("printer not connected")
	ErrNoReply   = errors.New("printer did not answer the status request")
	ErrOffline   = errors.New("printer offline")
	ErrPaperOut  = errors.New("printer out of paper")
	ErrCoverOpen = errors.New("printer cover open")
	ErrHardware  = errors.New("printer hardware error")
	ErrJobFailed = errors.New("print job failed")
)

// NotReadyError is a status that stops printing. It matches the sentinel
// for its main cause (ErrPaperOut, ErrCoverOpen, ErrHardware, ErrOffline).
type NotReadyError struct {
	Status codec.Status
}

func (e *NotReadyError) Error() string { return "printer not ready: " + e.Status.Reason() }

// Unwrap gives the sentinel for the same cause Reason names first.
func (e *NotReadyError) Unwrap() error {
	s := e.Status
	switch {
	case s.Unrecoverable, s.CutterError, s.AutoRecoverable:
		return ErrHardware
	case s.CoverOpen:
		return ErrCoverOpen
	case s.PaperEnd:
		return ErrPaperOut
	case s.Error:
		return ErrHardware
	}
	return ErrOffline
}

// stateOf maps a status to the device vocabulary and a detail line.
func stateOf(s codec.Status) (device.State, string) {
	switch {
	case s.Ready() && s.PaperNearEnd:
		return device.Online, "paper near end"
	case s.Ready():
		return device.Online, ""
	}
	switch (&NotReadyError{Status: s}).Unwrap() {
	case ErrHardware:
		return device.HardwareError, s.Reason()
	case ErrCoverOpen, ErrPaperOut:
		return device.UserError, s.Reason()
	}
	if s.FeedButton {
		return device.UserError, s.Reason()
	}
	return device.Offline, s.Reason()
}

// Counter names in Health().Counters.
const (
	CounterReceipts = "receipts" // jobs confirmed printed
	CounterCuts     = "cuts"     // cut commands in confirmed jobs
	CounterPaperLow = "paperLow" // times the paper went near end
	CounterErrors   = "errors"   // failed or refused jobs, and lost connections (each counts)
)

// Config is a printer's entry in the hardware profile.
type Config struct {
	Name  string           // profile name; default "receiptPrinter"
	Path  string           // serial device, e.g. /dev/ttyUSB0 or a simulator's link
	Line  serialport.Line  // zero value: 115200 8N1, common for USB/serial thermal printers
	Paper codec.PaperWidth // 58 or 80; default 80

	StatusTimeout time.Duration // wait for each DLE EOT reply; default 300 ms
	PollInterval  time.Duration // idle status check; default 5 s
	MinBackoff    time.Duration // first reconnect delay; default 250 ms
	MaxBackoff    time.Duration // reconnect delay cap; default 5 s
	// AfterJob is a pause between the end of a job on the wire and the
	// status check after it. DLE EOT is answered at once, even while the
	// printer is still printing the job, so a pause lets a paper end met
	// near the bottom of the receipt show. Default 200 ms; negative: none.
	AfterJob  time.Duration
	ChunkSize int // bytes written per chunk; default 256
	// JobPoll is how often DLE EOT 1 is asked while a long job is being
	// sent, so that a fault in the middle of it (cover opened and closed
	// again, paper out) fails the job even if it is gone by the end.
	// Default 250 ms; negative: only before and after the job.
	JobPoll time.Duration

	// Paper and fonts.
	Charset codec.Charset // 2-byte codes the printer's font has: "gbk" (default), "gb18030", "gb2312"
	QRMode  codec.QRMode  // "native" (GS ( k, default) or "raster" (GS v 0 image)
	// FontPath lists TrueType/OpenType files, separated by ':', to draw
	// lines with rare characters as images; each character comes from the
	// first file that has it. Empty: every file of DefaultFontPaths that
	// exists. "none": no font, rare characters print as '?'.
	FontPath string

	Logger *slog.Logger // default: discard
}

// DefaultFontPaths are the CJK fonts looked for when the profile names
// none, in order: WenQuanYi Micro Hei (fonts-wqy-microhei), Noto Sans CJK
// (fonts-noto-cjk), Droid Sans Fallback (fonts-droid-fallback). WenQuanYi
// lacks most of CJK Extension A (䶮 among them); the others have it.
func DefaultFontPaths() []string {
	return []string{
		"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
		"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
		"/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
	}
}

// Validate checks the settings that have no safe default.
func (c Config) Validate() error {
	if c.Path == "" {
		return errors.New("printer: no path")
	}
	if c.Paper != 0 && !c.Paper.Valid() {
		return fmt.Errorf("printer: paper %d mm: want 58 or 80", int(c.Paper))
	}
	if !c.Charset.Valid() {
		return fmt.Errorf("printer: charset %q: want gbk, gb18030 or gb2312", string(c.Charset))
	}
	if !c.QRMode.Valid() {
		return fmt.Errorf("printer: qr mode %q: want native or raster", string(c.QRMode))
	}
	return nil
}

// LoadFont reads and parses the fonts in pathList (separated by ':'; empty
// means DefaultFontPaths) and chains them. Files that are missing are
// skipped when they come from the default list and reported otherwise;
// files that do not parse are always reported. It returns nil and the
// errors when no font could be loaded. The font keeps the file bytes
// (a few megabytes per CJK font).
func LoadFont(pathList string) (*codec.Font, []string, []error) {
	paths, explicit := filepath.SplitList(pathList), true
	if pathList == "" {
		paths, explicit = DefaultFontPaths(), false
	}
	var fonts []*codec.Font
	var loaded []string
	var errs []error
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			if explicit || !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("font %s: %w", path, err))
			}
			continue
		}
		f, err := codec.ParseFont(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("font %s: %w", path, err))
			continue
		}
		fonts = append(fonts, f)
		loaded = append(loaded, path)
	}
	if len(fonts) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("no font found in %s", filepath.Join(paths...)))
	}
	return codec.JoinFonts(fonts...), loaded, errs
}

// DefaultLine is the line setting used when the profile names none.
func DefaultLine() serialport.Line {
	return serialport.Line{Baud: 115200, DataBits: 8, Parity: "none", StopBits: 1}
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "receiptPrinter"
	}
	if c.Line.Baud == 0 {
		c.Line = DefaultLine()
	}
	if c.Line.DataBits == 0 {
		c.Line.DataBits = 8
	}
	if c.Line.StopBits == 0 {
		c.Line.StopBits = 1
	}
	if c.Paper == 0 {
		c.Paper = codec.Paper80
	}
	if c.StatusTimeout <= 0 {
		c.StatusTimeout = 300 * time.Millisecond
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 5 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 250 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(5*time.Second, c.MinBackoff)
	}
	if c.AfterJob == 0 {
		c.AfterJob = 200 * time.Millisecond
	}
	if c.ChunkSize <= 0 {
		c.ChunkSize = 256
	}
	if c.JobPoll == 0 {
		c.JobPoll = 250 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Printer is one ESC/POS printer. All methods are safe for concurrent use;
// Print and Status calls are serialised on the port.
type Printer struct {
	cfg Config
	log *slog.Logger
	mon *device.Monitor

	sem  chan struct{} // held while using port; a channel so waiting honours ctx
	port serialport.Port
	// nearEnd is the last paper-near-end reading, to count paperLow events
	// once per episode. Guarded by sem.
	nearEnd bool

	lost chan error // wakes the session when a caller found the port dead, with why

	fontOnce sync.Once
	font     *codec.Font // parsed once, shared by every Builder
}

// New makes a printer from its profile entry. Nothing is opened until Run.
func New(cfg Config) *Printer {
	cfg = cfg.withDefaults()
	p := &Printer{
		cfg:  cfg,
		log:  cfg.Logger.With("device", cfg.Name, "driver", "escpos", "path", cfg.Path),
		mon:  device.NewMonitor(cfg.Name, "escpos", cfg.Path),
		sem:  make(chan struct{}, 1),
		lost: make(chan error, 1),
	}
	for _, c := range []string{CounterReceipts, CounterCuts, CounterPaperLow, CounterErrors} {
		p.mon.Count(c, 0)
	}
	return p
}

// Line is the serial setting in use (after defaults).
func (p *Printer) Line() serialport.Line { return p.cfg.Line }

// Paper is the paper profile in use (after defaults).
func (p *Printer) Paper() codec.PaperWidth { return p.cfg.Paper }

// Builder starts a job for this printer: its paper, its font's charset,
// its QR mode, and the font for lines with rare characters.
func (p *Printer) Builder() *codec.Builder {
	return codec.NewBuilder(p.cfg.Paper, p.BuilderOptions()...)
}

// BuilderOptions are the codec options Builder uses, for callers that make
// their own codec.Builder.
func (p *Printer) BuilderOptions() []codec.Option {
	return []codec.Option{codec.WithFont(p.Font()), codec.WithCharset(p.cfg.Charset), codec.WithQRMode(p.cfg.QRMode)}
}

// Font is the font rare characters are drawn with, or nil if there is
// none. It is read on first use, not at start: the default CJK fonts keep
// about 8 MiB in memory, which a daemon that never prints a rare name
// need not pay; the first receipt pays some 10-20 ms to read them.
func (p *Printer) Font() *codec.Font {
	p.fontOnce.Do(func() {
		if p.cfg.FontPath == "none" {
			return
		}
		f, loaded, errs := LoadFont(p.cfg.FontPath)
		for _, err := range errs {
			p.log.Warn("font for rare characters", "err", err)
		}
		if f == nil {
			p.log.Warn("no font for rare characters: they print as '?'")
			return
		}
		p.font = f
		p.log.Info("font for rare characters loaded", "font", f.String(), "files", loaded)
	})
	return p.font
}

// Health is the current state, detail and counters.
func (p *Printer) Health() device.Health { return p.mon.Health() }

// OnHealth registers a callback for state changes (it must not block).
func (p *Printer) OnHealth(f func(device.Health)) { p.mon.OnChange(f) }

func (p *Printer) acquire(ctx context.Context) error {
	select {
	case p.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Printer) release() { <-p.sem }

// Run keeps the port open until ctx ends (package link: a missing device
// is state NoDevice, retried with backoff up to MaxBackoff; a lost port is
// opened again), checks the status every PollInterval, and returns nil
// when ctx ends.
func (p *Printer) Run(ctx context.Context) error {
	if err := p.cfg.Validate(); err != nil {
		p.log.Error("printer profile", "err", err) // every job will fail; say why once
	}
	link.Run(ctx, link.Config{Path: p.cfg.Path, Line: p.cfg.Line, MinBackoff: p.cfg.MinBackoff, MaxBackoff: p.cfg.MaxBackoff,
		Monitor: p.mon, Logger: p.log}, p.session)
	return nil
}

// session uses one open port: a first status reading, then one every
// PollInterval, until the port is lost or ctx ends.
func (p *Printer) session(ctx context.Context, port serialport.Port) (bool, error) {
	select { // a loss reported for the previous port is stale now
	case <-p.lost:
	default:
	}
	// Bytes left from before (a half-sent reply, ASB blocks) mean nothing now.
	if err := port.ResetInputBuffer(); err != nil {
		p.log.Debug("reset input buffer", "err", err)
	}
	if err := p.acquire(ctx); err != nil {
		return false, err
	}
	p.port = port
	p.release()
	defer p.closePort()
	p.log.Info("printer port open", "line", p.cfg.Line.String())
	p.check(ctx)
	return true, p.watch(ctx)
}

// watch checks the status every PollInterval until the port is lost (it
// returns why) or ctx ends. Idle polling is 8 bytes on the wire every few
// seconds.
func (p *Printer) watch(ctx context.Context) error {
	t := time.NewTicker(p.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-p.lost:
			return err
		case <-t.C:
			if !p.check(ctx) { // the port is gone: lose has said why
				select {
				case err := <-p.lost:
					return err
				default:
					return ErrNoDevice
				}
			}
		}
	}
}

// check reads the status and publishes the state; false if the port is gone.
func (p *Printer) check(ctx context.Context) bool {
	if err := p.acquire(ctx); err != nil {
		return true // ctx ended; watch returns on its own
	}
	defer p.release()
	if p.port == nil {
		return false
	}
	if _, err := p.statusLocked(ctx); err != nil {
		p.log.Debug("status check failed", "err", err)
	}
	return p.port != nil
}

// Status asks the printer for DLE EOT 1..4 and publishes the result.
func (p *Printer) Status(ctx context.Context) (codec.Status, error) {
	if err := p.acquire(ctx); err != nil {
		return codec.Status{}, fmt.Errorf("printer %s status: %w", p.cfg.Name, err)
	}
	defer p.release()
	st, err := p.statusLocked(ctx)
	if err != nil {
		return st, fmt.Errorf("printer %s status: %w", p.cfg.Name, err)
	}
	return st, nil
}

// statusLocked queries the printer and updates the monitor. Caller holds sem.
func (p *Printer) statusLocked(ctx context.Context) (codec.Status, error) {
	if p.port == nil {
		return codec.Status{}, ErrNoDevice
	}
	if err := p.discardPending(); err != nil {
		return codec.Status{}, err
	}
	var st codec.Status
	for n := byte(1); n <= 4; n++ {
		if err := ctx.Err(); err != nil {
			return codec.Status{}, err
		}
		b, err := p.query(ctx, n)
		if err != nil {
			if errors.Is(err, ErrNoReply) {
				p.mon.Set(device.Offline, "no status reply")
			}
			return codec.Status{}, err
		}
		if err := st.Apply(n, b); err != nil { // query only returns valid bytes
			return codec.Status{}, err
		}
	}
	state, detail := stateOf(st)
	if st.PaperNearEnd && !p.nearEnd {
		p.mon.Count(CounterPaperLow, 1)
		p.log.Warn("paper near end")
	}
	p.nearEnd = st.PaperNearEnd
	p.mon.Set(state, detail)
	return st, nil
}

// discardPending drops bytes that arrived unasked (ASB blocks, a reply that
// came after its timeout) so they cannot be taken for the next reply.
func (p *Printer) discardPending() error {
	var buf [64]byte
	// Bounded, so a device that never stops talking cannot hold the port.
	for range 64 {
		if err := p.port.SetReadTimeout(0); err != nil {
			return fmt.Errorf("set read timeout: %w", err)
		}
		n, err := p.port.Read(buf[:])
		if n > 0 {
			p.logDiscard(buf[:n], "before status request")
		}
		if err != nil {
			p.lose(fmt.Errorf("read: %w", err))
			return fmt.Errorf("%w: read: %w", ErrNoDevice, err)
		}
		if n == 0 {
			return nil
		}
	}
	return nil
}

func (p *Printer) logDiscard(b []byte, when string) {
	kind := "unknown"
	if len(b) > 0 && codec.IsASBHeader(b[0]) {
		kind = "automatic status back"
	}
	p.log.Info("discarding unexpected bytes from printer", "bytes", fmt.Sprintf("% x", b), "kind", kind, "when", when)
}

// query sends DLE EOT n and waits up to StatusTimeout for a byte that
// passes the validity mask; other bytes are logged and skipped.
func (p *Printer) query(ctx context.Context, n byte) (byte, error) {
	return p.queryWithin(ctx, n, p.cfg.StatusTimeout)
}

// queryWithin is query with its own timeout, for a request that may wait
// behind job bytes still on the wire.
func (p *Printer) queryWithin(ctx context.Context, n byte, timeout time.Duration) (byte, error) {
	if err := p.writeAll(codec.RealTimeStatus{N: n}.Bytes()); err != nil {
		p.lose(err)
		return 0, fmt.Errorf("%w: send DLE EOT %d: %w", ErrNoDevice, n, err)
	}
	deadline := time.Now().Add(timeout)
	var b [1]byte
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return 0, fmt.Errorf("%w: DLE EOT %d after %v", ErrNoReply, n, timeout.Round(time.Millisecond))
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := p.port.SetReadTimeout(left); err != nil {
			return 0, fmt.Errorf("set read timeout: %w", err)
		}
		k, err := p.port.Read(b[:])
		if err != nil {
			p.lose(fmt.Errorf("read: %w", err))
			return 0, fmt.Errorf("%w: read DLE EOT %d reply: %w", ErrNoDevice, n, err)
		}
		if k == 0 {
			continue // timeout; the loop head decides
		}
		if !codec.ValidStatus(b[0]) {
			p.logDiscard(b[:1], fmt.Sprintf("waiting for DLE EOT %d", n))
			continue
		}
		return b[0], nil
	}
}

func (p *Printer) writeAll(b []byte) error { return serialport.WriteAll(p.port, b) }

// lose closes a port that failed and ends the session, so link reconnects.
// Caller holds sem.
func (p *Printer) lose(err error) {
	if p.port == nil {
		return
	}
	p.port.Close()
	p.port = nil
	// nearEnd is kept: a paper-near-end episode that outlasts a lost cable
	// is still one episode.
	p.mon.Count(CounterErrors, 1)
	p.mon.Set(device.Offline, "port lost") // at once; link records err when the session ends
	select {
	case p.lost <- err:
	default:
	}
}

func (p *Printer) closePort() {
	p.sem <- struct{}{}
	if p.port != nil {
		p.port.Close()
		p.port = nil
	}
	p.release()
}

// Print sends one job (from codec.Builder). It checks the status first and
// refuses with a NotReadyError (ErrPaperOut, ErrCoverOpen, ErrHardware,
// ErrOffline), ErrNoReply or ErrNoDevice without sending anything; then
// writes the job in chunks paced to the line speed; then checks the status
// again. Only if that last check is ready does it return nil. Otherwise the
// error matches ErrJobFailed and the cause: the receipt may be missing or
// incomplete.
func (p *Printer) Print(ctx context.Context, job []byte) error {
	if len(job) == 0 {
		return fmt.Errorf("printer %s: empty job", p.cfg.Name)
	}
	if err := p.acquire(ctx); err != nil {
		return fmt.Errorf("printer %s: %w", p.cfg.Name, err)
	}
	defer p.release()
	err := p.printLocked(ctx, job)
	if err != nil {
		p.mon.Count(CounterErrors, 1)
		p.mon.Error(err)
		p.log.Warn("print failed", "err", err, "bytes", len(job))
	}
	return err
}

func (p *Printer) printLocked(ctx context.Context, job []byte) error {
	name := p.cfg.Name
	st, err := p.statusLocked(ctx)
	if err != nil {
		return fmt.Errorf("printer %s: status before job: %w", name, err)
	}
	if !st.Ready() {
		return fmt.Errorf("printer %s: refused job: %w", name, &NotReadyError{Status: st})
	}
	start := time.Now()
	layout := layoutOf(job)
	if sent, err := p.writeJob(ctx, job, layout.starts); err != nil {
		return fmt.Errorf("printer %s: %w after %d of %d bytes: %w", name, ErrJobFailed, sent, len(job), err)
	}
	if !link.Sleep(ctx, p.cfg.AfterJob) {
		return fmt.Errorf("printer %s: %w: not confirmed: %w", name, ErrJobFailed, ctx.Err())
	}
	st, err = p.statusLocked(ctx)
	if err != nil {
		return fmt.Errorf("printer %s: %w: status after job: %w", name, ErrJobFailed, err)
	}
	if !st.Ready() {
		return fmt.Errorf("printer %s: %w: %w", name, ErrJobFailed, &NotReadyError{Status: st})
	}
	cuts := layout.cuts
	p.mon.Count(CounterReceipts, 1)
	p.mon.Count(CounterCuts, int64(cuts))
	p.log.Info("receipt printed", "bytes", len(job), "cuts", cuts, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// writeJob writes job in chunks, never more than two chunks ahead of the
// wire: a printer's input buffer is small and these lines have no flow
// control. Every JobPoll it asks DLE EOT 1 between two chunks and stops at
// the first sign of trouble. After the last chunk it waits until the job
// has left the line, so the status request after it is not stuck behind
// the job and timed out.
//
// A request must never land inside another command's data (it would become
// part of an image), so chunks end where a command starts whenever one
// does, and the status is only asked there.
func (p *Printer) writeJob(ctx context.Context, job []byte, starts []int) (int, error) {
	start := time.Now()
	lastPoll := start
	sent := 0
	for sent < len(job) {
		// Wait until everything but the last chunk is on the wire.
		ahead := max(0, sent-p.cfg.ChunkSize)
		if !link.Sleep(ctx, time.Until(start.Add(p.cfg.Line.WireTime(ahead)))) {
			return sent, ctx.Err()
		}
		_, atCommand := slices.BinarySearch(starts, sent)
		if p.cfg.JobPoll > 0 && sent > 0 && atCommand && time.Since(lastPoll) >= p.cfg.JobPoll {
			// The request queues behind the chunk still on the wire.
			if err := p.pollDuringJob(ctx, p.cfg.Line.WireTime(sent-ahead)); err != nil {
				return sent, err
			}
			lastPoll = time.Now()
		}
		end := min(sent+p.cfg.ChunkSize, len(job))
		// End the chunk where the last command in it starts, if any.
		if i, found := slices.BinarySearch(starts, end); !found && i > 0 && starts[i-1] > sent && end < len(job) {
			end = starts[i-1]
		}
		if err := p.writeAll(job[sent:end]); err != nil {
			p.lose(err)
			return sent, err
		}
		sent = end
	}
	if !link.Sleep(ctx, time.Until(start.Add(p.cfg.Line.WireTime(len(job))))) {
		return sent, ctx.Err()
	}
	return sent, nil
}

// jobLayout is what the driver needs to know about a job's commands.
type jobLayout struct {
	starts []int // offset of every command (and of every stretch of bytes the parser skips)
	cuts   int
}

func layoutOf(job []byte) jobLayout {
	var l jobLayout
	ps := codec.NewParser()
	ps.Write(job)
	ps.Close()
	off := 0
	for {
		c, err := ps.Next()
		var se *codec.SyntaxError
		switch {
		case errors.Is(err, codec.ErrNeedMore):
			return l
		case errors.As(err, &se):
			l.starts = append(l.starts, off)
			off += len(se.Skipped)
		case err == nil:
			l.starts = append(l.starts, off)
			off += len(c.Bytes())
			if _, ok := c.(codec.CutPaper); ok {
				l.cuts++
			}
		default:
			return l // not reached: the parser returns only these
		}
	}
}

// pollDuringJob asks DLE EOT 1, answered at once even while printing. Any
// stop condition takes a printer offline (bit 3); then the full status
// says why, and a fault seen there fails the job even if it is gone by the
// end of the job: the printer may have dropped part of the receipt.
//
// The full status must confirm the fault: an image in the job may hold
// the bytes 10 04 n, which a printer can take for a status request and
// answer, and that unasked reply may be read here as the answer.
func (p *Printer) pollDuringJob(ctx context.Context, behind time.Duration) error {
	b, err := p.queryWithin(ctx, 1, p.cfg.StatusTimeout+behind)
	if err != nil {
		if errors.Is(err, ErrNoReply) {
			p.mon.Set(device.Offline, "no status reply")
		}
		return fmt.Errorf("status during job: %w", err)
	}
	var st codec.Status
	if err := st.Apply(1, b); err != nil {
		return err
	}
	if st.Ready() {
		return nil
	}
	full, err := p.statusLocked(ctx)
	if err != nil {
		return fmt.Errorf("status during job: %w", err)
	}
	if full.Ready() {
		p.log.Warn("printer said offline during a job, ready when asked again", "reply", fmt.Sprintf("%#02x", b))
		return nil
	}
	p.log.Warn("printer stopped during a job", "status", full.Reason())
	return &NotReadyError{Status: full}
}
