// Package idcard drives a resident ID card reader (a SAM module speaking
// GA/T 467 frames, brief protocols.md §1) on a serial line: a UART, a
// USB-serial adapter, or a simulator's pseudo terminal.
//
// Run keeps the port open, reconnecting with backoff when it vanishes
// (package link; a missing reader is state NoDevice, never fatal), checks
// that the port is still there (a stat and a non-blocking read, no bytes
// on the wire) whenever the kernel says its device node changed (or every
// PresenceInterval where it cannot say), and sends a SAM status check
// (11 FF) when the reader has been idle for StatusInterval. Read runs
// find → select → read (→ appended address) with the brief's per-command
// timeouts; WaitCard polls find card only while a flow waits for a card.
// The wire format is in package codec.
//
// A Card holds personal data. It is returned to the caller and never
// logged: the driver's logs carry the masked form only (codec.Masked).
package idcard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/idcard/codec"
	"tongban/drivers/link"
	"tongban/drivers/serialport"
)

// DriverName is the driver's name in device.Health and hardware profiles.
const DriverName = "idcard"

// Card is what Read returns: text, photo (WLT, passed through),
// fingerprint and appended address.
type Card = codec.Card

// Errors Read, SAMID, Status and WaitCard return; test with errors.Is.
// SAM statuses come as *codec.StatusError and match the codec sentinels
// (codec.ErrReadFailed, codec.ErrSAMSelfTest, ...).
var (
	ErrNoDevice = errors.New("ID card reader not connected")
	ErrTimeout  = errors.New("ID card reader did not answer in time")
	ErrBadReply = errors.New("ID card reader sent a corrupt reply")
	// ErrNoCard: no card on the reader (SAM status 80 to find card).
	ErrNoCard = codec.ErrNoCard
)

// Counter names in Health().Counters.
const (
	CounterReads      = "reads"          // cards read successfully
	CounterNoCard     = "noCard"         // reads that found no card
	CounterErrors     = "errors"         // failed reads and SAM id / status requests (not no card, not cancelled)
	CounterChecksum   = "checksumErrors" // replies that failed their checksum
	CounterFraming    = "framingErrors"  // bytes outside frames, bad LEN, replies that answer no pending command
	CounterTimeouts   = "timeouts"       // commands without a (complete) reply in time
	CounterReconnects = "reconnects"     // ports lost while open (each followed by reconnecting)
)

// Timeouts are the reply budgets per command, counted from the end of the
// request on the wire to the end of the reply, on top of the reply's own
// wire time (so they hold at any baud rate). Zero fields take the defaults.
type Timeouts struct {
	Status          time.Duration // 11 FF
	SAMID           time.Duration // 12 FF
	Find            time.Duration // 20 01
	Select          time.Duration // 20 02
	Read            time.Duration // 30 01
	ReadFingerprint time.Duration // 30 10
	Appended        time.Duration // 30 03
	Other           time.Duration // 10 FF, 61 FF
}

// DefaultTimeouts are YinanSoft's per-command values (§1.5); the status
// check gets the SAM id's budget and the rest hev-idcard-reader's 1 s.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		Status: 300 * time.Millisecond, SAMID: 300 * time.Millisecond,
		Find: 100 * time.Millisecond, Select: 100 * time.Millisecond,
		Read: 2000 * time.Millisecond, ReadFingerprint: 3000 * time.Millisecond,
		Appended: 1500 * time.Millisecond, Other: 1000 * time.Millisecond,
	}
}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts()
	return Timeouts{
		Status: cmp.Or(t.Status, d.Status), SAMID: cmp.Or(t.SAMID, d.SAMID),
		Find: cmp.Or(t.Find, d.Find), Select: cmp.Or(t.Select, d.Select),
		Read: cmp.Or(t.Read, d.Read), ReadFingerprint: cmp.Or(t.ReadFingerprint, d.ReadFingerprint),
		Appended: cmp.Or(t.Appended, d.Appended), Other: cmp.Or(t.Other, d.Other),
	}
}

func (t Timeouts) of(op codec.Op) time.Duration {
	switch op {
	case codec.OpSAMStatus:
		return t.Status
	case codec.OpSAMID:
		return t.SAMID
	case codec.OpFindCard:
		return t.Find
	case codec.OpSelectCard:
		return t.Select
	case codec.OpReadText:
		return t.Read
	case codec.OpReadFingerprint:
		return t.ReadFingerprint
	case codec.OpReadAppended:
		return t.Appended
	}
	return t.Other
}

// DefaultLine is the reader's default line: 115200 baud, 8N1 (§1.1).
func DefaultLine() serialport.Line {
	return serialport.Line{Baud: 115200, DataBits: 8, Parity: "none", StopBits: 1}
}

// Defaults for Config.
const (
	DefaultName             = "idCardReader"
	DefaultStatusInterval   = 10 * time.Second
	DefaultPresenceInterval = time.Second
	DefaultPollInterval     = 500 * time.Millisecond
	DefaultMinBackoff       = 250 * time.Millisecond
	DefaultMaxBackoff       = 5 * time.Second
	DefaultOfflineAfter     = 2
)

// Config is a reader's entry in the hardware profile. Zero fields take
// the defaults above.
type Config struct {
	Name     string          // profile name; default "idCardReader"
	Path     string          // serial device, e.g. /dev/ttyUSB0 or a simulator's link
	Line     serialport.Line // default 115200 8N1
	Timeouts Timeouts

	StatusInterval time.Duration // idle time before a SAM status check
	// PresenceInterval is how often to check the port is still there when
	// the kernel cannot tell us its device node changed (no inotify).
	PresenceInterval time.Duration
	PollInterval     time.Duration // WaitCard's find-card interval when it is given none
	MinBackoff       time.Duration // first reconnect delay
	MaxBackoff       time.Duration // reconnect delay cap
	OfflineAfter     int           // consecutive unanswered commands before Offline
	// MaxRFByte, when non-zero, is sent as 61 FF nn after each connect
	// (hev-idcard-reader sends codec.DefaultMaxRFByte).
	MaxRFByte byte

	Logger *slog.Logger // default: discard
}

func (c Config) withDefaults() Config {
	c.Name = cmp.Or(c.Name, DefaultName)
	if c.Line == (serialport.Line{}) {
		c.Line = DefaultLine()
	}
	c.Line.DataBits = cmp.Or(c.Line.DataBits, 8)
	c.Line.StopBits = cmp.Or(c.Line.StopBits, 1)
	c.Line.Parity = cmp.Or(c.Line.Parity, "none")
	c.Timeouts = c.Timeouts.withDefaults()
	c.StatusInterval = cmp.Or(c.StatusInterval, DefaultStatusInterval)
	c.PresenceInterval = cmp.Or(c.PresenceInterval, DefaultPresenceInterval)
	c.PollInterval = cmp.Or(c.PollInterval, DefaultPollInterval)
	c.MinBackoff = cmp.Or(c.MinBackoff, DefaultMinBackoff)
	c.MaxBackoff = max(cmp.Or(c.MaxBackoff, DefaultMaxBackoff), c.MinBackoff)
	c.OfflineAfter = cmp.Or(c.OfflineAfter, DefaultOfflineAfter)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// ReadOptions choose what Read fetches besides text and photo.
type ReadOptions struct {
	Fingerprint     bool // read with 30 10 (text, photo, fingerprint) instead of 30 01
	AppendedAddress bool // also read the appended address (30 03)
}

// linkState is what the state is computed from. Guarded by Reader.mu.
type linkState struct {
	connected  bool
	downState  device.State // state while not connected
	downDetail string
	answered   bool         // the SAM answered since the port was opened
	misses     int          // consecutive commands without a reply
	samFault   codec.Status // last reply was 60 or 66
	busy       bool         // a Read is running
}

// Reader is one ID card reader. All methods are safe for concurrent use;
// commands are serialised on the port.
type Reader struct {
	cfg     Config
	log     *slog.Logger
	mon     *device.Monitor
	running atomic.Bool

	sem chan struct{} // held while using the port; a channel so waiting honours ctx
	// Guarded by sem:
	port   serialport.Port
	portFI os.FileInfo // the device node opened, to notice it vanish or change
	dec    codec.Decoder
	buf    []byte
	lastIO time.Time

	lost chan error // wakes the session when the port was found dead, with why

	mu sync.Mutex
	st linkState
}

// New makes a reader from its profile entry. Nothing is opened until Run.
func New(cfg Config) *Reader {
	cfg = cfg.withDefaults()
	r := &Reader{
		cfg:  cfg,
		log:  cfg.Logger.With("device", cfg.Name, "driver", DriverName, "path", cfg.Path),
		mon:  device.NewMonitor(cfg.Name, DriverName, cfg.Path),
		sem:  make(chan struct{}, 1),
		buf:  make([]byte, 4096),
		lost: make(chan error, 1),
	}
	for _, c := range []string{CounterReads, CounterNoCard, CounterErrors, CounterChecksum, CounterFraming, CounterTimeouts, CounterReconnects} {
		r.mon.Count(c, 0)
	}
	return r
}

// Config is the effective configuration (defaults filled in). Tests use it
// to check the line settings, which a pty cannot check.
func (r *Reader) Config() Config { return r.cfg }

// Health is the current state, detail and counters.
func (r *Reader) Health() device.Health { return r.mon.Health() }

// OnHealth registers a callback for state changes (it must not block).
func (r *Reader) OnHealth(f func(device.Health)) { r.mon.OnChange(f) }

func (r *Reader) update(f func(*linkState)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.st)
	s := r.st
	switch {
	case !s.connected:
		r.mon.Set(s.downState, s.downDetail)
	case s.samFault != 0:
		r.mon.Set(device.HardwareError, "SAM status "+s.samFault.String())
	case s.misses >= r.cfg.OfflineAfter || (!s.answered && s.misses > 0):
		r.mon.Set(device.Offline, "SAM not answering")
	case !s.answered:
		r.mon.Set(device.Starting, "connected, checking the SAM")
	case s.busy:
		r.mon.Set(device.Busy, "reading a card")
	default:
		r.mon.Set(device.Online, "")
	}
}

func (r *Reader) acquire(ctx context.Context) error {
	select {
	case r.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Reader) tryAcquire() bool {
	select {
	case r.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

func (r *Reader) release() { <-r.sem }

// Run keeps the port open until ctx ends and returns nil then. It returns
// an error only for line settings no UART can take, or a second Run.
func (r *Reader) Run(ctx context.Context) error {
	if _, err := r.cfg.Line.Mode(); err != nil {
		return fmt.Errorf("idcard %s: line settings: %w", r.cfg.Name, err)
	}
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("idcard: Run is already running")
	}
	defer r.running.Store(false)
	link.Run(ctx, link.Config{Path: r.cfg.Path, Line: r.cfg.Line, MinBackoff: r.cfg.MinBackoff, MaxBackoff: r.cfg.MaxBackoff,
		Monitor: r.mon, SetState: r.setDown, Logger: r.log}, r.session)
	return nil
}

// setDown reports the port's state while it is not open.
func (r *Reader) setDown(state device.State, detail string) {
	r.update(func(s *linkState) { s.connected, s.downState, s.downDetail = false, state, detail })
}

// session uses one open port: it checks the SAM, then watches the port
// until it is lost or ctx ends.
func (r *Reader) session(ctx context.Context, port serialport.Port) (bool, error) {
	select { // a loss reported for the previous port is stale now
	case <-r.lost:
	default:
	}
	fi, err := os.Stat(r.cfg.Path)
	if err != nil { // gone between open and stat
		return false, fmt.Errorf("idcard %s: %w", r.cfg.Name, err)
	}
	// Bytes from before (a reply the reader finished after we last left)
	// mean nothing now.
	if err := port.ResetInputBuffer(); err != nil {
		r.log.Debug("reset input buffer", "err", err)
	}
	if err := r.acquire(ctx); err != nil {
		return false, err
	}
	r.port, r.portFI, r.lastIO = port, fi, time.Now()
	r.dec.Reset()
	r.update(func(s *linkState) { *s = linkState{connected: true} })
	r.log.Info("ID card reader port open", "line", r.cfg.Line.String())
	if _, err := r.commandLocked(ctx, codec.Request{Op: codec.OpSAMStatus}); err != nil {
		r.log.Warn("SAM status check after connect failed", "err", err)
	}
	if r.cfg.MaxRFByte != 0 && r.port != nil {
		req := codec.Request{Op: codec.OpSetMaxRFByte, Data: []byte{r.cfg.MaxRFByte}}
		if _, err := r.commandLocked(ctx, req); err != nil {
			r.log.Warn("set max RF byte failed", "err", err)
		}
	}
	r.release()
	err = r.watch(ctx)
	r.sem <- struct{}{} // link closes the port: nobody may use it after
	r.port, r.portFI = nil, nil
	r.release()
	return true, err
}

// watch checks the port when its device node changes and the SAM after
// StatusInterval idle, until the port is lost or ctx ends. An idle reader
// thus costs one status check per StatusInterval and no other wakeup; the
// card itself is only searched for while WaitCard runs.
func (r *Reader) watch(ctx context.Context) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the node watch
	changed, err := link.WatchNode(wctx, r.cfg.Path)
	if err != nil {
		r.log.Debug("device node not watchable, checking it every interval", "err", err, "interval", r.cfg.PresenceInterval)
	}
	var poll <-chan time.Time
	var ticker *time.Ticker
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	startPoll := func() {
		ticker = time.NewTicker(r.cfg.PresenceInterval)
		poll = ticker.C
	}
	if changed == nil {
		startPoll()
	}
	status := time.NewTimer(r.cfg.StatusInterval)
	defer status.Stop()
	for {
		statusDue := false
		select {
		case <-ctx.Done():
			return nil
		case err := <-r.lost:
			return err
		case _, open := <-changed:
			if !open { // the watch is gone: check now, then poll
				changed = nil
				startPoll()
			}
		case <-poll:
		case <-status.C:
			statusDue = true
		}
		if !r.tryAcquire() {
			if statusDue {
				status.Reset(r.cfg.StatusInterval)
			}
			continue // a command is running: the port is in use, and it notices a loss itself
		}
		ok := r.presentLocked()
		if ok && statusDue {
			if idle := time.Since(r.lastIO); idle < r.cfg.StatusInterval {
				status.Reset(r.cfg.StatusInterval - idle) // the reader answered since
			} else {
				if _, err := r.commandLocked(ctx, codec.Request{Op: codec.OpSAMStatus}); err != nil {
					r.log.Debug("idle SAM status check failed", "err", err)
				}
				ok = r.port != nil
				status.Reset(r.cfg.StatusInterval)
			}
		}
		r.release()
		if !ok { // the port is gone: lose has said why
			select {
			case err := <-r.lost:
				return err
			default:
				return ErrNoDevice
			}
		}
	}
}

// presentLocked checks, without a byte on the wire, that the port is still
// there: the device node must be the one opened (a USB adapter unplugged
// takes it away, a replug may bring a different one), and a non-blocking
// read must not report a hang-up. Caller holds sem.
func (r *Reader) presentLocked() bool {
	if r.port == nil {
		return false
	}
	fi, err := os.Stat(r.cfg.Path)
	if err != nil {
		r.lose(fmt.Errorf("device %s vanished: %w", r.cfg.Path, err))
		return false
	}
	if !os.SameFile(fi, r.portFI) {
		r.lose(fmt.Errorf("device %s now names another device", r.cfg.Path))
		return false
	}
	return r.discardLocked() == nil
}

// lose closes a port that failed and ends the session, so link reconnects.
// Caller holds sem.
func (r *Reader) lose(err error) {
	if r.port == nil {
		return
	}
	r.port.Close()
	r.port, r.portFI = nil, nil
	r.setDown(device.Offline, "port lost") // at once: Read must not say online now
	r.log.Warn("ID card reader port lost", "err", err)
	select {
	case r.lost <- err: // link records it when the session ends
	default:
	}
}

// discardLocked drops bytes nobody asked for (a reply that came after its
// timeout) so they cannot be taken for the next reply. Caller holds sem.
func (r *Reader) discardLocked() error {
	for range 64 { // bounded: a babbling line cannot hold the port
		if err := r.port.SetReadTimeout(0); err != nil {
			r.lose(fmt.Errorf("set read timeout: %w", err))
			return fmt.Errorf("%w: %w", ErrNoDevice, err)
		}
		n, err := r.port.Read(r.buf)
		if n > 0 {
			r.log.Debug("discarding stale bytes from the reader", "bytes", n)
		}
		if err != nil {
			r.lose(fmt.Errorf("read: %w", err))
			return fmt.Errorf("%w: read: %w", ErrNoDevice, err)
		}
		if n == 0 {
			return nil
		}
	}
	return nil
}

func (r *Reader) writeAll(b []byte) error { return serialport.WriteAll(r.port, b) }

// checksumGrace is how long to wait after a corrupt reply for a good frame
// behind it before failing at once: a SAM sends one reply per command.
const checksumGrace = 20 * time.Millisecond

// exchangeLocked sends req and returns the first reply that can answer it.
// Caller holds sem.
func (r *Reader) exchangeLocked(ctx context.Context, req codec.Request) (codec.Reply, error) {
	if r.port == nil {
		return codec.Reply{}, ErrNoDevice
	}
	if err := r.discardLocked(); err != nil {
		return codec.Reply{}, err
	}
	r.dec.Reset()
	wire, err := req.Encode()
	if err != nil {
		return codec.Reply{}, err
	}
	if err := r.writeAll(wire); err != nil {
		r.lose(err)
		return codec.Reply{}, fmt.Errorf("%w: %w", ErrNoDevice, err)
	}
	r.lastIO = time.Now()
	wait := r.cfg.Timeouts.of(req.Op) + r.cfg.Line.WireTime(len(wire)+req.Op.ReplyLen())
	deadline := time.Now().Add(wait)
	var bad error // a corrupt reply seen
	for {
		for {
			f, err := r.dec.Next()
			if errors.Is(err, codec.ErrIncomplete) {
				break
			}
			if err != nil {
				if errors.Is(err, codec.ErrChecksum) {
					r.mon.Count(CounterChecksum, 1)
					bad = err
				} else {
					r.mon.Count(CounterFraming, 1)
				}
				r.log.Debug("bad bytes from the reader", "op", req.Op, "err", err)
				continue
			}
			rep, err := f.Reply()
			if err == nil && !req.Op.Expects(rep) {
				err = fmt.Errorf("%v does not answer %v", rep, req.Op)
			}
			if err != nil {
				r.mon.Count(CounterFraming, 1)
				r.log.Debug("skipping a frame that is no reply to the command", "op", req.Op, "err", err)
				continue
			}
			r.lastIO = time.Now()
			r.update(func(s *linkState) {
				s.answered, s.misses = true, 0
				s.samFault = 0
				if rep.Status.Class() == codec.ClassSAM {
					s.samFault = rep.Status
				}
			})
			return rep, nil
		}
		if bad != nil && r.dec.Pending() == 0 {
			deadline = time.Now().Add(min(checksumGrace, time.Until(deadline)))
		}
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return codec.Reply{}, err // a late reply is discarded before the next command
		}
		if err := r.port.SetReadTimeout(min(left, 100*time.Millisecond)); err != nil {
			r.lose(fmt.Errorf("set read timeout: %w", err))
			return codec.Reply{}, fmt.Errorf("%w: %w", ErrNoDevice, err)
		}
		n, err := r.port.Read(r.buf)
		if err != nil {
			r.lose(fmt.Errorf("read: %w", err))
			return codec.Reply{}, fmt.Errorf("%w: read: %w", ErrNoDevice, err)
		}
		r.dec.Feed(r.buf[:n])
	}
	if bad != nil {
		return codec.Reply{}, fmt.Errorf("%v: %w: %w", req.Op, ErrBadReply, bad)
	}
	r.mon.Count(CounterTimeouts, 1)
	r.update(func(s *linkState) { s.misses++ })
	if have, want, ok := r.dec.Awaiting(); ok {
		return codec.Reply{}, fmt.Errorf("%v: %w: reply incomplete, %d of %d bytes after %v", req.Op, ErrTimeout, have, want, wait.Round(time.Millisecond))
	}
	if n := r.dec.Pending(); n > 0 {
		return codec.Reply{}, fmt.Errorf("%v: %w: %d bytes but no reply within %v", req.Op, ErrTimeout, n, wait.Round(time.Millisecond))
	}
	return codec.Reply{}, fmt.Errorf("%v: %w: no reply within %v", req.Op, ErrTimeout, wait.Round(time.Millisecond))
}

// commandLocked is one exchange with a failure status made an error that
// names the command. Caller holds sem.
func (r *Reader) commandLocked(ctx context.Context, req codec.Request) (codec.Reply, error) {
	rep, err := r.exchangeLocked(ctx, req)
	if err != nil {
		return rep, err
	}
	if !rep.Status.OK() {
		return rep, &codec.StatusError{Op: req.Op, Status: rep.Status}
	}
	return rep, nil
}

// failed counts and records a failed operation.
func (r *Reader) failed(what string, err error) {
	switch {
	case errors.Is(err, ErrNoCard):
		r.mon.Count(CounterNoCard, 1)
		r.log.Debug(what + ": no card")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		r.log.Debug(what+" abandoned", "err", err)
	default:
		r.mon.Count(CounterErrors, 1)
		r.mon.Error(err)
		r.log.Warn(what+" failed", "err", err)
	}
}

// Read reads the card on the reader: find card, select card, read text and
// photo (with the fingerprint if asked), then the appended address if
// asked. No card gives an error matching ErrNoCard; a card lifted half-way
// usually codec.ErrReadFailed or codec.ErrSelectFailed.
func (r *Reader) Read(ctx context.Context, opts ReadOptions) (Card, error) {
	if err := r.acquire(ctx); err != nil {
		return Card{}, fmt.Errorf("idcard %s: read card: %w", r.cfg.Name, err)
	}
	defer r.release()
	r.update(func(s *linkState) { s.busy = true })
	defer r.update(func(s *linkState) { s.busy = false })
	start := time.Now()
	c, err := r.readLocked(ctx, opts)
	if err != nil {
		err = fmt.Errorf("idcard %s: read card: %w", r.cfg.Name, err)
		r.failed("read card", err)
		return Card{}, err
	}
	r.mon.Count(CounterReads, 1)
	r.log.Info("card read", "card", c, "fingerprint", len(c.Fingerprint) > 0,
		"appendedAddress", c.AppendedAddress != "", "took", time.Since(start).Round(time.Millisecond))
	return c, nil
}

func (r *Reader) readLocked(ctx context.Context, opts ReadOptions) (Card, error) {
	if _, err := r.commandLocked(ctx, codec.Request{Op: codec.OpFindCard}); err != nil {
		return Card{}, err
	}
	if _, err := r.commandLocked(ctx, codec.Request{Op: codec.OpSelectCard}); err != nil {
		return Card{}, err
	}
	op := codec.OpReadText
	if opts.Fingerprint {
		op = codec.OpReadFingerprint
	}
	rep, err := r.commandLocked(ctx, codec.Request{Op: op})
	if err != nil {
		return Card{}, err
	}
	c, err := codec.DecodeReadData(rep.Data, opts.Fingerprint)
	if err != nil {
		return Card{}, fmt.Errorf("%v: %w", op, err)
	}
	if opts.AppendedAddress {
		rep, err := r.commandLocked(ctx, codec.Request{Op: codec.OpReadAppended})
		switch {
		case errors.Is(err, codec.ErrNoContent): // no appended address on the card
		case err != nil:
			return Card{}, err
		default:
			if c.AppendedAddress, err = codec.DecodeAppendedAddress(rep.Data); err != nil {
				return Card{}, fmt.Errorf("%v: %w", codec.OpReadAppended, err)
			}
		}
	}
	return c, nil
}

// SAMID reads the SAM's id (12 FF).
func (r *Reader) SAMID(ctx context.Context) (codec.SAMID, error) {
	if err := r.acquire(ctx); err != nil {
		return codec.SAMID{}, fmt.Errorf("idcard %s: SAM id: %w", r.cfg.Name, err)
	}
	defer r.release()
	rep, err := r.commandLocked(ctx, codec.Request{Op: codec.OpSAMID})
	var id codec.SAMID
	if err == nil {
		id, err = codec.DecodeSAMID(rep.Data)
	}
	if err != nil {
		err = fmt.Errorf("idcard %s: SAM id: %w", r.cfg.Name, err)
		r.failed("SAM id", err)
		return codec.SAMID{}, err
	}
	return id, nil
}

// Status runs a SAM status check (11 FF) now; nil means the SAM is ready.
func (r *Reader) Status(ctx context.Context) error {
	if err := r.acquire(ctx); err != nil {
		return fmt.Errorf("idcard %s: SAM status: %w", r.cfg.Name, err)
	}
	defer r.release()
	if _, err := r.commandLocked(ctx, codec.Request{Op: codec.OpSAMStatus}); err != nil {
		err = fmt.Errorf("idcard %s: SAM status: %w", r.cfg.Name, err)
		r.failed("SAM status", err)
		return err
	}
	return nil
}

// WaitCard polls find card every interval (Config.PollInterval if zero or
// less) until a card is on the reader, and returns nil then; the card is
// left for Read. It returns ctx's error when ctx ends, and at once an
// error matching ErrNoDevice, codec.ErrSAMSelfTest or
// codec.ErrSAMNotAuthorised, which polling cannot cure. Other failures
// (timeouts, corrupt replies) are logged and polling goes on. Nothing is
// polled while no one waits.
func (r *Reader) WaitCard(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = r.cfg.PollInterval
	}
	for {
		err := r.find(ctx)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("idcard %s: wait for card: %w", r.cfg.Name, ctx.Err())
		case errors.Is(err, ErrNoCard):
		case errors.Is(err, ErrNoDevice), errors.Is(err, codec.ErrSAMSelfTest), errors.Is(err, codec.ErrSAMNotAuthorised):
			return fmt.Errorf("idcard %s: wait for card: %w", r.cfg.Name, err)
		default:
			r.log.Debug("find card failed while waiting for a card", "err", err)
		}
		if !link.Sleep(ctx, interval) {
			return fmt.Errorf("idcard %s: wait for card: %w", r.cfg.Name, ctx.Err())
		}
	}
}

func (r *Reader) find(ctx context.Context) error {
	if err := r.acquire(ctx); err != nil {
		return err
	}
	defer r.release()
	_, err := r.commandLocked(ctx, codec.Request{Op: codec.OpFindCard})
	return err
}
