// Package scanner drives a serial (or USB-CDC) barcode/QR scanner: it
// frames the scanner's reads (package codec), classifies each one
// (payment code, receipt or enrollment QR, utility bill barcode) and
// delivers it on a channel; it triggers Honeywell and Newland scanners
// with their serial commands, checking Newland's ACK/NAK/ENQ; and it keeps
// the port open, reconnecting with backoff when it vanishes.
//
// Reads may carry payment codes: the driver logs them only masked (the
// codec.Code's LogValue), and skipped bytes only by count.
package scanner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/link"
	"tongban/drivers/scanner/codec"
	"tongban/drivers/serialport"
)

// DriverName is the driver's name in device.Health and the profile.
const DriverName = "scanner"

// Defaults.
const (
	// DefaultIdleGap: bytes of one read arrive back to back (a byte takes
	// ~1 ms at 9600 baud); a partial read left this long lost its suffix.
	DefaultIdleGap = 100 * time.Millisecond
	// DefaultReplyTimeout: Newland answers within 500 ms (public driver
	// code's MAX_RESPONSE_TIME).
	DefaultReplyTimeout = 500 * time.Millisecond
	DefaultReconnectMin = 250 * time.Millisecond
	DefaultReconnectMax = 5 * time.Second
	DefaultBuffer       = 16
)

// DefaultLine is the usual scanner setting: 9600 8N1.
func DefaultLine() serialport.Line {
	return serialport.Line{Baud: 9600, DataBits: 8, Parity: "none", StopBits: 1}
}

// Counter names in Health().Counters.
const (
	CounterReads      = "reads"      // classified reads delivered
	CounterGarbage    = "garbage"    // reads with control bytes or invalid text
	CounterIncomplete = "incomplete" // reads that lost their suffix
	CounterTooLong    = "tooLong"    // reads over MaxLen
	CounterBadReplies = "badReplies" // malformed Newland replies
	CounterDropped    = "dropped"    // reads lost because nobody took them from Reads
	CounterRefused    = "refused"    // commands answered NAK or ENQ
	CounterNoReply    = "noReply"    // commands not answered in time
	CounterReconnects = "reconnects"
)

// Errors from Trigger; test with errors.Is.
var (
	ErrUnsupported = errors.New("scanner model has no trigger command")
	ErrNoDevice    = errors.New("scanner not connected")
	ErrNoReply     = errors.New("scanner did not answer")
	ErrRefused     = errors.New("scanner refused the command")
)

// RefusedError carries the Newland status (NAK: value out of range, ENQ:
// no such setting). It matches ErrRefused.
type RefusedError struct{ Status codec.Status }

func (e *RefusedError) Error() string { return "scanner refused the command: " + e.Status.String() }
func (e *RefusedError) Unwrap() error { return ErrRefused }

// Config is a scanner's entry in the hardware profile.
type Config struct {
	Name  string          // default "scanner"
	Path  string          // serial device, e.g. /dev/ttyACM0 or a simulator's link
	Line  serialport.Line // zero: DefaultLine()
	Model string          // "generic" (default), "honeywell", "newland"
	// Mode, for Newland only: "manual" sends @SCNMOD0 and "auto" @SCNMOD2
	// on every connect; "" leaves the scanner as it is set.
	Mode     string
	Suffix   string // "auto" (default: CR, LF or CR LF), "cr", "lf", "crlf", "none"
	Prefix   string // stripped from each read when present
	StripAIM bool   // move a leading AIM identifier into Read.AIM
	MaxLen   int    // longest read; default codec.DefaultMaxLen

	IdleGap      time.Duration // default 100 ms
	ReplyTimeout time.Duration // Newland; default 500 ms
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	Buffer       int // Reads channel capacity; default 16

	Logger *slog.Logger
}

// Read is one classified read.
type Read struct {
	Code codec.Code // log the Code, never Code.Text
	AIM  string
	At   time.Time
}

// LogValue keeps a Read masked in logs.
func (r Read) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("code", r.Code), slog.String("aim", r.AIM), slog.Time("at", r.At))
}

// Scanner is one scanner. Reads, Trigger, Health and OnHealth may be used
// from any goroutine; Run runs on one.
type Scanner struct {
	cfg     Config
	fcfg    codec.FramerConfig
	log     *slog.Logger
	mon     *device.Monitor
	reads   chan Read
	replies chan codec.Reply
	running atomic.Bool

	cmdMu sync.Mutex // one command exchange at a time

	mu   sync.Mutex
	port serialport.Port
	smu  sync.Mutex // serialises state publication
}

// New checks the configuration and makes the driver; nothing is opened
// until Run.
func New(cfg Config) (*Scanner, error) {
	cfg.Name = cmp.Or(cfg.Name, "scanner")
	cfg.Model = cmp.Or(strings.ToLower(cfg.Model), codec.ModelGeneric)
	switch cfg.Model {
	case codec.ModelGeneric, codec.ModelHoneywell, codec.ModelNewland:
	default:
		return nil, fmt.Errorf("scanner %s: model %q: want generic, honeywell or newland", cfg.Name, cfg.Model)
	}
	switch cfg.Mode {
	case "":
	case "manual", "auto":
		if cfg.Model != codec.ModelNewland {
			return nil, fmt.Errorf("scanner %s: mode %q can only be set on a newland scanner (set it in the scanner's menu)", cfg.Name, cfg.Mode)
		}
	default:
		return nil, fmt.Errorf("scanner %s: mode %q: want manual, auto or empty", cfg.Name, cfg.Mode)
	}
	suffix, err := codec.ParseSuffix(cfg.Suffix)
	if err != nil {
		return nil, fmt.Errorf("scanner %s: %w", cfg.Name, err)
	}
	if cfg.Line == (serialport.Line{}) {
		cfg.Line = DefaultLine()
	}
	if _, err := cfg.Line.Mode(); err != nil {
		return nil, fmt.Errorf("scanner %s: line: %w", cfg.Name, err)
	}
	cfg.IdleGap = cmp.Or(cfg.IdleGap, DefaultIdleGap)
	cfg.ReplyTimeout = cmp.Or(cfg.ReplyTimeout, DefaultReplyTimeout)
	cfg.ReconnectMin = cmp.Or(cfg.ReconnectMin, DefaultReconnectMin)
	cfg.ReconnectMax = max(cmp.Or(cfg.ReconnectMax, DefaultReconnectMax), cfg.ReconnectMin)
	cfg.Buffer = cmp.Or(cfg.Buffer, DefaultBuffer)
	cfg.MaxLen = cmp.Or(cfg.MaxLen, codec.DefaultMaxLen)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Scanner{
		cfg:     cfg,
		fcfg:    codec.FramerConfig{Suffix: suffix, Prefix: cfg.Prefix, StripAIM: cfg.StripAIM, MaxLen: cfg.MaxLen},
		log:     cfg.Logger.With("driver", DriverName, "name", cfg.Name, "path", cfg.Path),
		mon:     device.NewMonitor(cfg.Name, DriverName, cfg.Path),
		reads:   make(chan Read, cfg.Buffer),
		replies: make(chan codec.Reply, 8),
	}
	for _, c := range []string{CounterReads, CounterGarbage, CounterIncomplete, CounterDropped} {
		s.mon.Count(c, 0)
	}
	return s, nil
}

// Config is the effective configuration (defaults filled in).
func (s *Scanner) Config() Config { return s.cfg }

// Reads delivers classified reads. It is never closed. A read that finds
// the channel full is dropped and counted (the resident scans again).
func (s *Scanner) Reads() <-chan Read { return s.reads }

// Health is the scanner's state and counters.
func (s *Scanner) Health() device.Health { return s.mon.Health() }

// OnHealth registers a callback for state changes (it must not block).
func (s *Scanner) OnHealth(f func(device.Health)) { s.mon.OnChange(f) }

func (s *Scanner) setState(st device.State, detail string) {
	s.smu.Lock()
	s.mon.Set(st, detail)
	s.smu.Unlock()
}

// Run keeps the port open and delivers reads until ctx ends; it returns
// nil then, or an error for a second concurrent Run. A missing port is
// NoDevice and a lost one Offline, both retried with backoff.
func (s *Scanner) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("scanner: Run is already running")
	}
	defer s.running.Store(false)
	// A scanner never answers unasked: an open port is all the health
	// there is, so every session starts the backoff afresh.
	link.Run(ctx, link.Config{Path: s.cfg.Path, Line: s.cfg.Line, MinBackoff: s.cfg.ReconnectMin, MaxBackoff: s.cfg.ReconnectMax,
		Monitor: s.mon, SetState: s.setState, Logger: s.log},
		func(ctx context.Context, port serialport.Port) (bool, error) { return true, s.session(ctx, port) })
	return nil
}

// session reads one open port until it fails or ctx ends; link closes it.
func (s *Scanner) session(ctx context.Context, port serialport.Port) error {
	defer func() {
		s.mu.Lock()
		s.port = nil
		s.mu.Unlock()
	}()
	if err := port.ResetInputBuffer(); err != nil {
		return fmt.Errorf("scanner %s: flush: %w", s.cfg.Name, err)
	}
	// An idle scanner sends nothing for hours: the read blocks with no
	// timeout, so the idle line costs no wakeup. Closing the port is what
	// ends that read when ctx ends (link closes it again, harmlessly); a
	// vanished port fails the read by itself.
	stop := context.AfterFunc(ctx, func() { port.Close() })
	defer stop()
	s.mu.Lock()
	s.port = port
	s.mu.Unlock()
	s.log.Info("scanner port open", "line", s.cfg.Line.String(), "model", s.cfg.Model)
	s.setState(device.Online, "")

	var wg sync.WaitGroup
	defer wg.Wait() // deferred first, so it runs after cancel
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.cfg.Mode != "" {
		wg.Go(func() { s.configure(sctx) })
	}

	f := codec.NewFramer(s.fcfg)
	buf := make([]byte, 512)
	last := time.Now()
	timeout := time.Duration(0) // matches neither wait below: the first sets it
	for ctx.Err() == nil {
		// Only a read half in needs a timeout: the idle gap after its
		// last byte says it lost its suffix.
		wait := serialport.NoTimeout
		if f.Pending() > 0 {
			wait = s.cfg.IdleGap - time.Since(last)
			if wait <= 0 {
				s.handle(f.Flush()) // the line went quiet in the middle of a read
				continue
			}
		}
		if wait != timeout {
			if err := port.SetReadTimeout(wait); err != nil {
				return fmt.Errorf("scanner %s: set read timeout: %w", s.cfg.Name, err)
			}
			timeout = wait
		}
		n, err := port.Read(buf) // a timeout is (0, nil)
		if n > 0 {
			last = time.Now()
			f.Write(buf[:n])
			s.drain(f)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil // our own Close ended the read
			}
			return fmt.Errorf("scanner %s: read: %w", s.cfg.Name, err)
		}
	}
	return nil
}

// drain handles every frame the framer has.
func (s *Scanner) drain(f *codec.Framer) {
	for {
		fr, err := f.Next()
		if errors.Is(err, codec.ErrNeedMore) {
			return
		}
		s.handle(fr, err)
	}
}

func (s *Scanner) handle(fr codec.Frame, err error) {
	if err != nil {
		s.frameError(err)
	} else {
		s.frame(fr)
	}
}

func (s *Scanner) frameError(err error) {
	var fe *codec.FrameError
	n := 0
	if errors.As(err, &fe) {
		n = len(fe.Skipped)
	}
	// Never the bytes: a read cut short may be most of a payment code.
	switch {
	case errors.Is(err, codec.ErrIncomplete):
		s.mon.Count(CounterIncomplete, 1)
	case errors.Is(err, codec.ErrTooLong):
		s.mon.Count(CounterTooLong, 1)
	case errors.Is(err, codec.ErrBadReply):
		s.mon.Count(CounterBadReplies, 1)
	default:
		s.mon.Count(CounterGarbage, 1)
	}
	s.mon.Error(fmt.Errorf("scanner %s: %w", s.cfg.Name, err))
	s.log.Warn("unusable bytes from scanner", "err", err, "bytes", n)
}

func (s *Scanner) frame(fr codec.Frame) {
	switch fr := fr.(type) {
	case codec.Reply:
		select {
		case s.replies <- fr:
		default:
			s.log.Warn("unexpected scanner reply dropped", "echo", fr.Echo(), "status", fr.Status())
		}
	case codec.Read:
		r := Read{Code: codec.Classify(fr.Data), AIM: fr.AIM, At: time.Now()}
		s.mon.Count(CounterReads, 1) // before delivery, so whoever takes it sees it counted
		select {
		case s.reads <- r:
			s.log.Info("scan", "read", r)
		default:
			s.mon.Count(CounterReads, -1)
			s.mon.Count(CounterDropped, 1)
			s.log.Warn("scan dropped: nobody is taking reads", "read", r)
		}
	}
}

// configure sets the Newland trigger mode; it retries while the scanner
// does not answer.
func (s *Scanner) configure(ctx context.Context) {
	cmd := codec.NewlandMode(s.cfg.Mode == "manual")
	for wait := s.cfg.ReconnectMin; ; wait = min(wait*2, s.cfg.ReconnectMax) {
		err := s.exchange(ctx, cmd)
		switch {
		case err == nil:
			s.log.Info("scanner mode set", "mode", s.cfg.Mode)
			s.setState(device.Online, "")
			return
		case ctx.Err() != nil, errors.Is(err, ErrNoDevice):
			return // the session is ending
		case errors.Is(err, ErrRefused):
			s.setState(device.Online, "mode command refused")
			s.log.Warn("scanner refused the mode command", "err", err)
			return
		case errors.Is(err, ErrNoReply):
			s.setState(device.Offline, "scanner does not answer")
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Trigger starts (on) or stops a scan. Honeywell gets SYN T CR / SYN U CR
// (no reply exists); Newland gets #SCNTRG1 / #SCNTRG0 and its reply is
// checked: ACK is nil, NAK or ENQ a *RefusedError, silence ErrNoReply.
// The generic model returns ErrUnsupported.
func (s *Scanner) Trigger(ctx context.Context, on bool) error {
	var err error
	switch s.cfg.Model {
	case codec.ModelHoneywell:
		err = s.send(ctx, codec.HoneywellTrigger(on))
	case codec.ModelNewland:
		err = s.exchange(ctx, codec.NewlandTrigger(on))
		if err == nil && s.Health().State == device.Offline {
			s.setState(device.Online, "") // it answers again
		}
	default:
		err = ErrUnsupported
	}
	if err != nil {
		return fmt.Errorf("scanner %s: trigger %t: %w", s.cfg.Name, on, err)
	}
	return nil
}

// send writes one command.
func (s *Scanner) send(ctx context.Context, cmd []byte) error {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	return s.writeLocked(ctx, cmd)
}

func (s *Scanner) writeLocked(ctx context.Context, cmd []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	port := s.port
	s.mu.Unlock()
	if port == nil {
		return ErrNoDevice
	}
	for b := cmd; len(b) > 0; {
		n, err := port.Write(b)
		if err != nil {
			return fmt.Errorf("%w: write: %w", ErrNoDevice, err)
		}
		if n == 0 {
			return fmt.Errorf("%w: write made no progress", ErrNoDevice)
		}
		b = b[n:]
	}
	return nil
}

// exchange sends a Newland command and waits for the reply that echoes it.
func (s *Scanner) exchange(ctx context.Context, cmd []byte) error {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	for drained := false; !drained; { // replies nobody waited for are stale
		select {
		case r := <-s.replies:
			s.log.Debug("stale scanner reply", "echo", r.Echo())
		default:
			drained = true
		}
	}
	if err := s.writeLocked(ctx, cmd); err != nil {
		return err
	}
	t := time.NewTimer(s.cfg.ReplyTimeout + s.cfg.Line.WireTime(2*len(cmd)))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			s.mon.Count(CounterNoReply, 1)
			return fmt.Errorf("%w within %v", ErrNoReply, s.cfg.ReplyTimeout)
		case r := <-s.replies:
			if !r.Answers(cmd) {
				s.log.Debug("reply to another command", "echo", r.Echo())
				continue
			}
			if st := r.Status(); st != codec.ACK {
				s.mon.Count(CounterRefused, 1)
				return &RefusedError{Status: st}
			}
			return nil
		}
	}
}
