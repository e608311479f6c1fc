// Package id003 drives a JCM ID003 bill validator (and compatibles) over a
// serial line and offers it to the core as a cash.Acceptor.
//
// One goroutine (Run) owns the port. It polls status request (11) every
// PollInterval, answers the acceptor's states (escrow → ask the core →
// stack or return; vend valid → credit, then ACK); package link reopens the
// port with backoff when it vanishes. The wire format is in package codec.
package id003

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/drivers/id003/codec"
	"tongban/drivers/link"
	"tongban/drivers/serialport"
)

// DriverName is the driver's name in device.Health.
const DriverName = "id003"

// Defaults (brief §3a timing: Aristocrat's 150 ms poll, 50 ms response,
// 500 ms during initialization).
const (
	DefaultPollInterval    = 150 * time.Millisecond
	DefaultResponseTimeout = 50 * time.Millisecond
	DefaultInitTimeout     = 500 * time.Millisecond
	DefaultReconnectMin    = 200 * time.Millisecond
	DefaultReconnectMax    = 5 * time.Second
	DefaultOfflineAfter    = 3
)

// DefaultLine is ID003's line: 9600 baud, 8 data bits, even parity, 1 stop.
func DefaultLine() serialport.Line {
	return serialport.Line{Baud: 9600, DataBits: 8, Parity: "even", StopBits: 1}
}

// Config describes one acceptor. Zero fields take the defaults above.
type Config struct {
	Name string          // profile name, e.g. "billValidator"
	Path string          // serial device, e.g. /dev/ttyUSB0 or a simulator's link
	Line serialport.Line // zero value: DefaultLine()

	PollInterval    time.Duration // status request period
	ResponseTimeout time.Duration // reply budget in normal operation
	InitTimeout     time.Duration // reply budget during power up, initialize and settings
	ReconnectMin    time.Duration // first wait after the port is lost or missing
	ReconnectMax    time.Duration // the wait doubles up to this
	OfflineAfter    int           // consecutive unanswered polls before the state is Offline

	// Denominations maps escrow codes to values in fen. It is used only
	// when the acceptor does not answer the currency table request (8A)
	// with a usable table.
	Denominations map[byte]int64
	// OptionalFunctions, when set, is sent as C5 (2 bytes, codec.Opt* bits).
	OptionalFunctions []byte

	Logger *slog.Logger
}

// Driver is one ID003 acceptor. Enable, Denominations, Health and OnHealth
// may be called from any goroutine; Run runs on one.
type Driver struct {
	cfg     Config
	log     *slog.Logger
	mon     *device.Monitor
	running atomic.Bool

	mu      sync.Mutex
	want    []int64        // values the core wants accepted; empty = inhibit
	dirty   bool           // want changed since it was last sent
	warned  bool           // an unknown wanted value was logged since the last Enable
	table   map[byte]int64 // escrow code → fen, from 8A or the static map
	version string
}

var _ cash.Acceptor = (*Driver)(nil)

// New makes a driver; nothing is opened until Run.
func New(cfg Config) *Driver {
	if cfg.Line == (serialport.Line{}) {
		cfg.Line = DefaultLine()
	}
	cfg.PollInterval = cmp.Or(cfg.PollInterval, DefaultPollInterval)
	cfg.ResponseTimeout = cmp.Or(cfg.ResponseTimeout, DefaultResponseTimeout)
	cfg.InitTimeout = cmp.Or(cfg.InitTimeout, DefaultInitTimeout)
	cfg.ReconnectMin = cmp.Or(cfg.ReconnectMin, DefaultReconnectMin)
	cfg.ReconnectMax = max(cmp.Or(cfg.ReconnectMax, DefaultReconnectMax), cfg.ReconnectMin)
	cfg.OfflineAfter = cmp.Or(cfg.OfflineAfter, DefaultOfflineAfter)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Denominations = maps.Clone(cfg.Denominations)
	return &Driver{
		cfg:   cfg,
		log:   cfg.Logger.With("driver", DriverName, "name", cfg.Name, "path", cfg.Path),
		mon:   device.NewMonitor(cfg.Name, DriverName, cfg.Path),
		table: maps.Clone(cfg.Denominations),
	}
}

// Config returns the effective configuration (defaults filled in). Tests
// use it to check the line settings, which a pty cannot check.
func (d *Driver) Config() Config {
	c := d.cfg
	c.Denominations = maps.Clone(c.Denominations)
	c.OptionalFunctions = slices.Clone(c.OptionalFunctions)
	return c
}

// Enable implements cash.Acceptor: the listed values (fen) are accepted
// from the next poll on; an empty list inhibits the acceptor.
func (d *Driver) Enable(values []int64) {
	d.mu.Lock()
	d.want = slices.Clone(values)
	d.dirty, d.warned = true, false
	d.mu.Unlock()
}

// Denominations implements cash.Acceptor: the values (fen) in the table in
// use, ascending.
func (d *Driver) Denominations() []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var v []int64
	for _, fen := range d.table {
		if !slices.Contains(v, fen) {
			v = append(v, fen)
		}
	}
	slices.Sort(v)
	return v
}

// Version is the acceptor's answer to 88, once read.
func (d *Driver) Version() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.version
}

// Health implements cash.Acceptor.
func (d *Driver) Health() device.Health { return d.mon.Health() }

// OnHealth implements cash.Acceptor.
func (d *Driver) OnHealth(f func(device.Health)) { d.mon.OnChange(f) }

// settingsLocked computes the C0 mask and C3 inhibit for the wanted values
// and clears the dirty flag.
func (d *Driver) settingsLocked() (mask [2]byte, inhibit bool) {
	var codes []byte
	for code, fen := range d.table {
		if slices.Contains(d.want, fen) {
			codes = append(codes, code)
		}
	}
	if !d.warned && len(d.table) > 0 {
		for _, v := range d.want {
			if !slices.Contains(slices.Collect(maps.Values(d.table)), v) {
				d.log.Warn("asked to accept a value the acceptor does not know", "fen", v)
				d.warned = true
			}
		}
	}
	d.dirty = false
	// No code enabled means nothing can be accepted: inhibit rather than
	// pull notes in only to reject them.
	return codec.DenomMask(codes), len(codes) == 0
}

func (d *Driver) settings() (mask [2]byte, inhibit bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.settingsLocked()
}

// takeDirty returns the settings if Enable was called since they were last sent.
func (d *Driver) takeDirty() (mask [2]byte, inhibit, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.dirty {
		return mask, false, false
	}
	mask, inhibit = d.settingsLocked()
	return mask, inhibit, true
}

func (d *Driver) markDirty() {
	d.mu.Lock()
	d.dirty = true
	d.mu.Unlock()
}

func (d *Driver) valueOf(code byte) (int64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.table[code]
	return v, ok
}

// Run implements cash.Acceptor. It returns nil when ctx ends, and an error
// only for a configuration it can never use or a second concurrent Run.
// A missing or vanished port is reported through Health (NoDevice,
// Offline) and retried with backoff.
func (d *Driver) Run(ctx context.Context, h cash.Handler) error {
	if h == nil {
		return errors.New("id003: Run needs a handler")
	}
	if _, err := d.cfg.Line.Mode(); err != nil {
		return fmt.Errorf("id003 %s: line settings: %w", d.cfg.Path, err)
	}
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("id003: Run is already running")
	}
	defer d.running.Store(false)

	r := &runner{d: d, h: h}
	link.Run(ctx, link.Config{Path: d.cfg.Path, Line: d.cfg.Line, MinBackoff: d.cfg.ReconnectMin, MaxBackoff: d.cfg.ReconnectMax,
		Monitor: d.mon, SetState: r.setState, Logger: d.log},
		func(ctx context.Context, port serialport.Port) (bool, error) {
			s := newSession(r, port)
			err := s.run(ctx)
			return s.answered, err
		})
	return nil
}
