// Package sim is a simulated serial barcode/QR scanner: the device's side
// of the wire on any io.ReadWriter (in practice a *simport.Endpoint, so the
// driver talks to it through a real pseudo terminal).
//
// Scan presents a code to the scanner, as a resident holds up a phone or a
// bill. In auto mode (and always for the generic model) the code is sent
// at once; in manual (trigger) mode it is sent only while triggered:
// Honeywell by SYN T CR (16 54 0D) until a read, SYN U CR or the read
// timeout; Newland by #SCNTRG1 the same way, with @SCNMOD0 / @SCNMOD2
// switching between command-trigger and auto-sense mode and every command
// answered <STX><SOH>0000 … ACK/NAK/ENQ ;<ETX> (protocols.md §4).
//
// Faults: garbage bytes, a read without its suffix, a read with bytes
// dropped, a slow device (per byte and per reply), a deaf device (ignores
// commands), refused commands (NAK/ENQ), and unplug/replug.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"tongban/drivers/scanner/codec"
)

// Config sets up a simulated scanner.
type Config struct {
	Model  string // codec.ModelGeneric (default), ModelHoneywell, ModelNewland
	Manual bool   // start in manual (trigger) mode; ignored for the generic model
	Suffix []byte // after each read; nil: CR LF
	Prefix string // before each read
	AIM    string // AIM identifier before the data, e.g. "]Q1"
	// ReadTimeout ends a trigger without a read; default 3 s.
	ReadTimeout time.Duration
	Logger      *slog.Logger
}

// Scanner is the simulated device. Its methods are safe for concurrent use.
type Scanner struct {
	rw  io.ReadWriter
	cfg Config
	log *slog.Logger

	wmu sync.Mutex // one write (read or reply) at a time

	mu         sync.Mutex
	manual     bool
	triggered  bool
	triggerGen int // bumps on every trigger change, so a stale timeout does nothing
	presented  []string
	dropSuffix bool
	dropBytes  int
	perByte    time.Duration
	replyDelay time.Duration
	deaf       bool
	refuse     codec.Status
	commands   []string
	reads      int
	garbage    int // host bytes the scanner could not parse
}

// New makes a scanner on rw.
func New(rw io.ReadWriter, cfg Config) *Scanner {
	switch cfg.Model {
	case codec.ModelHoneywell, codec.ModelNewland:
	default:
		cfg.Model, cfg.Manual = codec.ModelGeneric, false
	}
	if cfg.Suffix == nil {
		cfg.Suffix = []byte("\r\n")
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 3 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Scanner{rw: rw, cfg: cfg, manual: cfg.Manual, log: cfg.Logger.With("sim", "scanner", "model", cfg.Model)}
}

// Run answers the host's commands until ctx ends or the port fails. A
// blocked Read cannot be interrupted: Run returns when ctx ends and its
// reader goroutine exits when the port is closed.
func (s *Scanner) Run(ctx context.Context) error {
	type chunk struct {
		b   []byte
		err error
	}
	ch := make(chan chunk)
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := s.rw.Read(buf)
			select {
			case ch <- chunk{slices.Clone(buf[:n]), err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var p codec.HostParser
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-ch:
			p.Write(c.b)
			for {
				cmd, err := p.Next()
				if errors.Is(err, codec.ErrNeedMore) {
					break
				}
				if err != nil {
					s.mu.Lock()
					s.garbage++
					s.mu.Unlock()
					s.log.Warn("garbage from host", "err", err)
					continue
				}
				s.command(cmd)
			}
			if c.err != nil {
				if errors.Is(c.err, io.EOF) {
					return nil
				}
				return fmt.Errorf("scanner sim: read: %w", c.err)
			}
		}
	}
}

// command acts on one host command.
func (s *Scanner) command(c codec.HostCommand) {
	s.mu.Lock()
	deaf := s.deaf
	if c.Honeywell {
		s.commands = append(s.commands, map[bool]string{true: "SYN T", false: "SYN U"}[c.Trigger])
	} else {
		s.commands = append(s.commands, string(c.Storage)+strings.Join(c.Commands, ";"))
	}
	s.mu.Unlock()
	if deaf {
		s.log.Info("deaf: command ignored")
		return
	}
	switch {
	case c.Honeywell && s.cfg.Model == codec.ModelHoneywell:
		s.setTrigger(c.Trigger)
	case !c.Honeywell && s.cfg.Model == codec.ModelNewland:
		s.newland(c)
	default:
		s.log.Info("command for another model ignored")
	}
}

func (s *Scanner) newland(c codec.HostCommand) {
	rep := codec.NewlandReply{Storage: c.Storage}
	trigger := 0 // +1 on, -1 off
	s.mu.Lock()
	refuse, delay := s.refuse, s.replyDelay
	for _, cmd := range c.Commands {
		res := codec.NewlandResult{Echo: cmd, Status: codec.ACK}
		switch {
		case refuse != 0:
			res.Status = refuse
		case cmd == "SCNTRG*":
			res.Echo = "SCNTRG" + map[bool]string{true: "1", false: "0"}[s.triggered]
		case cmd == "SCNMOD*":
			res.Echo = "SCNMOD" + map[bool]string{true: "0", false: "2"}[s.manual]
		case cmd == codec.NewlandTriggerOn:
			trigger = 1
		case cmd == codec.NewlandTriggerOff:
			trigger = -1
		case cmd == codec.NewlandModeManual:
			s.manual = true
		case cmd == codec.NewlandModeAuto:
			s.manual = false
		case strings.HasPrefix(cmd, "SCNTRG"), strings.HasPrefix(cmd, "SCNMOD"):
			res.Status = codec.NAK // a value out of range
		default:
			res.Status = codec.ENQ // no such setting
		}
		rep.Results = append(rep.Results, res)
	}
	s.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	s.write(rep.Bytes())
	if trigger != 0 {
		s.setTrigger(trigger > 0)
	}
}

// setTrigger starts or stops a scan; a presented code is read at once.
func (s *Scanner) setTrigger(on bool) {
	s.mu.Lock()
	s.triggered = on
	s.triggerGen++
	gen := s.triggerGen
	s.mu.Unlock()
	s.log.Info("trigger", "on", on)
	if on {
		time.AfterFunc(s.cfg.ReadTimeout, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.triggerGen == gen && s.triggered {
				s.triggered = false
				s.log.Info("trigger timed out without a read")
			}
		})
	}
	s.pump()
}

// Scan presents a code. It is read now if the scanner is reading (auto
// mode, or triggered), else when next triggered.
func (s *Scanner) Scan(code string) {
	s.mu.Lock()
	s.presented = append(s.presented, code)
	s.mu.Unlock()
	s.pump()
}

// Remove takes away the codes not read yet.
func (s *Scanner) Remove() {
	s.mu.Lock()
	s.presented = nil
	s.mu.Unlock()
}

// pump sends presented codes while the scanner may read. A trigger ends
// with its read, so manual mode reads one code per trigger.
func (s *Scanner) pump() {
	for {
		s.mu.Lock()
		if len(s.presented) == 0 || (s.manual && !s.triggered) {
			s.mu.Unlock()
			return
		}
		code := s.presented[0]
		s.presented = s.presented[1:]
		if s.manual {
			s.triggered = false
			s.triggerGen++
		}
		frame := s.frameLocked(code)
		s.reads++
		s.mu.Unlock()
		s.write(frame)
	}
}

// frameLocked builds a read's bytes, applying one-shot faults.
func (s *Scanner) frameLocked(code string) []byte {
	data := []byte(s.cfg.Prefix + s.cfg.AIM + code)
	if s.dropBytes > 0 {
		mid := len(data) / 2
		n := min(s.dropBytes, len(data)-mid)
		data = append(data[:mid], data[mid+n:]...)
		s.log.Info("fault: bytes dropped", "n", n)
		s.dropBytes = 0
	}
	if s.dropSuffix {
		s.dropSuffix = false
		s.log.Info("fault: suffix dropped")
		return data
	}
	return append(data, s.cfg.Suffix...)
}

// write sends bytes, one at a time with a pause when slow. Bytes written
// while unplugged are lost, as on a real cable.
func (s *Scanner) write(b []byte) {
	s.mu.Lock()
	per := s.perByte
	s.mu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if per <= 0 {
		if _, err := s.rw.Write(b); err != nil {
			s.log.Debug("write lost", "err", err)
		}
		return
	}
	for i := range b {
		if _, err := s.rw.Write(b[i : i+1]); err != nil {
			s.log.Debug("write lost", "err", err)
			return
		}
		time.Sleep(per)
	}
}

// SendGarbage writes raw bytes (line noise, a wrong baud rate).
func (s *Scanner) SendGarbage(b []byte) { s.write(b) }

// DropSuffixOnce makes the next read go out without its suffix.
func (s *Scanner) DropSuffixOnce() {
	s.mu.Lock()
	s.dropSuffix = true
	s.mu.Unlock()
}

// DropBytesOnce makes the next read lose n bytes from its middle.
func (s *Scanner) DropBytesOnce(n int) {
	s.mu.Lock()
	s.dropBytes = max(0, n)
	s.mu.Unlock()
}

// SetSlow makes the scanner send each byte perByte apart and answer
// commands after replyDelay; zeros restore full speed.
func (s *Scanner) SetSlow(perByte, replyDelay time.Duration) {
	s.mu.Lock()
	s.perByte, s.replyDelay = perByte, replyDelay
	s.mu.Unlock()
}

// SetDeaf makes the scanner ignore every command (no reply, no trigger).
func (s *Scanner) SetDeaf(on bool) {
	s.mu.Lock()
	s.deaf = on
	s.mu.Unlock()
}

// SetRefuse makes a Newland scanner answer every command with st (NAK or
// ENQ) and act on none; 0 restores normal answers.
func (s *Scanner) SetRefuse(st codec.Status) {
	s.mu.Lock()
	s.refuse = st
	s.mu.Unlock()
}

type pluggable interface {
	Unplug()
	Replug() error
}

// Unplug pulls the cable, if the port supports it (a simport.Endpoint).
//
// simport closes the pty leader on Unplug, but a leader with a Read
// pending (ours, waiting for host commands) is in blocking mode
// (creack/pty calls Fd on it), so the kernel close waits for that Read to
// return, and the host would never see the cable go. A scanner host rarely
// writes, so Unplug nudges the Read with one byte from the follower side.
func (s *Scanner) Unplug() error {
	p, ok := s.rw.(pluggable)
	if !ok {
		return errors.New("scanner sim: port cannot be unplugged")
	}
	path := ""
	if pp, ok := s.rw.(interface{ Path() string }); ok {
		path = pp.Path()
	}
	p.Unplug()
	if path != "" {
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0); err == nil {
			_, _ = f.Write([]byte{0})
			f.Close()
		} else {
			s.log.Debug("unplug nudge failed", "err", err)
		}
	}
	return nil
}

// Replug puts the cable back.
func (s *Scanner) Replug() error {
	p, ok := s.rw.(pluggable)
	if !ok {
		return errors.New("scanner sim: port cannot be replugged")
	}
	return p.Replug()
}

// Manual reports whether the scanner is in manual (trigger) mode.
func (s *Scanner) Manual() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.manual
}

// Triggered reports whether a scan is in progress.
func (s *Scanner) Triggered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.triggered
}

// Commands lists the host commands received, oldest first: "SYN T",
// "SYN U", or Newland storage + commands such as "#SCNTRG1".
func (s *Scanner) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

// Reads is the number of reads sent.
func (s *Scanner) Reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// Waiting is the number of presented codes not read yet.
func (s *Scanner) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.presented)
}
