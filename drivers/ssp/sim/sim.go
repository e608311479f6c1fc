// Package sim is the slave side of ITL SSP / eSSP: an NV200-class bill
// validator that answers a host's frames on an io.ReadWriter (in practice
// the device end of a pseudo terminal, *simport.Endpoint), so the real
// driver can be run against it over the kernel's tty layer.
//
// It follows the brief (protocols.md §3b): every reply carries the
// request's sequence flag; a request with the same flag as the previous
// one is a retransmission and gets the previous reply again, byte for
// byte, without being processed twice; SYNC resets that memory. It does
// the eSSP key exchange and answers an encrypted request encrypted, with
// the host's count + 1. Frames with bad framing or CRC, and encrypted
// packets with a bad eCRC or counter, get no answer.
//
// A note goes: read note 0 (reading) → read note ch (escrow, reported
// once) → the next POLL accepts it (stacking CC) → credit ch → stacked; or
// REJECT / the escrow time-out / an inhibited channel → rejecting →
// rejected. HOLD restarts the escrow time-out. Condition events (jams,
// stacker full, cashbox removed, fraud, disabled, all channels inhibited)
// are repeated in every poll while they last. After a power cut or reset
// the next poll reports slave reset, plus note cleared from front (a note
// was in the head) or into cashbox (it was being stacked) with its channel.
package sim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"tongban/drivers/ssp/codec"
)

// Fault is an injected device condition. It lasts until SetFault(FaultNone).
type Fault int

const (
	FaultNone           Fault = iota // clears any fault
	FaultSafeJam                     // EA; clearing it removes a note stuck in the head
	FaultUnsafeJam                   // E9; likewise
	FaultStackerFull                 // E7
	FaultCashboxRemoved              // E3; clearing it reports E4 (replaced) once
	FaultFraud                       // E6 with the channel of the note in the head (0 if none)
)

func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case FaultSafeJam:
		return "safe jam"
	case FaultUnsafeJam:
		return "unsafe jam"
	case FaultStackerFull:
		return "stacker full"
	case FaultCashboxRemoved:
		return "cashbox removed"
	case FaultFraud:
		return "fraud"
	}
	return fmt.Sprintf("fault %d", int(f))
}

// Reject codes the simulator reports for LAST_REJECT_CODE (17). The brief
// lists codes 01-1A without names; these values are the simulator's own.
const (
	RejectUnknownNote   byte = 0x02 // value not in the channel table
	RejectInhibited     byte = 0x06 // channel inhibited
	RejectByHost        byte = 0x08 // REJECT command
	RejectEscrowTimeout byte = 0x13 // nobody decided in time
)

// Delays are the mechanical step times.
type Delays struct {
	Read    time.Duration // read note 0, before escrow or reject
	Stack   time.Duration // stacking, before credit
	Stacked time.Duration // credit, before stacked
	Reject  time.Duration // rejecting, before rejected
}

// RealisticDelays are rough figures for an NV200.
func RealisticDelays() Delays {
	return Delays{Read: 1500 * time.Millisecond, Stack: 800 * time.Millisecond, Stacked: 400 * time.Millisecond, Reject: 1500 * time.Millisecond}
}

// FastDelays are for tests.
func FastDelays() Delays {
	d := 5 * time.Millisecond
	return Delays{Read: d, Stack: d, Stacked: d, Reject: d}
}

// CNYChannels is the simulated channel table in fen: channels 1-6 are 1,
// 5, 10, 20, 50 and 100 yuan.
func CNYChannels() []int64 { return []int64{100, 500, 1000, 2000, 5000, 10000} }

// Defaults.
const (
	DefaultProtocol = 7 // highest host protocol version accepted
	DefaultFirmware = "0420"
	DefaultSerial   = 20261126
	// FirmwareVersion and DatasetVersion answer 20 and 21.
	FirmwareVersion = "NV02004200CNY-TBSIM"
	DatasetVersion  = "CNY01001"
)

// Config sets up a simulator.
type Config struct {
	Addr          byte    // slave id; 0 (a validator) by default
	Channels      []int64 // fen per channel, channel 1 first; nil means CNYChannels()
	Protocol      byte    // highest protocol version; 0 means DefaultProtocol
	Serial        uint32  // 0 means DefaultSerial
	Delays        Delays  // zero means RealisticDelays()
	EscrowTimeout time.Duration
	// RequireEncryption answers FA (key not set) to plain commands other
	// than SYNC, host protocol version and the key exchange.
	RequireEncryption bool
	// GeneratorAboveModulus refuses the key exchange (F4) unless the
	// generator is larger than the modulus; by default it must be smaller,
	// as in textbook Diffie-Hellman. The brief states neither.
	GeneratorAboveModulus bool
	FixedKey              uint64        // 0 means codec.DefaultFixedKey
	CashBox               map[int64]int // counts to start from (restored by the simulator process)
	// OnStacked is called once per note that ends in the cash box, after
	// the count is updated, so the simulator process can persist counts.
	// It runs on the simulator's goroutine without locks held.
	OnStacked func(value int64)
	Logger    *slog.Logger
}

// ErrNotAccepting is returned by Insert while the validator cannot take a
// note: disabled by the host, or stopped by a fault.
var ErrNotAccepting = errors.New("ssp sim: not taking notes")

type phase int

const (
	phIdle phase = iota
	phReading
	phEscrow
	phStacking
	phCredited
	phRejecting
)

func (p phase) String() string {
	return [...]string{"idle", "reading", "escrow", "stacking", "credited", "rejecting"}[p]
}

type note struct {
	value   int64
	channel byte // 0 until read, or when the value is not in the table
}

const (
	maxQueue    = 32  // notes waiting in the resident's hand
	maxPollData = 100 // event bytes per poll reply; the rest wait
)

// Sim is one simulated validator. Its methods are safe for concurrent use.
type Sim struct {
	cfg   Config
	log   *slog.Logger
	setup codec.Setup

	mu sync.Mutex
	// link layer
	haveLast  bool
	lastSeq   bool
	lastReply []byte
	// eSSP
	fixed    uint64
	gen, mod uint64
	key      *codec.Key
	count    uint32 // the count the next encrypted request must carry
	// device
	protocol   byte
	enabled    bool
	inhibits   uint16
	display    bool
	phase      phase
	since      time.Time
	cur        *note
	reported   bool // the escrow event went out in a poll reply
	queue      []int64
	events     []codec.Event // one-shot events not yet polled
	unacked    []codec.Event // sent by poll-with-ACK, not yet acknowledged
	lastReject byte
	fault      Fault
	cashBox    map[int64]int
	stackedCB  []int64
	// line faults
	garbage, dropReplies, dropBytes int
	delay                           time.Duration
	dropEvent                       codec.EventCode
	dropArmed, dropNow              bool
	stats                           Stats
}

// Stats counts what the simulator saw, for tests and the control API.
type Stats struct {
	Requests    int // frames addressed to this slave
	Repeats     int // retransmissions answered with the previous reply
	Encrypted   int // encrypted requests processed
	BadPackets  int // encrypted packets ignored (eCRC, counter, no key)
	Dropped     int // replies not sent (DropReplies, DropReplyWithEvent)
	KeyExchange int // completed key exchanges
}

// New makes a simulator as after power-up: disabled, all channels
// inhibited, no key.
func New(cfg Config) *Sim {
	if cfg.Channels == nil {
		cfg.Channels = CNYChannels()
	}
	if cfg.Protocol == 0 {
		cfg.Protocol = DefaultProtocol
	}
	if cfg.Serial == 0 {
		cfg.Serial = DefaultSerial
	}
	if cfg.Delays == (Delays{}) {
		cfg.Delays = RealisticDelays()
	}
	if cfg.EscrowTimeout <= 0 {
		cfg.EscrowTimeout = 10 * time.Second // brief: HOLD resets the 10-second escrow time-out
	}
	if cfg.FixedKey == 0 {
		cfg.FixedKey = codec.DefaultFixedKey
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Channels = slices.Clone(cfg.Channels)
	s := &Sim{cfg: cfg, log: cfg.Logger.With("sim", "ssp"), fixed: cfg.FixedKey, cashBox: map[int64]int{}}
	s.setup = codec.Setup{UnitType: 0x00, Firmware: DefaultFirmware, Country: "CNY", ValueMultiplier: 1, RealValueMultiplier: 100}
	for _, fen := range cfg.Channels {
		// Whole yuan per channel; × real value multiplier 100 = fen.
		s.setup.Channels = append(s.setup.Channels, codec.Channel{Value: byte(fen / 100), Security: 2, Country: "CNY", Full: uint32(fen / 100)})
	}
	maps.Copy(s.cashBox, cfg.CashBox)
	s.rebootLocked(false)
	return s
}

// rebootLocked is a power-up: the key, the settings and the link memory
// are lost. A note that was in the head is pushed out of the front; one
// that was being stacked goes into the cashbox. Both are reported.
func (s *Sim) rebootLocked(withNote bool) {
	now := time.Now()
	s.events = s.events[:0]
	s.events = append(s.events, codec.Event{Code: codec.EvSlaveReset})
	if withNote && s.cur != nil {
		switch s.phase {
		case phReading, phEscrow, phRejecting:
			s.events = append(s.events, codec.Event{Code: codec.EvClearedFront, Channel: s.cur.channel})
			s.log.Info("power up: note cleared from the front", "value", s.cur.value)
		case phStacking, phCredited:
			s.storeLocked(s.cur)
			s.events = append(s.events, codec.Event{Code: codec.EvClearedCashbox, Channel: s.cur.channel})
			s.log.Info("power up: note cleared into the cashbox", "value", s.cur.value)
		}
	}
	s.cur = nil
	s.haveLast, s.lastReply = false, nil
	s.gen, s.mod, s.key, s.count = 0, 0, nil, 0
	s.protocol = min(codec.ExpandedProtocol, s.cfg.Protocol)
	s.enabled, s.inhibits, s.display = false, 0, true
	s.unacked = nil
	s.reported = false
	s.phase, s.since = phIdle, now
}

// Serve answers frames read from rw until rw reports EOF (for a
// simport.Endpoint: until it is closed) or ctx ends and a read returns.
// While a simport endpoint is unplugged its Read waits for the replug, so
// the device keeps its state (and its key) across unplug and replug.
func (s *Sim) Serve(ctx context.Context, rw io.ReadWriter) error {
	var dec codec.Decoder
	buf := make([]byte, 512)
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
					s.log.Debug("discarded bytes", "err", err)
					continue
				}
				out := s.Respond(f)
				if out == nil {
					continue
				}
				out, delay := s.lineFaults(out)
				if delay > 0 {
					time.Sleep(delay)
				}
				if out == nil {
					continue
				}
				if _, err := rw.Write(out); err != nil {
					s.log.Debug("reply lost", "err", err) // e.g. unplugged
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
			return fmt.Errorf("ssp sim: read: %w", rerr)
		}
	}
}

// garbageBytes precede a reply under Garbage: noise, and a stray STX that
// starts a bogus frame the host must skip.
var garbageBytes = []byte{0x00, 0xFF, 0x7F, 0x13, 0x99}

func (s *Sim) lineFaults(out []byte) ([]byte, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropNow {
		s.dropNow = false
		s.stats.Dropped++
		return nil, s.delay
	}
	if s.dropReplies > 0 {
		s.dropReplies--
		s.stats.Dropped++
		return nil, s.delay
	}
	if s.dropBytes > 0 && len(out) > 2 {
		s.dropBytes--
		i := len(out) / 2
		out = append(out[:i:i], out[i+1:]...)
	}
	if s.garbage > 0 {
		s.garbage--
		out = append(slices.Clone(garbageBytes), out...)
	}
	return out, s.delay
}

// Respond handles one host frame and returns the wire bytes of the reply,
// or nil when the device stays silent. Serve uses it; tests may call it
// directly. Line faults are applied by Serve, not here.
func (s *Sim) Respond(f codec.Frame) []byte {
	s.mu.Lock()
	out := s.respondLocked(f)
	cb := s.stackedCB
	s.stackedCB = nil
	s.mu.Unlock()
	if s.cfg.OnStacked != nil {
		for _, v := range cb {
			s.cfg.OnStacked(v)
		}
	}
	return out
}

func (s *Sim) respondLocked(f codec.Frame) []byte {
	if f.Addr != s.cfg.Addr || len(f.Data) == 0 {
		return nil
	}
	s.stats.Requests++
	now := time.Now()
	s.advanceLocked(now)
	if len(f.Data) == 1 && codec.Command(f.Data[0]) == codec.CmdSync {
		// SYNC is always processed: it sets the expected sequence flag.
		return s.replyLocked(f.Seq, []byte{byte(codec.OK)}, nil, 0)
	}
	if s.haveLast && f.Seq == s.lastSeq {
		s.stats.Repeats++
		s.log.Debug("repeated request: previous reply again")
		return s.lastReply
	}
	data := f.Data
	var key *codec.Key
	if data[0] == codec.STEX {
		if s.key == nil {
			s.stats.BadPackets++
			return s.replyLocked(f.Seq, []byte{byte(codec.KeyNotSet)}, nil, 0)
		}
		count, inner, err := s.key.Open(data)
		if err == nil {
			err = codec.CheckCount(count, s.count)
		}
		if err != nil || len(inner) == 0 {
			s.stats.BadPackets++
			s.log.Debug("encrypted packet ignored", "err", err)
			return nil
		}
		s.stats.Encrypted++
		s.count++
		key, data = s.key, inner
	} else if s.cfg.RequireEncryption {
		c := codec.Command(data[0])
		if !c.PlainOnly() && c != codec.CmdHostProtocolVersion {
			return s.replyLocked(f.Seq, []byte{byte(codec.KeyNotSet)}, nil, 0)
		}
	}
	count := s.count
	reply, after := s.commandLocked(data, key != nil, now)
	out := s.replyLocked(f.Seq, reply, key, count)
	if after != nil {
		after()
	}
	return out
}

// replyLocked frames a reply (encrypted with key when it is not nil) and
// remembers it for a retransmission.
func (s *Sim) replyLocked(seq bool, data []byte, key *codec.Key, count uint32) []byte {
	if key != nil {
		sealed, err := key.Seal(count, data, func(p []byte) {
			for i := range p {
				p[i] = byte(rand.Uint32())
			}
		})
		if err != nil {
			s.log.Error("seal reply", "err", err) // unreachable: replies are kept short
			return nil
		}
		data = sealed
	}
	out, err := codec.Encode(codec.Frame{Seq: seq, Addr: s.cfg.Addr, Data: data})
	if err != nil {
		s.log.Error("encode reply", "err", err)
		return nil
	}
	s.haveLast, s.lastSeq, s.lastReply = true, seq, out
	return out
}

func ok(data ...byte) []byte { return append([]byte{byte(codec.OK)}, data...) }

func refuse(r codec.Response) []byte { return []byte{byte(r)} }

// commandLocked runs one decrypted command. after, if set, runs once the
// reply has been built (a reset must answer before it reboots).
func (s *Sim) commandLocked(data []byte, encrypted bool, now time.Time) (reply []byte, after func()) {
	c := codec.Command(data[0])
	args := data[1:]
	if !c.Known() {
		return refuse(codec.UnknownCommand), nil
	}
	if !c.ValidArgs(len(args)) {
		return refuse(codec.WrongParams), nil
	}
	switch c {
	case codec.CmdSync:
		return ok(), nil
	case codec.CmdReset:
		return ok(), func() { s.log.Info("reset by host"); s.rebootLocked(true) }
	case codec.CmdSetInhibits:
		s.inhibits = binary.LittleEndian.Uint16(args)
		return ok(), nil
	case codec.CmdDisplayOn, codec.CmdDisplayOff:
		s.display = c == codec.CmdDisplayOn
		return ok(), nil
	case codec.CmdSetupRequest:
		st := s.setup
		st.Protocol = s.protocol
		return ok(st.Append(nil)...), nil
	case codec.CmdHostProtocolVersion:
		if args[0] == 0 || args[0] > s.cfg.Protocol {
			return refuse(codec.Fail), nil
		}
		s.protocol = args[0]
		return ok(), nil
	case codec.CmdPoll:
		return ok(s.pollLocked(now, false)...), nil
	case codec.CmdPollWithAck:
		return ok(s.pollLocked(now, true)...), nil
	case codec.CmdEventAck:
		s.unacked = nil
		return ok(), nil
	case codec.CmdReject:
		if s.phase != phEscrow {
			return refuse(codec.CannotProcess), nil
		}
		s.rejectLocked(RejectByHost, now)
		return ok(), nil
	case codec.CmdHold:
		if s.phase != phEscrow {
			return refuse(codec.CannotProcess), nil
		}
		s.since = now // restarts the escrow time-out
		return ok(), nil
	case codec.CmdDisable, codec.CmdEnable:
		s.enabled = c == codec.CmdEnable
		s.advanceLocked(now)
		return ok(), nil
	case codec.CmdSerialNumber:
		return ok(binary.BigEndian.AppendUint32(nil, s.cfg.Serial)...), nil
	case codec.CmdUnitData:
		// The brief gives no layout for 0D; this is unit type, firmware,
		// country, value multiplier and protocol version, as in setup.
		st := s.setup
		b := ok(st.UnitType)
		b = append(b, st.Firmware...)
		b = append(b, st.Country...)
		b = append(b, byte(st.ValueMultiplier>>16), byte(st.ValueMultiplier>>8), byte(st.ValueMultiplier), s.protocol)
		return b, nil
	case codec.CmdChannelValues:
		var cv codec.ChannelValues
		for _, ch := range s.setup.Channels {
			cv.Values = append(cv.Values, ch.Value)
			cv.Countries = append(cv.Countries, ch.Country)
			cv.Full = append(cv.Full, ch.Full)
		}
		return ok(cv.Append(nil, s.protocol)...), nil
	case codec.CmdChannelSecurity:
		b := ok(byte(len(s.setup.Channels)))
		for _, ch := range s.setup.Channels {
			b = append(b, ch.Security)
		}
		return b, nil
	case codec.CmdLastRejectCode:
		return ok(s.lastReject), nil
	case codec.CmdFirmwareVersion:
		return ok([]byte(FirmwareVersion)...), nil
	case codec.CmdDatasetVersion:
		return ok([]byte(DatasetVersion)...), nil
	case codec.CmdSetGenerator, codec.CmdSetModulus:
		v := binary.LittleEndian.Uint64(args)
		if !codec.IsPrime(v) {
			return refuse(codec.OutOfRange), nil
		}
		if c == codec.CmdSetGenerator {
			s.gen = v
		} else {
			s.mod = v
		}
		return ok(), nil
	case codec.CmdRequestKeyExchange:
		if s.gen == 0 || s.mod == 0 {
			return refuse(codec.CannotProcess), nil
		}
		if (s.gen > s.mod) != s.cfg.GeneratorAboveModulus {
			return refuse(codec.OutOfRange), nil
		}
		hostInter := binary.LittleEndian.Uint64(args)
		r := rand.Uint64() | 1
		slaveInter := codec.ModPow(s.gen, r, s.mod)
		s.key = codec.NewKey(s.fixed, codec.ModPow(hostInter, r, s.mod))
		s.count = 0
		s.stats.KeyExchange++
		return ok(binary.LittleEndian.AppendUint64(nil, slaveInter)...), nil
	case codec.CmdSetFixedKey:
		if !encrypted {
			return refuse(codec.CannotProcess), nil
		}
		s.fixed = binary.LittleEndian.Uint64(args) // used from the next key exchange
		return ok(), nil
	}
	// Known but not offered by this device (set baud rate: a pty has none).
	return refuse(codec.UnknownCommand), nil
}

// pollLocked builds a poll reply's events. The poll after an escrow report
// accepts the note.
func (s *Sim) pollLocked(now time.Time, withAck bool) []byte {
	if s.phase == phEscrow && s.reported {
		s.log.Debug("poll accepts the note in escrow", "value", s.cur.value)
		s.phase, s.since = phStacking, now
	}
	var evs []codec.Event
	if withAck && len(s.unacked) > 0 {
		evs = slices.Clone(s.unacked)
	} else {
		n := 0
		size := 0
		for _, e := range s.events {
			l, _ := e.Code.DataLen()
			if size+1+l > maxPollData {
				break
			}
			size += 1 + l
			n++
		}
		evs = slices.Clone(s.events[:n])
		s.events = slices.Delete(s.events, 0, n)
		if withAck {
			s.unacked = slices.Clone(evs)
		}
	}
	for _, e := range evs {
		if e.Code == codec.EvRead && e.Channel > 0 && s.phase == phEscrow {
			s.reported = true
		}
	}
	evs = append(evs, s.conditionsLocked()...)
	if s.dropArmed && slices.ContainsFunc(evs, func(e codec.Event) bool { return e.Code == s.dropEvent }) {
		s.dropArmed, s.dropNow = false, true
	}
	return codec.AppendEvents(nil, evs...)
}

func (s *Sim) conditionsLocked() []codec.Event {
	var evs []codec.Event
	add := func(c codec.EventCode, ch byte) { evs = append(evs, codec.Event{Code: c, Channel: ch}) }
	switch s.phase {
	case phReading:
		add(codec.EvRead, 0)
	case phStacking:
		add(codec.EvStacking, 0)
	case phRejecting:
		add(codec.EvRejecting, 0)
	}
	switch s.fault {
	case FaultSafeJam:
		add(codec.EvSafeJam, 0)
	case FaultUnsafeJam:
		add(codec.EvUnsafeJam, 0)
	case FaultStackerFull:
		add(codec.EvStackerFull, 0)
	case FaultCashboxRemoved:
		add(codec.EvCashboxRemoved, 0)
	case FaultFraud:
		var ch byte
		if s.cur != nil {
			ch = s.cur.channel
		}
		add(codec.EvFraud, ch)
	}
	switch {
	case !s.enabled:
		add(codec.EvDisabled, 0)
	case s.inhibits&s.channelMask() == 0:
		add(codec.EvChannelDisable, 0)
	}
	return evs
}

func (s *Sim) channelMask() uint16 { return uint16(1)<<min(len(s.cfg.Channels), 16) - 1 }

func (s *Sim) channelOf(value int64) byte {
	if i := slices.Index(s.cfg.Channels, value); i >= 0 && i < 16 {
		return byte(i + 1)
	}
	return 0
}

func (s *Sim) rejectLocked(code byte, now time.Time) {
	s.lastReject = code
	s.phase, s.since = phRejecting, now
}

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
			if len(s.queue) == 0 || !s.enabled {
				return
			}
			v := s.queue[0]
			s.queue = s.queue[1:]
			s.cur = &note{value: v}
			s.phase, s.since = phReading, now
		case phReading:
			if el < d.Read {
				return
			}
			ch := s.channelOf(s.cur.value)
			s.cur.channel = ch
			switch {
			case ch == 0:
				s.rejectLocked(RejectUnknownNote, now)
			case s.inhibits&(1<<(ch-1)) == 0:
				s.rejectLocked(RejectInhibited, now)
			default:
				s.events = append(s.events, codec.Event{Code: codec.EvRead, Channel: ch})
				s.phase, s.since, s.reported = phEscrow, now, false
			}
		case phEscrow:
			if el < s.cfg.EscrowTimeout {
				return
			}
			s.log.Info("escrow time-out, rejecting the note", "value", s.cur.value)
			s.rejectLocked(RejectEscrowTimeout, now)
		case phStacking:
			if el < d.Stack {
				return
			}
			s.events = append(s.events, codec.Event{Code: codec.EvCredit, Channel: s.cur.channel})
			s.phase, s.since = phCredited, now
		case phCredited:
			if el < d.Stacked {
				return
			}
			s.storeLocked(s.cur)
			s.events = append(s.events, codec.Event{Code: codec.EvStacked})
			s.cur = nil
			s.phase, s.since = phIdle, now
		case phRejecting:
			if el < d.Reject {
				return
			}
			s.events = append(s.events, codec.Event{Code: codec.EvRejected})
			s.cur = nil
			s.phase, s.since = phIdle, now
		}
	}
}

func (s *Sim) storeLocked(n *note) {
	s.cashBox[n.value]++
	s.stackedCB = append(s.stackedCB, n.value)
	s.log.Info("note stacked", "value", n.value, "count", s.cashBox[n.value])
}

// Insert puts a note of valueFen into the slot. Notes queue up and are
// drawn in one at a time while the validator is enabled. A value not in
// the channel table, or on an inhibited channel, is read and rejected.
func (s *Sim) Insert(valueFen int64) error {
	if valueFen <= 0 {
		return fmt.Errorf("ssp sim: insert %d fen: value must be positive", valueFen)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.fault != FaultNone:
		return fmt.Errorf("insert %d fen: %w (%v)", valueFen, ErrNotAccepting, s.fault)
	case !s.enabled:
		return fmt.Errorf("insert %d fen: %w (disabled by the host)", valueFen, ErrNotAccepting)
	case len(s.queue) >= maxQueue:
		return fmt.Errorf("insert %d fen: %w (slot full)", valueFen, ErrNotAccepting)
	}
	s.queue = append(s.queue, valueFen)
	s.advanceLocked(time.Now())
	return nil
}

// SetFault injects (or with FaultNone clears) a device fault.
func (s *Sim) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if f == FaultNone && s.fault != FaultNone {
		switch s.fault {
		case FaultCashboxRemoved:
			s.events = append(s.events, codec.Event{Code: codec.EvCashboxReplaced})
		case FaultSafeJam, FaultUnsafeJam:
			if s.phase == phReading || s.phase == phEscrow || s.phase == phRejecting {
				// The technician pulled the stuck note out of the head.
				s.cur = nil
				s.phase = phIdle
			}
		}
		s.since = now // restart the interrupted step
	}
	s.log.Info("fault", "fault", f)
	s.fault = f
}

// PowerCut switches the validator off and on: key, settings and link
// memory are lost; the next poll reports slave reset and, if a note was
// inside, note cleared from front (it was in the head: handed back) or
// into cashbox (it was being stacked: stored).
func (s *Sim) PowerCut() {
	s.mu.Lock()
	s.advanceLocked(time.Now())
	s.log.Info("power cut", "phase", s.phase)
	s.rebootLocked(true)
	cb := s.stackedCB
	s.stackedCB = nil
	s.mu.Unlock()
	if s.cfg.OnStacked != nil {
		for _, v := range cb {
			s.cfg.OnStacked(v)
		}
	}
}

// Garbage makes the next n replies start with noise bytes (including a
// stray STX).
func (s *Sim) Garbage(n int) { s.mu.Lock(); s.garbage = n; s.mu.Unlock() }

// DropReplies loses the next n replies on the line (the device thinks it
// answered; a retransmission gets the same reply).
func (s *Sim) DropReplies(n int) { s.mu.Lock(); s.dropReplies = n; s.mu.Unlock() }

// DropBytes makes each of the next n replies lose one byte in the middle.
func (s *Sim) DropBytes(n int) { s.mu.Lock(); s.dropBytes = n; s.mu.Unlock() }

// DropReplyWithEvent loses the next poll reply that carries event code c
// (e.g. the credit), once.
func (s *Sim) DropReplyWithEvent(c codec.EventCode) {
	s.mu.Lock()
	s.dropEvent, s.dropArmed = c, true
	s.mu.Unlock()
}

// SetReplyDelay makes every reply wait d (a slow device); 0 restores.
func (s *Sim) SetReplyDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// State is what the simulator shows of itself.
type State struct {
	Phase     string
	Enabled   bool
	Inhibits  uint16
	Display   bool
	Protocol  byte
	Encrypted bool // a key has been negotiated
	Fault     Fault
	Queued    int
}

// State returns the current state (after due transitions).
func (s *Sim) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked(time.Now())
	return State{Phase: s.phase.String(), Enabled: s.enabled, Inhibits: s.inhibits, Display: s.display,
		Protocol: s.protocol, Encrypted: s.key != nil, Fault: s.fault, Queued: len(s.queue)}
}

// Stats returns the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Key is the negotiated AES key, or nil (for tests that decode traffic).
func (s *Sim) Key() *codec.Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key
}

// CashBox returns the count of notes per value (fen) in the cash box.
func (s *Sim) CashBox() map[int64]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.cashBox)
}

// EmptyCashBox returns the counts and starts again from zero, as when
// staff empty the box.
func (s *Sim) EmptyCashBox() map[int64]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cashBox
	s.cashBox = map[int64]int{}
	return c
}

// Channels is the channel table in fen, channel 1 first.
func (s *Sim) Channels() []int64 { return slices.Clone(s.cfg.Channels) }
