// Package sim is the acceptor side of JCM ID003: a bill validator that
// answers a host's frames on an io.ReadWriter (in practice the device end
// of a pseudo terminal, *simport.Endpoint), so the real driver can be run
// against it over the kernel's tty layer.
//
// It follows the brief (protocols.md §3a): it reports power up (40) until
// reset, initialize (1B) until the settings arrive (C3 ends them), then
// idling (11) or disabled (1A). A note goes accepting (12) → escrow (13,
// code) → stack/return by the host → stacking (14) → vend valid (15,
// repeated until ACK) → stacked (16) → idling. Statuses that report a
// finished event (16, 17, 18) are held until a status request has seen
// them, so a host polling at 150 ms never misses one. Frames with a bad
// SYNC, length or CRC get no answer, like the real device.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"time"

	"tongban/drivers/id003/codec"
)

// Fault is an injected device condition.
type Fault int

const (
	FaultNone          Fault = iota // clears any fault
	FaultStackerFull                // 43 until cleared
	FaultStackerOpen                // 44 (cash box removed) until cleared
	FaultJamInAcceptor              // 45 until cleared; clearing removes a note stuck in the head
	FaultJamInStacker               // 46 until cleared; the note then finishes stacking
	// FaultPowerCut is one-shot: the device loses power and its settings.
	// It next reports 41 if a note was in the acceptor (accepting, escrow,
	// returning), 42 if it was in the stacker (stacking, vend valid), else
	// 40. On reset a 41 note is returned, a 42 note is stacked.
	FaultPowerCut
)

func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case FaultStackerFull:
		return "stacker full"
	case FaultStackerOpen:
		return "stacker open"
	case FaultJamInAcceptor:
		return "jam in acceptor"
	case FaultJamInStacker:
		return "jam in stacker"
	case FaultPowerCut:
		return "power cut"
	}
	return fmt.Sprintf("fault %d", int(f))
}

func (f Fault) status() codec.Status {
	switch f {
	case FaultStackerFull:
		return codec.StatusStackerFull
	case FaultStackerOpen:
		return codec.StatusStackerOpen
	case FaultJamInAcceptor:
		return codec.StatusJamInAcceptor
	case FaultJamInStacker:
		return codec.StatusJamInStacker
	}
	return 0
}

// Delays are the mechanical step times. Each is the least time the status
// is shown; the status also waits for the host where the protocol says so.
type Delays struct {
	Accept  time.Duration // 12 accepting, before escrow or reject
	Stack   time.Duration // 14 stacking, before vend valid
	Stacked time.Duration // 16 stacked, before idling
	Reject  time.Duration // 17 rejecting, before idling
	Return  time.Duration // 18 returning, before idling
}

// RealisticDelays are rough figures for a JCM-class validator.
func RealisticDelays() Delays {
	return Delays{Accept: 1200 * time.Millisecond, Stack: 800 * time.Millisecond,
		Stacked: 300 * time.Millisecond, Reject: 1500 * time.Millisecond, Return: 1500 * time.Millisecond}
}

// FastDelays are for tests.
func FastDelays() Delays {
	d := 5 * time.Millisecond
	return Delays{Accept: d, Stack: d, Stacked: d, Reject: d, Return: d}
}

// DefaultVersion is what 88 answers unless Config.Version says otherwise.
const DefaultVersion = "SIM(CHN)100-SS ID003-TB01V100 26NOV26"

// CNYTable is the simulated currency table: codes 61..66 for 1, 5, 10, 20,
// 50 and 100 yuan, JCM country code 2D.
func CNYTable() []codec.CurrencyEntry {
	var t []codec.CurrencyEntry
	for i, yuan := range []int64{1, 5, 10, 20, 50, 100} {
		e, _ := codec.CurrencyEntryFor(byte(codec.FirstDenomCode+i), codec.CountryCNY, yuan)
		t = append(t, e)
	}
	return t
}

// Config sets up a simulator.
type Config struct {
	Table         []codec.CurrencyEntry // served by 8A; nil means CNYTable()
	Version       string                // served by 88; "" means DefaultVersion
	BootVersion   string                // served by 89
	Delays        Delays                // zero means RealisticDelays()
	EscrowTimeout time.Duration         // the device returns an undecided note itself; 0 means 10 s
	CashBox       map[int64]int         // counts to start from (restored by the simulator process)
	// OnStacked is called once per note that ends in the cash box, after
	// the count is updated, so the simulator process can persist counts.
	// It runs on the simulator's goroutine without locks held.
	OnStacked func(value int64)
	Logger    *slog.Logger
}

// ErrNotAccepting is returned by Insert while a fault stops the transport.
var ErrNotAccepting = errors.New("id003 sim: not taking notes")

type phase int

const (
	phPowerUp phase = iota
	phInit
	phIdle
	phAccepting
	phEscrow
	phHolding
	phStacking
	phVendValid
	phStacked
	phRejecting
	phReturning
)

type note struct {
	value  int64
	code   byte // 0 when the value is not in the table
	reason codec.RejectReason
}

// maxQueue bounds Insert's queue (a resident can only hold so many notes).
const maxQueue = 32

// Sim is one simulated acceptor. Its methods are safe for concurrent use.
type Sim struct {
	cfg     Config
	log     *slog.Logger
	table   []byte         // encoded 8A data
	byValue map[int64]byte // fen → escrow code
	byCode  map[byte]int64 // escrow code → fen

	mu          sync.Mutex
	phase       phase
	since       time.Time // when the phase began
	reported    bool      // the current status was sent at least once
	toInit      bool      // after the current note phase, go to initialize (a reset happened)
	powerStatus codec.Status
	fault       Fault
	cur         *note
	queue       []int64
	settings    map[codec.Command][]byte
	cashBox     map[int64]int
	stackedCB   []int64 // OnStacked calls to make once unlocked
}

// New makes a simulator in the power-up state.
func New(cfg Config) *Sim {
	if cfg.Table == nil {
		cfg.Table = CNYTable()
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.BootVersion == "" {
		cfg.BootVersion = "SIM BOOT V1.00"
	}
	if cfg.Delays == (Delays{}) {
		cfg.Delays = RealisticDelays()
	}
	if cfg.EscrowTimeout <= 0 {
		cfg.EscrowTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sim{
		cfg:     cfg,
		log:     cfg.Logger.With("sim", "id003"),
		table:   codec.EncodeCurrencyTable(cfg.Table),
		byValue: map[int64]byte{},
		byCode:  map[byte]int64{},
		cashBox: map[int64]int{},
	}
	for _, e := range cfg.Table {
		if fen, ok := e.Fen(); ok {
			s.byValue[fen] = e.Code
			s.byCode[e.Code] = fen
		}
	}
	maps.Copy(s.cashBox, cfg.CashBox)
	s.powerUpLocked(codec.StatusPowerUp)
	return s
}

// defaultSettings are the power-on settings: all denominations enabled,
// inhibited, polling mode.
func defaultSettings() map[codec.Command][]byte {
	return map[codec.Command][]byte{
		codec.CmdSetDenomination: {0x00, 0x00},
		codec.CmdSetSecurity:     {0x00, 0x00},
		codec.CmdSetCommMode:     {0x00},
		codec.CmdSetInhibit:      {0x01},
		codec.CmdSetDirection:    {0x00},
		codec.CmdSetOptionalFunc: {0x00, 0x00},
		codec.CmdSetBarcodeFunc:  {0x01, 0x12},
		codec.CmdSetBarInhibit:   {0xFC},
	}
}

func (s *Sim) powerUpLocked(st codec.Status) {
	s.settings = defaultSettings()
	s.powerStatus = st
	s.toInit = false
	s.setPhaseLocked(phPowerUp, time.Now())
}

func (s *Sim) setPhaseLocked(p phase, now time.Time) {
	s.phase, s.since, s.reported = p, now, false
}

// Serve answers frames read from rw until rw reports EOF (for a
// simport.Endpoint: until it is closed) or ctx ends and a read returns.
// While a simport endpoint is unplugged its Read waits for the replug, so
// the simulated device keeps its state across unplug/replug like a real one.
func (s *Sim) Serve(ctx context.Context, rw io.ReadWriter) error {
	var dec codec.Decoder
	buf := make([]byte, 256)
	for {
		n, rerr := rw.Read(buf)
		if n > 0 {
			dec.Feed(buf[:n])
			for {
				f, err := dec.Next()
				if errors.Is(err, codec.ErrIncomplete) {
					break
				}
				if err != nil {
					// The real device stays silent on a bad frame.
					s.log.Debug("discarded bytes", "err", err)
					continue
				}
				reply := s.Respond(f)
				if reply == nil {
					continue
				}
				if _, err := rw.Write(reply); err != nil {
					s.log.Debug("reply lost", "err", err) // e.g. unplugged: bytes on a loose cable are lost
				}
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return nil
			}
			return fmt.Errorf("id003 sim: read: %w", rerr)
		}
	}
}

// Respond handles one host frame and returns the wire bytes of the answer,
// or nil when the protocol sends none (ACK from the host). It is what
// Serve uses; tests may call it directly.
func (s *Sim) Respond(f codec.Frame) []byte {
	s.mu.Lock()
	now := time.Now()
	s.advanceLocked(now)
	reply := s.handleLocked(f, now)
	cb := s.takeCallbacksLocked()
	s.mu.Unlock()
	s.runCallbacks(cb)
	if reply == nil {
		return nil
	}
	b, err := codec.Encode(*reply)
	if err != nil {
		s.log.Error("encode reply", "err", err) // only an over-long version string can get here
		return nil
	}
	return b
}

func status(st codec.Status, data ...byte) *codec.Frame {
	return &codec.Frame{Cmd: byte(st), Data: data}
}

func (s *Sim) handleLocked(f codec.Frame, now time.Time) *codec.Frame {
	cmd := codec.Command(f.Cmd)
	invalid := status(codec.StatusInvalidCommand)
	ack := status(codec.StatusACK)
	if len(f.Data) > 0 && !cmd.IsSetting() {
		return invalid // only the setting commands carry data
	}
	switch {
	case cmd == codec.CmdStatusRequest:
		st := s.statusLocked()
		s.reported = true
		return st
	case cmd == codec.CmdACK:
		if s.phase == phVendValid && s.reported && s.fault == FaultNone {
			s.storeLocked(s.cur)
			s.setPhaseLocked(phStacked, now)
		}
		return nil
	case cmd == codec.CmdReset:
		s.resetLocked(now)
		return ack
	case cmd == codec.CmdStack1 || cmd == codec.CmdStack2:
		if s.phase != phEscrow && s.phase != phHolding {
			return invalid
		}
		s.setPhaseLocked(phStacking, now)
		return ack
	case cmd == codec.CmdReturn:
		if s.phase != phEscrow && s.phase != phHolding {
			return invalid
		}
		s.setPhaseLocked(phReturning, now)
		return ack
	case cmd == codec.CmdHold:
		if s.phase != phEscrow && s.phase != phHolding {
			return invalid
		}
		s.setPhaseLocked(phHolding, now) // restarts the escrow timer
		return ack
	case cmd == codec.CmdWait:
		return ack
	case cmd.IsSetting():
		if len(f.Data) != codec.SettingDataLen(cmd) {
			return invalid
		}
		s.settings[cmd] = append([]byte(nil), f.Data...)
		if cmd == codec.CmdSetInhibit && s.phase == phInit {
			s.setPhaseLocked(phIdle, now)
		}
		return &codec.Frame{Cmd: f.Cmd, Data: append([]byte(nil), f.Data...)} // echo
	case cmd >= codec.CmdGetDenomination && cmd <= codec.CmdGetBarInhibit:
		set := cmd + (codec.CmdSetDenomination - codec.CmdGetDenomination)
		return &codec.Frame{Cmd: f.Cmd, Data: append([]byte(nil), s.settings[set]...)}
	case cmd == codec.CmdGetVersion:
		return &codec.Frame{Cmd: f.Cmd, Data: []byte(s.cfg.Version)}
	case cmd == codec.CmdGetBootVersion:
		return &codec.Frame{Cmd: f.Cmd, Data: []byte(s.cfg.BootVersion)}
	case cmd == codec.CmdGetCurrencyTable:
		return &codec.Frame{Cmd: f.Cmd, Data: s.table}
	}
	return invalid
}

func (s *Sim) statusLocked() *codec.Frame {
	if st := s.fault.status(); st != 0 {
		return status(st)
	}
	switch s.phase {
	case phPowerUp:
		return status(s.powerStatus)
	case phInit:
		return status(codec.StatusInitialize)
	case phIdle:
		if s.inhibitedLocked() {
			return status(codec.StatusDisabled)
		}
		return status(codec.StatusIdling)
	case phAccepting:
		return status(codec.StatusAccepting)
	case phEscrow:
		return status(codec.StatusEscrow, s.cur.code)
	case phHolding:
		return status(codec.StatusHolding)
	case phStacking:
		return status(codec.StatusStacking)
	case phVendValid:
		return status(codec.StatusVendValid)
	case phStacked:
		return status(codec.StatusStacked)
	case phRejecting:
		return status(codec.StatusRejecting, byte(s.cur.reason))
	case phReturning:
		return status(codec.StatusReturning)
	}
	return status(codec.StatusFailure, byte(codec.FailROM)) // unreachable
}

func (s *Sim) inhibitedLocked() bool { return s.settings[codec.CmdSetInhibit][0] != 0 }

// advanceLocked makes the time-driven transitions that are due. The device
// only speaks when asked, so evaluating them lazily on each frame (and on
// Insert) is indistinguishable from running timers.
func (s *Sim) advanceLocked(now time.Time) {
	if s.fault != FaultNone {
		return // the transport is stopped
	}
	d := s.cfg.Delays
	for range 8 { // each pass makes at most one transition
		el := now.Sub(s.since)
		switch s.phase {
		case phIdle:
			if len(s.queue) == 0 {
				return
			}
			v := s.queue[0]
			s.queue = s.queue[1:]
			s.cur = &note{value: v, code: s.byValue[v]}
			s.setPhaseLocked(phAccepting, now)
		case phAccepting:
			if el < d.Accept {
				return
			}
			switch {
			case s.cur.code == 0:
				s.cur.reason = codec.RejectDenomination
			case s.inhibitedLocked() || !codec.DenomEnabled(s.settings[codec.CmdSetDenomination], s.cur.code):
				s.cur.reason = codec.RejectInhibit
			}
			if s.cur.reason != 0 {
				s.setPhaseLocked(phRejecting, now)
			} else {
				s.setPhaseLocked(phEscrow, now)
			}
		case phEscrow, phHolding:
			if el < s.cfg.EscrowTimeout {
				return
			}
			s.log.Info("escrow timeout, returning the note", "value", s.cur.value)
			s.setPhaseLocked(phReturning, now)
		case phStacking:
			if el < d.Stack {
				return
			}
			s.setPhaseLocked(phVendValid, now)
		case phStacked, phRejecting, phReturning:
			hold := d.Stacked
			if s.phase == phRejecting {
				hold = d.Reject
			} else if s.phase == phReturning {
				hold = d.Return
			}
			if el < hold || !s.reported {
				return
			}
			s.cur = nil
			if s.toInit {
				s.toInit = false
				s.setPhaseLocked(phInit, now)
			} else {
				s.setPhaseLocked(phIdle, now)
			}
		default: // power up, initialize, vend valid: wait for the host
			return
		}
	}
}

// resetLocked handles command 40. A note in the head is handed back, a
// note past the stacker lever is stored, then the device initialises.
func (s *Sim) resetLocked(now time.Time) {
	inAcceptor := s.phase == phAccepting || s.phase == phEscrow || s.phase == phHolding ||
		s.phase == phRejecting || s.phase == phReturning ||
		(s.phase == phPowerUp && s.powerStatus == codec.StatusPowerUpBillAcceptor)
	inStacker := s.phase == phStacking || s.phase == phVendValid ||
		(s.phase == phPowerUp && s.powerStatus == codec.StatusPowerUpBillStacker)
	switch {
	case inAcceptor && s.cur != nil:
		s.toInit = true
		s.setPhaseLocked(phReturning, now)
	case inStacker && s.cur != nil:
		s.storeLocked(s.cur)
		s.cur = nil
		s.setPhaseLocked(phInit, now)
	default:
		s.cur = nil
		s.setPhaseLocked(phInit, now)
	}
	s.powerStatus = codec.StatusPowerUp
}

func (s *Sim) storeLocked(n *note) {
	if n == nil {
		return
	}
	s.cashBox[n.value]++
	s.stackedCB = append(s.stackedCB, n.value)
	s.log.Info("note stacked", "value", n.value, "count", s.cashBox[n.value])
}

func (s *Sim) takeCallbacksLocked() []int64 {
	cb := s.stackedCB
	s.stackedCB = nil
	return cb
}

func (s *Sim) runCallbacks(values []int64) {
	if s.cfg.OnStacked == nil {
		return
	}
	for _, v := range values {
		s.cfg.OnStacked(v)
	}
}

// Insert puts a note of valueFen into the slot. Notes queue up and are
// taken one at a time while the device idles. A value not in the table is
// taken and rejected (76); a disabled denomination or an inhibited
// acceptor rejects it with 79.
func (s *Sim) Insert(valueFen int64) error {
	if valueFen <= 0 {
		return fmt.Errorf("id003 sim: insert %d fen: value must be positive", valueFen)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fault != FaultNone {
		return fmt.Errorf("insert %d fen: %w (%v)", valueFen, ErrNotAccepting, s.fault)
	}
	if len(s.queue) >= maxQueue {
		return fmt.Errorf("insert %d fen: %w (slot full)", valueFen, ErrNotAccepting)
	}
	s.queue = append(s.queue, valueFen)
	s.advanceLocked(time.Now())
	return nil
}

// SetFault injects (or with FaultNone clears) a fault.
func (s *Sim) SetFault(f Fault) {
	s.mu.Lock()
	now := time.Now()
	if f == FaultPowerCut {
		st := codec.StatusPowerUp
		switch s.phase {
		case phAccepting, phEscrow, phHolding, phRejecting, phReturning:
			st = codec.StatusPowerUpBillAcceptor
		case phStacking, phVendValid:
			st = codec.StatusPowerUpBillStacker
		case phPowerUp:
			st = s.powerStatus // still holding the note from the last cut
		default:
			s.cur = nil
		}
		s.log.Info("power cut", "next", st)
		s.powerUpLocked(st)
		s.mu.Unlock()
		return
	}
	if f == FaultNone && s.fault == FaultJamInAcceptor {
		// The technician pulled the stuck note out of the head.
		switch s.phase {
		case phAccepting, phEscrow, phHolding, phRejecting, phReturning:
			s.cur = nil
			s.setPhaseLocked(phIdle, now)
		}
	}
	if f == FaultNone && s.fault != FaultNone {
		s.since = now // restart the interrupted step
	}
	s.log.Info("fault", "fault", f)
	s.fault = f
	s.mu.Unlock()
}

// Status is the status a status request would get now.
func (s *Sim) Status() codec.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked(time.Now())
	return codec.Status(s.statusLocked().Cmd)
}

// CashBox returns the count of notes per value (fen) in the cash box.
func (s *Sim) CashBox() map[int64]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.cashBox)
}

// EmptyCashBox returns the counts and starts again from zero, as when
// staff remove the box.
func (s *Sim) EmptyCashBox() map[int64]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cashBox
	s.cashBox = map[int64]int{}
	return c
}
