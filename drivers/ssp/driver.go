// Package ssp drives an Innovative Technology SSP / eSSP bill validator
// (NV9, NV10, NV200) over a serial line and offers it to the core as a
// cash.Acceptor.
//
// One goroutine (Run) owns the port. On connect it sends SYNC, the host
// protocol version, (with Config.Encrypted) the eSSP key exchange, the
// setup request (channel values come from the device), the channel
// inhibits and enable, then polls every PollInterval. A request that gets
// no valid reply is sent again byte for byte (the slave answers a repeated
// sequence flag with its previous reply, so nothing happens twice); after
// Retries tries, or on repeated sequence-flag mismatches, the driver
// resynchronises with SYNC. Escrow is explicit: "read note" with a channel
// asks the core synchronously, then the next poll stacks the note or a
// REJECT hands it back; HOLD keeps it in escrow while the core decides.
// Package link reopens the port with backoff when it vanishes. The wire
// format is in package codec.
package ssp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/drivers/link"
	"tongban/drivers/serialport"
	"tongban/drivers/ssp/codec"
)

// DriverName is the driver's name in device.Health and hardware profiles.
const DriverName = "ssp"

// Defaults (brief §3b: kybarg/ssp polls every 300 ms start-to-start, waits
// 1000 ms for a reply and tries up to 20 times).
const (
	DefaultPollInterval    = 300 * time.Millisecond
	DefaultResponseTimeout = time.Second
	DefaultRetries         = 20
	DefaultOfflineAfter    = 3
	DefaultProtocol        = 6
	// DefaultHoldEvery is how often HOLD is sent while the core decides
	// about a note in escrow; the device rejects a note left in escrow
	// for 10 s, and HOLD restarts that time.
	DefaultHoldEvery    = 2 * time.Second
	DefaultReconnectMin = 200 * time.Millisecond
	DefaultReconnectMax = 5 * time.Second
)

// DefaultLine is SSP's line: 9600 baud, 8 data bits, no parity, 2 stop bits.
func DefaultLine() serialport.Line {
	return serialport.Line{Baud: 9600, DataBits: 8, Parity: "none", StopBits: 2}
}

// Config describes one validator. Zero fields take the defaults above.
type Config struct {
	Name string          // profile name, e.g. "billValidator"
	Path string          // serial device, e.g. /dev/ttyUSB0 or a simulator's link
	Line serialport.Line // zero value: DefaultLine()
	Addr byte            // slave id; 0 is a note validator

	// Encrypted runs the eSSP key exchange after SYNC and sends every
	// later command encrypted.
	Encrypted bool
	// FixedKey is the 64-bit fixed part of the eSSP key; 0 means the
	// factory default 0123456701234567.
	FixedKey uint64
	// Protocol is the host protocol version asked for; lower versions are
	// tried if the device refuses it. 0 means DefaultProtocol.
	Protocol byte

	PollInterval    time.Duration // poll period, start to start
	ResponseTimeout time.Duration // wait for one reply before sending again
	Retries         int           // tries per request before a resync
	OfflineAfter    int           // consecutive unanswered tries before the state is Offline
	HoldEvery       time.Duration // HOLD period while the core decides; negative disables HOLD
	ReconnectMin    time.Duration // first wait after the port is lost or missing
	ReconnectMax    time.Duration // the wait doubles up to this

	Logger *slog.Logger
}

// Driver is one SSP validator. Enable, Denominations, Health and OnHealth
// may be called from any goroutine; Run runs on one.
type Driver struct {
	cfg     Config
	log     *slog.Logger
	mon     *device.Monitor
	running atomic.Bool

	mu       sync.Mutex
	want     []int64 // values the core wants accepted; empty = disabled
	dirty    bool    // want changed since it was last sent
	channels []int64 // fen per channel (channel 1 first), from the setup request
	setup    codec.Setup
	serial   uint32
}

var _ cash.Acceptor = (*Driver)(nil)

// New makes a driver; nothing is opened until Run.
func New(cfg Config) *Driver {
	if cfg.Line == (serialport.Line{}) {
		cfg.Line = DefaultLine()
	}
	cfg.Protocol = cmp.Or(cfg.Protocol, DefaultProtocol)
	cfg.FixedKey = cmp.Or(cfg.FixedKey, codec.DefaultFixedKey)
	cfg.PollInterval = cmp.Or(cfg.PollInterval, DefaultPollInterval)
	cfg.ResponseTimeout = cmp.Or(cfg.ResponseTimeout, DefaultResponseTimeout)
	cfg.Retries = max(cmp.Or(cfg.Retries, DefaultRetries), 1)
	cfg.OfflineAfter = cmp.Or(cfg.OfflineAfter, DefaultOfflineAfter)
	cfg.HoldEvery = cmp.Or(cfg.HoldEvery, DefaultHoldEvery)
	cfg.ReconnectMin = cmp.Or(cfg.ReconnectMin, DefaultReconnectMin)
	cfg.ReconnectMax = max(cmp.Or(cfg.ReconnectMax, DefaultReconnectMax), cfg.ReconnectMin)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Driver{
		cfg: cfg,
		log: cfg.Logger.With("driver", DriverName, "name", cfg.Name, "path", cfg.Path),
		mon: device.NewMonitor(cfg.Name, DriverName, cfg.Path),
	}
}

// Config returns the effective configuration (defaults filled in). Tests
// use it to check the line settings, which a pty cannot check.
func (d *Driver) Config() Config { return d.cfg }

// Enable implements cash.Acceptor: the listed values (fen) are accepted
// from the next poll on; an empty list disables the validator.
func (d *Driver) Enable(values []int64) {
	d.mu.Lock()
	d.want = slices.Clone(values)
	d.dirty = true
	d.mu.Unlock()
}

// Denominations implements cash.Acceptor: the values (fen) of the
// device's channels, ascending, once the setup request has been read.
func (d *Driver) Denominations() []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var v []int64
	for _, fen := range d.channels {
		if fen > 0 && !slices.Contains(v, fen) {
			v = append(v, fen)
		}
	}
	slices.Sort(v)
	return v
}

// Setup is the device's last setup request reply, if one was read.
func (d *Driver) Setup() (codec.Setup, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.setup
	s.Channels = slices.Clone(s.Channels)
	return s, d.channels != nil
}

// Serial is the device's serial number, once read (0 before).
func (d *Driver) Serial() uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.serial
}

// Health implements cash.Acceptor.
func (d *Driver) Health() device.Health { return d.mon.Health() }

// OnHealth implements cash.Acceptor.
func (d *Driver) OnHealth(f func(device.Health)) { d.mon.OnChange(f) }

// settings returns the channel mask for the wanted values (0: disable)
// and clears the dirty flag.
func (d *Driver) settings() uint16 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dirty = false
	var mask uint16
	for i, fen := range d.channels {
		if i < 16 && fen > 0 && slices.Contains(d.want, fen) {
			mask |= 1 << i
		}
	}
	for _, v := range d.want {
		if d.channels != nil && !slices.Contains(d.channels, v) {
			d.log.Warn("asked to accept a value the validator has no channel for", "fen", v)
		}
	}
	return mask
}

func (d *Driver) takeDirty() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dirty
}

func (d *Driver) markDirty() {
	d.mu.Lock()
	d.dirty = true
	d.mu.Unlock()
}

// valueOf is channel ch's value in fen (1-based; 0 when unknown).
func (d *Driver) valueOf(ch byte) (int64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := int(ch) - 1
	if i < 0 || i >= len(d.channels) || d.channels[i] <= 0 {
		return 0, false
	}
	return d.channels[i], true
}

func (d *Driver) setSetup(s codec.Setup) []int64 {
	v := s
	if v.RealValueMultiplier == 0 {
		// No multiplier given: read the channel values as whole yuan.
		d.log.Warn("setup request has no real value multiplier; assuming 100 (yuan to fen)")
		v.RealValueMultiplier = 100
	}
	ch := make([]int64, len(s.Channels))
	for i := range ch {
		ch[i] = v.MinorValue(i)
	}
	d.mu.Lock()
	d.setup, d.channels = s, ch
	d.mu.Unlock()
	return ch
}

// Run implements cash.Acceptor. It returns nil when ctx ends, and an error
// only for a configuration it can never use or a second concurrent Run.
// A missing or vanished port is reported through Health (NoDevice,
// Offline) and retried with backoff.
func (d *Driver) Run(ctx context.Context, h cash.Handler) error {
	if h == nil {
		return errors.New("ssp: Run needs a handler")
	}
	if _, err := d.cfg.Line.Mode(); err != nil {
		return fmt.Errorf("ssp %s: line settings: %w", d.cfg.Path, err)
	}
	if d.cfg.Addr > codec.MaxAddr {
		return fmt.Errorf("ssp %s: slave id %#02x: %w", d.cfg.Path, d.cfg.Addr, codec.ErrAddr)
	}
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("ssp: Run is already running")
	}
	defer d.running.Store(false)

	r := &runner{d: d, h: h}
	link.Run(ctx, link.Config{Path: d.cfg.Path, Line: d.cfg.Line, MinBackoff: d.cfg.ReconnectMin, MaxBackoff: d.cfg.ReconnectMax,
		Monitor: d.mon, SetState: r.setState, Logger: d.log},
		func(ctx context.Context, port serialport.Port) (bool, error) {
			s := newSession(ctx, r, port)
			err := s.run()
			return s.answered, err
		})
	return nil
}
