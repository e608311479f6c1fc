// Package sim is a simulated ESC/POS receipt printer: the device's side of
// the wire, on any io.ReadWriter (in practice a *simport.Endpoint, so the
// driver talks to it through a real pseudo terminal).
//
// It answers DLE EOT 1..4 at once with bytes that match its state, sends
// Automatic Status Back blocks when the host enabled them (GS a), and
// collects everything between two cuts as one receipt, saved as
// receipt-NNNNNN.bin (the raw bytes) and receipt-NNNNNN.txt (codec.Render).
//
// Like a real printer it stops when it cannot print: while paper end, cover
// open, cutter error or offline is set, print data is dropped, and the
// receipt in progress when the fault appeared is discarded, so no file is
// written for it. Real-time status requests are still answered, so the
// driver's check after the job sees the fault.
//
// Fault injection, for tests and the simulator process's control API:
// SetPaperEnd, SetNearEnd, SetCoverOpen, SetCutterError, SetOffline (or
// Set with a Fault), RunOutAfter and FaultAfter (a fault in the middle of
// a job), JamNextCut, SetReplyDelay (a slow printer), DropBytes (bytes lost
// on the way in), SendGarbage (noise on the way out); unplugging is the
// pseudo terminal's (simport.Endpoint.Unplug/Replug).
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"tongban/drivers/escpos/codec"
)

// Config sets up a simulated printer.
type Config struct {
	Dir       string           // folder for receipt files; "" keeps receipts in memory only
	Paper     codec.PaperWidth // for rendering; default 80 mm
	OnReceipt func(Receipt)    // called after each saved receipt, outside the lock
	Logger    *slog.Logger     // default: discard
}

// Receipt is one completed receipt (everything up to and including a cut).
type Receipt struct {
	Seq        int
	BinPath    string // "" when Config.Dir is empty or the write failed
	TextPath   string
	Raw        []byte
	Text       string // codec.Render output
	QRPayloads []string
	Rasters    []codec.Raster
}

// Printer is the simulated device. The fault setters and accessors are safe
// to call from any goroutine while Run is going.
type Printer struct {
	rw  io.ReadWriter
	cfg Config
	log *slog.Logger

	wmu sync.Mutex // serialises writes to rw (replies and ASB)

	mu        sync.Mutex
	parser    *codec.Parser
	tail      []byte // last bytes fed, to spot a DLE EOT split across reads
	paperEnd  bool
	nearEnd   bool
	coverOpen bool
	cutter    bool
	offline   bool
	after     map[Fault]int // print bytes left before the fault; see FaultAfter
	jamCut    bool          // the next cut fails with a cutter error
	delay     time.Duration // before each batch of replies
	drop      int           // host bytes still to lose
	asb       byte          // GS a n; 0 = Automatic Status Back off
	curCmds   []codec.Command
	curRaw    []byte
	receipts  []Receipt
	seq       int
	dropped   int
	garbage   int
}

// New makes a printer with paper loaded and nothing wrong.
func New(rw io.ReadWriter, cfg Config) *Printer {
	if !cfg.Paper.Valid() {
		cfg.Paper = codec.Paper80
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Printer{rw: rw, cfg: cfg, log: cfg.Logger.With("sim", "escpos"), parser: codec.NewParser(), after: map[Fault]int{}}
	s.seq = lastSeq(cfg.Dir) // continue numbering instead of overwriting
	return s
}

// lastSeq finds the highest receipt number already in dir.
func lastSeq(dir string) int {
	if dir == "" {
		return 0
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	last := 0
	for _, e := range entries {
		num, ok := strings.CutPrefix(e.Name(), "receipt-")
		if num, ok2 := strings.CutSuffix(num, ".bin"); ok && ok2 {
			if n, err := strconv.Atoi(num); err == nil && n > last {
				last = n
			}
		}
	}
	return last
}

// Run reads the host's bytes and acts on them until ctx ends or the port
// fails. A blocked Read cannot be interrupted: Run returns at once when ctx
// ends, and its reader goroutine exits when the port is closed.
func (s *Printer) Run(ctx context.Context) error {
	type chunk struct {
		b   []byte
		err error
	}
	ch := make(chan chunk)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := s.rw.Read(buf)
			c := chunk{b: slices.Clone(buf[:n]), err: err}
			select {
			case ch <- c:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-ch:
			if len(c.b) > 0 {
				s.Feed(c.b)
			}
			if c.err != nil {
				if errors.Is(c.err, io.EOF) {
					return nil
				}
				return fmt.Errorf("escpos sim: read: %w", c.err)
			}
		}
	}
}

// Feed processes bytes as if they came from the host. Run calls it; tests
// may call it directly.
//
// DLE EOT n is answered wherever it appears in the byte stream, even inside
// another command's data (a raster image, a GS ( k payload the parser is
// still waiting for): real printers scan their receive buffer for real-time
// commands the same way, which is what lets a host get a status out of a
// printer stuck in a half-received command. The answer reflects every byte
// before it.
func (s *Printer) Feed(b []byte) {
	var out []byte
	var done []Receipt
	s.mu.Lock()
	if s.drop > 0 {
		n := min(s.drop, len(b))
		s.drop -= n
		s.dropped += n
		b = b[n:]
	}
	data := append(slices.Clone(s.tail), b...)
	start := 0 // first byte of b not yet given to the parser
	for i := 0; i+2 < len(data); i++ {
		if data[i] != codec.DLE || data[i+1] != codec.EOT || data[i+2] < 1 || data[i+2] > 4 || i+2 < len(s.tail) {
			continue
		}
		end := i + 3 - len(s.tail)
		out, done = s.parseLocked(b[start:end], out, done)
		start = end
		out = append(out, s.statusLocked().Reply(data[i+2]))
		i += 2
	}
	out, done = s.parseLocked(b[start:], out, done)
	s.tail = slices.Clone(data[max(0, len(data)-2):])
	delay := s.delay
	s.mu.Unlock()
	if len(out) > 0 && delay > 0 {
		time.Sleep(delay) // a slow device: it also reads nothing meanwhile
	}
	s.send(out)
	for _, r := range done {
		if s.cfg.OnReceipt != nil {
			s.cfg.OnReceipt(r)
		}
	}
}

func (s *Printer) parseLocked(b []byte, out []byte, done []Receipt) ([]byte, []Receipt) {
	s.parser.Write(b)
	for {
		c, err := s.parser.Next()
		if errors.Is(err, codec.ErrNeedMore) {
			return out, done
		}
		var se *codec.SyntaxError
		if errors.As(err, &se) {
			s.garbage++
			s.log.Warn("garbage from host", "err", err)
			if s.readyLocked() {
				s.curRaw = append(s.curRaw, se.Skipped...)
			} else {
				s.dropped += len(se.Skipped)
			}
			continue
		}
		out, done = s.commandLocked(c, out, done)
	}
}

func (s *Printer) commandLocked(c codec.Command, out []byte, done []Receipt) ([]byte, []Receipt) {
	switch c := c.(type) {
	case codec.RealTimeStatus:
		return out, done // already answered by Feed's scan
	case codec.AutoStatusBack:
		s.asb = c.N
		if c.N != 0 {
			a := s.statusLocked().ASB()
			out = append(out, a[:]...)
		}
		return out, done
	}
	raw := c.Bytes()
	if !s.readyLocked() {
		s.dropped += len(raw)
		return out, done
	}
	for f, left := range s.after {
		if left -= len(raw); left >= 0 {
			s.after[f] = left
			continue
		}
		delete(s.after, f)
		s.log.Info("fault during a job", "fault", f.String())
		out = append(out, s.setLocked(s.flag(f), true)...)
	}
	if _, ok := c.(codec.CutPaper); ok && s.jamCut {
		s.jamCut = false
		s.log.Info("cutter jammed")
		out = append(out, s.setLocked(&s.cutter, true)...)
	}
	if !s.readyLocked() { // stopped by this very command
		s.dropped += len(raw)
		return out, done
	}
	s.curCmds = append(s.curCmds, c)
	s.curRaw = append(s.curRaw, raw...)
	if _, ok := c.(codec.CutPaper); ok {
		done = append(done, s.finishLocked())
	}
	return out, done
}

// Fault is a condition that stops the printer.
type Fault int

const (
	FaultPaperEnd Fault = iota
	FaultCoverOpen
	FaultCutterError
	FaultOffline
)

func (f Fault) String() string {
	switch f {
	case FaultPaperEnd:
		return "paper end"
	case FaultCoverOpen:
		return "cover open"
	case FaultCutterError:
		return "cutter error"
	case FaultOffline:
		return "offline"
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

func (s *Printer) flag(f Fault) *bool {
	switch f {
	case FaultCoverOpen:
		return &s.coverOpen
	case FaultCutterError:
		return &s.cutter
	case FaultOffline:
		return &s.offline
	}
	return &s.paperEnd
}

// finishLocked turns the commands since the last cut into a saved receipt.
func (s *Printer) finishLocked() Receipt {
	s.seq++
	ren := s.cfg.Paper.Render(s.curCmds)
	r := Receipt{Seq: s.seq, Raw: s.curRaw, Text: ren.Text, QRPayloads: ren.QRPayloads, Rasters: ren.Rasters}
	s.curCmds, s.curRaw = nil, nil
	if s.cfg.Dir != "" {
		base := filepath.Join(s.cfg.Dir, fmt.Sprintf("receipt-%06d", r.Seq))
		err := os.MkdirAll(s.cfg.Dir, 0o755)
		if err == nil {
			err = os.WriteFile(base+".bin", r.Raw, 0o644)
		}
		if err == nil {
			err = os.WriteFile(base+".txt", []byte(r.Text), 0o644)
		}
		if err != nil {
			s.log.Error("saving receipt", "seq", r.Seq, "err", err)
		} else {
			r.BinPath, r.TextPath = base+".bin", base+".txt"
		}
	}
	s.log.Info("receipt printed", "seq", r.Seq, "bytes", len(r.Raw), "qr", len(r.QRPayloads))
	s.receipts = append(s.receipts, r)
	return r
}

func (s *Printer) readyLocked() bool {
	return !(s.paperEnd || s.coverOpen || s.cutter || s.offline)
}

// statusLocked is the state as DLE EOT reports it: any stop condition also
// takes the printer offline, as on real printers.
func (s *Printer) statusLocked() codec.Status {
	return codec.Status{
		Offline:      !s.readyLocked(),
		CoverOpen:    s.coverOpen,
		PaperEnd:     s.paperEnd,
		Error:        s.cutter,
		CutterError:  s.cutter,
		PaperNearEnd: s.nearEnd,
	}
}

// setLocked changes one fault flag. A new stop condition throws away the
// receipt in progress (the printer stopped half-way). It returns the ASB
// block to send if ASB is on and the status changed.
func (s *Printer) setLocked(flag *bool, on bool) []byte {
	if *flag == on {
		return nil
	}
	before := s.statusLocked()
	wasReady := s.readyLocked()
	*flag = on
	if wasReady && !s.readyLocked() && len(s.curRaw) > 0 {
		s.log.Info("printing stopped, receipt in progress discarded", "bytes", len(s.curRaw))
		s.dropped += len(s.curRaw)
		s.curCmds, s.curRaw = nil, nil
	}
	if s.asb == 0 || s.statusLocked() == before {
		return nil
	}
	a := s.statusLocked().ASB()
	return a[:]
}

func (s *Printer) set(flag *bool, on bool) {
	s.mu.Lock()
	out := s.setLocked(flag, on)
	s.mu.Unlock()
	s.send(out)
}

func (s *Printer) send(b []byte) {
	if len(b) == 0 {
		return
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := s.rw.Write(b); err != nil {
		// Unplugged: the bytes are lost, as on a real cable.
		s.log.Debug("reply lost", "err", err)
	}
}

// SetPaperEnd puts the printer out of paper (true) or reloads it, which
// also cancels a pending RunOutAfter.
func (s *Printer) SetPaperEnd(on bool) {
	if !on {
		s.mu.Lock()
		delete(s.after, FaultPaperEnd)
		s.mu.Unlock()
	}
	s.set(&s.paperEnd, on)
}

// Set sets or clears a fault by name (for a control API).
func (s *Printer) Set(f Fault, on bool) {
	if f == FaultPaperEnd {
		s.SetPaperEnd(on)
		return
	}
	s.set(s.flag(f), on)
}

// SetNearEnd sets the paper-near-end sensor (printing continues).
func (s *Printer) SetNearEnd(on bool) { s.set(&s.nearEnd, on) }

// SetCoverOpen opens or closes the cover.
func (s *Printer) SetCoverOpen(on bool) { s.set(&s.coverOpen, on) }

// SetCutterError sets or clears an auto-cutter error.
func (s *Printer) SetCutterError(on bool) { s.set(&s.cutter, on) }

// SetOffline takes the printer offline for no other reason.
func (s *Printer) SetOffline(on bool) { s.set(&s.offline, on) }

// RunOutAfter makes the paper run out after n more bytes of print data
// (every command but DLE EOT and GS a counts its length); n < 0 cancels.
func (s *Printer) RunOutAfter(n int) { s.FaultAfter(FaultPaperEnd, n) }

// FaultAfter sets fault f after n more bytes of print data, in the middle
// of a job: the receipt in progress is lost, as on a real printer whose
// cover is opened while it prints. n < 0 cancels.
func (s *Printer) FaultAfter(f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n < 0 {
		delete(s.after, f)
		return
	}
	s.after[f] = n
}

// JamNextCut makes the next cut fail with a cutter error: the receipt is
// printed but not cut, and the printer stops until SetCutterError(false).
func (s *Printer) JamNextCut() {
	s.mu.Lock()
	s.jamCut = true
	s.mu.Unlock()
}

// SetReplyDelay makes the printer slow: each batch of replies waits d
// (and the printer reads nothing meanwhile). 0 restores it.
func (s *Printer) SetReplyDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = max(0, d)
	s.mu.Unlock()
}

// DropBytes makes the printer lose the next n bytes from the host, as a
// noisy line or an overrun buffer would.
func (s *Printer) DropBytes(n int) {
	s.mu.Lock()
	s.drop = max(0, n)
	s.mu.Unlock()
}

// SendGarbage sends b to the host unasked, as line noise or a confused
// printer would.
func (s *Printer) SendGarbage(b []byte) { s.send(slices.Clone(b)) }

// Status is what the printer would answer to DLE EOT now.
func (s *Printer) Status() codec.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statusLocked()
}

// Receipts lists the completed receipts, oldest first.
func (s *Printer) Receipts() []Receipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.receipts)
}

// Dropped is how many bytes were thrown away because the printer could not print.
func (s *Printer) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Garbage is how many stretches of bytes the parser could not understand.
func (s *Printer) Garbage() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.garbage
}
