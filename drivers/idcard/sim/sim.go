// Package sim is the SAM side of the resident ID card reader protocol: a
// simulated reader that answers a host's frames on an io.ReadWriter (in
// practice the device end of a pseudo terminal, *simport.Endpoint), so the
// real driver runs against it over the kernel's tty layer.
//
// It follows the brief (protocols.md §1): find card answers 9F or 80,
// select 90 or 81 (only after a successful find), the reads 90 with the
// §1.6 layouts (41 when no card is selected), 30 03 90 or 91, 11 FF 90,
// 12 FF the SAM id, 10 FF 90 (and forgets the selection), 61 FF nn 90. A
// host frame with a bad checksum gets 10, a wrong data length 11, an
// unknown command 21; frames with a bad preamble or LEN get nothing.
//
// Replies leave at the line's byte rate (serialport.Line.WireTime), after
// the request's own wire time, as on a UART, unless Config.Fast is set.
// Faults are injected with Inject and the helpers next to it; unplugging
// is done on the endpoint (simport.Endpoint.Unplug/Replug), and the card
// and faults survive it as they would on a real reader.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"tongban/drivers/idcard/codec"
	"tongban/drivers/serialport"
)

// DefaultLine is the reader's default line, 115200 8N1 (§1.1).
func DefaultLine() serialport.Line {
	return serialport.Line{Baud: 115200, DataBits: 8, Parity: "none", StopBits: 1}
}

// DefaultSAMID is what 12 FF answers unless Config.SAMID says otherwise.
func DefaultSAMID() codec.SAMID { return codec.NewSAMID(5, 1, 20261126, 1, 42) }

// Config sets up a simulated reader.
type Config struct {
	Line serialport.Line // pacing of replies; zero value: DefaultLine()
	// Fast writes each reply at once instead of at the line's byte rate
	// (tests that are not about timing).
	Fast   bool
	SAMID  codec.SAMID // zero value: DefaultSAMID()
	Logger *slog.Logger
}

// Fault is a one-shot fault for the reply to one command. Zero fields do
// nothing; several may be combined.
type Fault struct {
	// Op is the command whose reply is affected; 0 means the next reply,
	// whatever it answers; AnyRead the next 30 01 or 30 10.
	Op codec.Op
	// Status answers with this SW3 (and no data) instead of the real
	// answer: 31/32/33 authentication, 41 read failed, 60 self-test...
	Status codec.Status
	// Garbage is a number of random bytes sent before the reply.
	Garbage int
	// Truncate cuts this many bytes off the end of the reply (bytes lost
	// on the line): the host gets a frame shorter than its LEN says.
	Truncate int
	// Corrupt flips one byte inside the reply, so its checksum fails.
	Corrupt bool
	// RemoveCard takes the card away as the command runs: a read answers
	// 41 (read failed), as when a resident lifts the card mid-read.
	RemoveCard bool
}

// AnyRead as Fault.Op matches either read command (30 01, 30 10).
const AnyRead codec.Op = 0x30FF

func (f Fault) String() string {
	s := "any command"
	switch f.Op {
	case 0:
	case AnyRead:
		s = "any read"
	default:
		s = f.Op.String()
	}
	return fmt.Sprintf("%s: status %02X garbage %d truncate %d corrupt %v remove card %v", s, byte(f.Status), f.Garbage, f.Truncate, f.Corrupt, f.RemoveCard)
}

// Stats counts what the simulator saw.
type Stats struct {
	Commands  map[codec.Op]int // valid host frames by command
	BadFrames int              // host frames with a bad checksum, LEN or preamble
	Replies   int              // replies sent (or attempted while unplugged)
}

// Sim is one simulated reader. Its methods are safe for concurrent use.
type Sim struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	card     *codec.Card
	found    bool // find card succeeded for the card on the reader
	selected bool // select card succeeded
	delay    time.Duration
	mute     bool
	samFault codec.Status
	faults   []Fault
	rng      *rand.Rand
	stats    Stats
}

// New makes a reader with no card on it.
func New(cfg Config) *Sim {
	if cfg.Line == (serialport.Line{}) {
		cfg.Line = DefaultLine()
	}
	if cfg.SAMID == (codec.SAMID{}) {
		cfg.SAMID = DefaultSAMID()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sim{cfg: cfg, log: cfg.Logger.With("sim", "idcard"), rng: rand.New(rand.NewPCG(1, 467)),
		stats: Stats{Commands: map[codec.Op]int{}}}
}

// PlaceCard puts a card on the reader (replacing any other). The card must
// be encodable: its fields fit their layout.
func (s *Sim) PlaceCard(c codec.Card) error {
	if _, err := codec.EncodeReadData(c, true); err != nil {
		return fmt.Errorf("idcard sim: place card: %w", err)
	}
	if _, err := codec.EncodeAppendedAddress(c.AppendedAddress); err != nil {
		return fmt.Errorf("idcard sim: place card: %w", err)
	}
	c.Photo, c.Fingerprint = slices.Clone(c.Photo), slices.Clone(c.Fingerprint)
	s.mu.Lock()
	s.card, s.found, s.selected = &c, false, false
	s.mu.Unlock()
	s.log.Info("card placed", "card", c)
	return nil
}

// RemoveCard takes the card away.
func (s *Sim) RemoveCard() {
	s.mu.Lock()
	s.card, s.found, s.selected = nil, false, false
	s.mu.Unlock()
	s.log.Info("card removed")
}

// Card is the card on the reader, if any.
func (s *Sim) Card() (codec.Card, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.card == nil {
		return codec.Card{}, false
	}
	return *s.card, true
}

// SAMID is what 12 FF answers.
func (s *Sim) SAMID() codec.SAMID { return s.cfg.SAMID }

// Inject queues a one-shot fault; faults apply in order.
func (s *Sim) Inject(f Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f)
	s.mu.Unlock()
	s.log.Info("fault injected", "fault", f.String())
}

// GarbageNext sends n random bytes before the next reply.
func (s *Sim) GarbageNext(n int) { s.Inject(Fault{Garbage: n}) }

// TruncateNext drops the last n bytes of the next reply to op (0: any).
func (s *Sim) TruncateNext(op codec.Op, n int) { s.Inject(Fault{Op: op, Truncate: n}) }

// CorruptNext flips a byte in the next reply to op (0: any).
func (s *Sim) CorruptNext(op codec.Op) { s.Inject(Fault{Op: op, Corrupt: true}) }

// FailNext answers the next op (0: any command) with status st.
func (s *Sim) FailNext(op codec.Op, st codec.Status) { s.Inject(Fault{Op: op, Status: st}) }

// RemoveCardDuringRead takes the card away during the next read command
// (30 01 or 30 10), which then answers 41.
func (s *Sim) RemoveCardDuringRead() { s.Inject(Fault{Op: AnyRead, RemoveCard: true}) }

// SetDelay makes every reply wait d before it starts (a slow device).
func (s *Sim) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = max(d, 0)
	s.mu.Unlock()
}

// SetMute stops (true) or restarts all replies, as a hung SAM would.
func (s *Sim) SetMute(on bool) {
	s.mu.Lock()
	s.mute = on
	s.mu.Unlock()
}

// SetSAMFault makes every command answer st (60 self-test failed, 66 not
// authorised, ...) until cleared with 0.
func (s *Sim) SetSAMFault(st codec.Status) {
	s.mu.Lock()
	s.samFault = st
	s.mu.Unlock()
}

// ClearFaults drops queued faults, the delay, mute and the SAM fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	s.faults, s.delay, s.mute, s.samFault = nil, 0, false, 0
	s.mu.Unlock()
}

// Stats returns a copy of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Commands = make(map[codec.Op]int, len(s.stats.Commands))
	for k, v := range s.stats.Commands {
		st.Commands[k] = v
	}
	return st
}

// Serve answers frames read from rw until rw reports EOF (for a
// simport.Endpoint: until it is closed) or ctx ends and a read returns.
// While a simport endpoint is unplugged its Read waits for the replug, so
// the reader keeps its card and faults across unplug/replug.
func (s *Sim) Serve(ctx context.Context, rw io.ReadWriter) error {
	var dec codec.Decoder
	buf := make([]byte, 512)
	for {
		n, rerr := rw.Read(buf)
		if n > 0 {
			dec.Feed(buf[:n])
			for ctx.Err() == nil {
				f, err := dec.Next()
				if errors.Is(err, codec.ErrIncomplete) {
					break
				}
				var out []byte
				var reqLen int
				if err != nil {
					out = s.badFrame(err)
					reqLen = codec.HeaderLen + 4
				} else {
					out = s.Respond(f)
					reqLen = len(f.Payload) + codec.HeaderLen + 1
				}
				if out != nil {
					s.send(ctx, rw, out, reqLen)
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
			return fmt.Errorf("idcard sim: read: %w", rerr)
		}
	}
}

// badFrame answers a host frame the decoder rejected: 10 for a checksum
// error (the SAM read the whole frame), nothing for noise or a bad LEN.
func (s *Sim) badFrame(err error) []byte {
	s.mu.Lock()
	s.stats.BadFrames++
	mute := s.mute
	s.mu.Unlock()
	s.log.Debug("bad host frame", "err", err)
	if !errors.Is(err, codec.ErrChecksum) || mute {
		return nil
	}
	b, _ := codec.Reply{Status: codec.StatusHostChecksum}.Encode()
	return b
}

// Respond handles one host frame and returns the wire bytes to send (with
// any injected byte faults applied), or nil for no reply. Serve uses it;
// tests may call it directly.
func (s *Sim) Respond(f codec.Frame) []byte {
	req, err := f.Request()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.stats.BadFrames++
		return nil // a 1-byte payload: cannot be a command
	}
	s.stats.Commands[req.Op]++
	if s.mute {
		return nil
	}
	fault := s.takeFaultLocked(req.Op)
	rep := s.answerLocked(req, fault)
	out, err := rep.Encode()
	if err != nil {
		s.log.Error("encode reply", "err", err) // cannot happen for the layouts above
		return nil
	}
	if fault.Corrupt {
		// Any byte after LEN; XOR catches every single-byte change.
		i := codec.HeaderLen + s.rng.IntN(len(out)-codec.HeaderLen)
		out[i] ^= byte(1 + s.rng.IntN(255))
	}
	if fault.Truncate > 0 {
		out = out[:len(out)-min(fault.Truncate, len(out))]
	}
	if fault.Garbage > 0 {
		g := make([]byte, fault.Garbage)
		for i := range g {
			// Noise never forms a preamble: no 0x96 after AA AA AA.
			if g[i] = byte(s.rng.IntN(256)); g[i] == 0x96 {
				g[i] = 0x95
			}
		}
		out = append(g, out...)
	}
	s.stats.Replies++
	return out
}

// takeFaultLocked removes and returns the first queued fault for op.
func (s *Sim) takeFaultLocked(op codec.Op) Fault {
	for i, f := range s.faults {
		if f.Op == 0 || f.Op == op || f.Op == AnyRead && (op == codec.OpReadText || op == codec.OpReadFingerprint) {
			s.faults = slices.Delete(s.faults, i, i+1)
			s.log.Info("fault applied", "fault", f.String())
			return f
		}
	}
	return Fault{}
}

func status(st codec.Status, data ...byte) codec.Reply { return codec.Reply{Status: st, Data: data} }

func (s *Sim) answerLocked(req codec.Request, fault Fault) codec.Reply {
	if fault.RemoveCard {
		s.card, s.found, s.selected = nil, false, false
		if req.Op == codec.OpReadText || req.Op == codec.OpReadFingerprint {
			return status(codec.StatusReadFailed)
		}
	}
	if fault.Status != 0 {
		return status(fault.Status)
	}
	if s.samFault != 0 {
		return status(s.samFault)
	}
	n := req.Op.DataLen()
	if n < 0 {
		return status(codec.StatusHostCommand)
	}
	if n != len(req.Data) {
		return status(codec.StatusHostLength)
	}
	switch req.Op {
	case codec.OpReset:
		s.found, s.selected = false, false
		return status(codec.StatusSuccess)
	case codec.OpSAMStatus, codec.OpSetMaxRFByte:
		return status(codec.StatusSuccess)
	case codec.OpSAMID:
		return status(codec.StatusSuccess, s.cfg.SAMID[:]...)
	case codec.OpFindCard:
		if s.card == nil {
			return status(codec.StatusNoCard)
		}
		s.found = true
		return status(codec.StatusCardFound, 0, 0, 0, 0)
	case codec.OpSelectCard:
		if s.card == nil || !s.found {
			return status(codec.StatusSelectFailed)
		}
		s.selected = true
		return status(codec.StatusSuccess, make([]byte, 8)...)
	case codec.OpReadText, codec.OpReadFingerprint:
		if s.card == nil || !s.selected {
			return status(codec.StatusReadFailed)
		}
		c := *s.card
		fp := req.Op == codec.OpReadFingerprint
		if !fp {
			c.Fingerprint = nil
		}
		data, err := codec.EncodeReadData(c, fp)
		if err != nil {
			return status(codec.StatusReadFailed) // PlaceCard checked it; unreachable
		}
		return status(codec.StatusSuccess, data...)
	case codec.OpReadAppended:
		if s.card == nil || !s.selected {
			return status(codec.StatusReadFailed)
		}
		if s.card.AppendedAddress == "" {
			return status(codec.StatusNoContent)
		}
		data, _ := codec.EncodeAppendedAddress(s.card.AppendedAddress)
		return status(codec.StatusSuccess, data...)
	}
	return status(codec.StatusHostCommand)
}

// pace is the chunk the simulator writes at a time when pacing: 32 bytes
// are 2.8 ms at 115200 baud.
const pace = 32

// send writes a reply. The SAM starts answering once the request is in
// (its wire time after it started, which on a pty is about now) and each
// chunk is written when its last byte would have arrived on a real line.
func (s *Sim) send(ctx context.Context, w io.Writer, out []byte, reqLen int) {
	s.mu.Lock()
	delay, fast, line := s.delay, s.cfg.Fast, s.cfg.Line
	s.mu.Unlock()
	start := time.Now().Add(delay)
	if !fast {
		start = start.Add(line.WireTime(reqLen))
	}
	for sent := 0; sent < len(out); {
		end := len(out)
		at := start
		if !fast {
			end = min(sent+pace, len(out))
			at = start.Add(line.WireTime(end))
		}
		if !sleepUntil(ctx, at) {
			return
		}
		if _, err := w.Write(out[sent:end]); err != nil {
			// Unplugged: the bytes are lost, as on a real cable.
			s.log.Debug("reply lost", "err", err)
			return
		}
		sent = end
	}
}

func sleepUntil(ctx context.Context, at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
