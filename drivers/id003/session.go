package id003

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/drivers/id003/codec"
	"tongban/drivers/serialport"
)

// errTimeout means the acceptor did not answer within the budget. It is
// not a port failure: the session goes on polling.
var errTimeout = errors.New("id003: no response")

// errRefused means the acceptor answered invalid command or communication
// error instead of doing what was asked.
var errRefused = errors.New("id003: command refused")

// note is what the driver knows of the note in the transport. It lives in
// the runner, not the session, so a reconnect between vend valid and its
// ACK cannot credit the same note twice.
type note struct {
	code     byte
	value    int64
	known    bool
	decision cash.Decision
	decided  bool // the handler answered Escrowed
	acked    bool // the acceptor acknowledged our stack or return
	credited bool
	stacked  bool // Stacked reported
	returned bool // Returned reported
}

// runner is the state of one Run call, kept across reconnects.
type runner struct {
	d *Driver
	h cash.Handler

	note        *note
	readAt      time.Time    // when the last bytes arrived from the device
	last        codec.Status // last device state seen (not 4A/4B)
	powerUpSeen bool         // PowerUpWithNote already reported for this power up
	state       device.State // shadow of the monitor, to skip redundant Sets
	detail      string
}

func (r *runner) setState(s device.State, detail string) {
	if r.state == s && r.detail == detail {
		return
	}
	r.state, r.detail = s, detail
	r.d.mon.Set(s, detail)
}

// emit hands an event to the core, then logs it: the log's write is I/O
// that the way from the device's frame to the screen need not wait for.
func (r *runner) emit(ev cash.Event) cash.Decision {
	if ev.At.IsZero() {
		ev.At = r.readAt
	}
	d := r.h(ev)
	args := []any{"kind", ev.Kind, "fen", ev.Value, "code", fmt.Sprintf("%02X", ev.Code), "detail", ev.Detail}
	if ev.Kind == cash.Escrowed {
		args = append(args, "decision", d)
	}
	r.d.log.Info("cash event", args...)
	return d
}

// session is one open port.
type session struct {
	r    *runner
	d    *Driver
	port serialport.Port
	dec  codec.Decoder
	wbuf []byte
	rbuf [128]byte

	synced     bool      // settings sent since this port was opened / the device initialised
	settingsAt time.Time // when the settings were last sent
	misses     int       // consecutive unanswered polls
	answered   bool      // the acceptor answered at least once on this port
	dirty      bool      // a late or stray frame may be waiting: flush before the next command
	resetAt    time.Time // when a reset was last acknowledged
}

func newSession(r *runner, port serialport.Port) *session {
	return &session{r: r, d: r.d, port: port, wbuf: make([]byte, 0, 16)}
}

func (s *session) run(ctx context.Context) error {
	if err := s.port.ResetInputBuffer(); err != nil {
		return fmt.Errorf("flush %s: %w", s.d.cfg.Path, err)
	}
	s.r.setState(device.Starting, "connected, waiting for the acceptor")
	tick := time.NewTicker(s.d.cfg.PollInterval)
	defer tick.Stop()
	for {
		if err := s.cycle(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// cycle is one poll: pending Enable settings, then status request and the
// reaction to the status.
func (s *session) cycle() error {
	if s.synced {
		if mask, inhibit, ok := s.d.takeDirty(); ok {
			if err := s.sendEnable(mask, inhibit); err != nil {
				if errors.Is(err, errTimeout) {
					s.d.markDirty() // try again next cycle
				} else {
					return err
				}
			}
		}
	}
	timeout := s.d.cfg.ResponseTimeout
	if !s.synced {
		timeout = s.d.cfg.InitTimeout
	}
	f, err := s.exchange(codec.CmdStatusRequest, nil, timeout, isStatus)
	if errors.Is(err, errTimeout) {
		s.misses++
		if s.misses >= s.d.cfg.OfflineAfter {
			s.r.setState(device.Offline, "acceptor does not answer")
			s.synced = false // it may come back with other settings
		}
		return nil
	}
	if err != nil {
		return err
	}
	s.misses = 0
	s.answered = true
	return s.onStatus(f)
}

func isStatus(f codec.Frame) bool { return codec.Status(f.Cmd).Known() }

func isAck(f codec.Frame) bool {
	st := codec.Status(f.Cmd)
	return st == codec.StatusACK || st == codec.StatusInvalidCommand || st == codec.StatusCommunicationError
}

// exchange sends one command and waits up to timeout for a frame that want
// accepts. Other frames (stale replies) are skipped. The input is flushed
// first: ID003 is strict request/response, so anything already waiting is
// a late answer to an earlier command and would be taken for this one.
func (s *session) exchange(cmd codec.Command, data []byte, timeout time.Duration, want func(codec.Frame) bool) (codec.Frame, error) {
	if s.dirty || s.dec.Pending() > 0 {
		if err := s.port.ResetInputBuffer(); err != nil {
			return codec.Frame{}, fmt.Errorf("flush %s: %w", s.d.cfg.Path, err)
		}
		s.dec.Reset()
		s.dirty = false
	}
	if err := s.write(cmd, data); err != nil {
		return codec.Frame{}, err
	}
	deadline := time.Now().Add(timeout)
	for {
		for {
			f, err := s.dec.Next()
			if errors.Is(err, codec.ErrIncomplete) {
				break
			}
			if err != nil {
				s.decodeError(err)
				continue
			}
			if want(f) {
				if s.dec.Pending() > 0 {
					s.dirty = true
				}
				return f, nil
			}
			s.dirty = true
			s.d.log.Debug("unexpected frame skipped", "sent", cmd, "got", f)
		}
		left := time.Until(deadline)
		if left <= 0 {
			s.dirty = true // the answer may still come, late
			s.d.mon.Count("timeouts", 1)
			s.d.log.Debug("no response", "cmd", cmd, "timeout", timeout)
			return codec.Frame{}, fmt.Errorf("%v: %w", cmd, errTimeout)
		}
		if err := s.port.SetReadTimeout(left); err != nil {
			return codec.Frame{}, fmt.Errorf("set read timeout %s: %w", s.d.cfg.Path, err)
		}
		n, err := s.port.Read(s.rbuf[:])
		if err != nil {
			return codec.Frame{}, fmt.Errorf("read %s: %w", s.d.cfg.Path, err)
		}
		if n > 0 {
			s.r.readAt = time.Now()
		}
		s.dec.Feed(s.rbuf[:n]) // n == 0 is the read timeout; the loop checks the deadline
	}
}

func (s *session) write(cmd codec.Command, data []byte) error {
	var err error
	s.wbuf, err = codec.AppendFrame(s.wbuf[:0], codec.Frame{Cmd: byte(cmd), Data: data})
	if err != nil {
		return fmt.Errorf("encode %v: %w", cmd, err)
	}
	if _, err := s.port.Write(s.wbuf); err != nil {
		return fmt.Errorf("write %s: %w", s.d.cfg.Path, err)
	}
	return nil
}

func (s *session) decodeError(err error) {
	s.dirty = true
	if errors.Is(err, codec.ErrCRC) {
		s.d.mon.Count("crcErrors", 1)
	} else {
		s.d.mon.Count("framingErrors", 1)
	}
	s.d.mon.Error(err)
	s.d.log.Debug("bad bytes from acceptor", "err", err)
}

// command sends a command answered by ACK (reset, stack, return). It
// reports whether the acceptor acknowledged; only port failures are errors.
func (s *session) command(cmd codec.Command, timeout time.Duration) (bool, error) {
	f, err := s.exchange(cmd, nil, timeout, isAck)
	if errors.Is(err, errTimeout) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if st := codec.Status(f.Cmd); st != codec.StatusACK {
		s.d.log.Warn("command not acknowledged", "cmd", cmd, "reply", st)
		s.countReply(st)
		return false, nil
	}
	return true, nil
}

func (s *session) countReply(st codec.Status) {
	switch st {
	case codec.StatusInvalidCommand:
		s.d.mon.Count("invalidCommands", 1)
	case codec.StatusCommunicationError:
		s.d.mon.Count("commErrors", 1)
	}
}

// attempts is how often a setting or query is tried before the sequence
// gives up until the next poll. A lost frame on a noisy line should not
// restart the whole initialisation.
const attempts = 3

// setting sends a setting command, which the acceptor echoes.
func (s *session) setting(cmd codec.Command, data []byte) error {
	var f codec.Frame
	var err error
	for range attempts {
		f, err = s.exchange(cmd, data, s.d.cfg.InitTimeout, func(f codec.Frame) bool {
			return f.Cmd == byte(cmd) || isAck(f)
		})
		if !errors.Is(err, errTimeout) {
			break
		}
	}
	if err != nil {
		return err
	}
	if f.Cmd != byte(cmd) || string(f.Data) != string(data) {
		s.d.log.Warn("setting not echoed", "cmd", cmd, "sent", fmt.Sprintf("% X", data), "got", f)
		s.countReply(codec.Status(f.Cmd))
	}
	return nil
}

// query sends a read command (88, 8A) and returns its data.
func (s *session) query(cmd codec.Command) ([]byte, error) {
	var f codec.Frame
	var err error
	for range attempts {
		f, err = s.exchange(cmd, nil, s.d.cfg.InitTimeout, func(f codec.Frame) bool {
			return f.Cmd == byte(cmd) || isAck(f)
		})
		if !errors.Is(err, errTimeout) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if f.Cmd != byte(cmd) {
		s.countReply(codec.Status(f.Cmd))
		return nil, fmt.Errorf("%v: %w: %v", cmd, errRefused, codec.Status(f.Cmd))
	}
	return f.Data, nil
}

func (s *session) sendEnable(mask [2]byte, inhibit bool) error {
	s.d.log.Info("enable", "mask", fmt.Sprintf("% X", mask), "inhibit", inhibit)
	if err := s.setting(codec.CmdSetDenomination, mask[:]); err != nil {
		return err
	}
	return s.setting(codec.CmdSetInhibit, codec.InhibitData(inhibit))
}

// sendSettings is the initialisation: C0..C5 (brief order), then the
// currency table and version. A timeout leaves synced false so the next
// poll tries again; only a port failure is returned.
func (s *session) sendSettings() error {
	s.settingsAt = time.Now()
	mask, inhibit := s.d.settings()
	type step struct {
		cmd      codec.Command
		data     []byte
		optional bool // an acceptor that ignores it still works
	}
	steps := []step{
		{codec.CmdSetDenomination, mask[:], false},
		{codec.CmdSetSecurity, []byte{0x00, 0x00}, true},
		{codec.CmdSetCommMode, []byte{0x00}, true}, // polling, the power-on default
		{codec.CmdSetInhibit, codec.InhibitData(inhibit), false},
		{codec.CmdSetDirection, []byte{0x00}, true}, // all four directions
	}
	if len(s.d.cfg.OptionalFunctions) == 2 {
		steps = append(steps, step{codec.CmdSetOptionalFunc, s.d.cfg.OptionalFunctions, true})
	}
	for _, st := range steps {
		err := s.setting(st.cmd, st.data)
		switch {
		case err == nil:
		case !errors.Is(err, errTimeout):
			return err
		case st.optional:
			s.d.log.Warn("acceptor did not answer an optional setting", "cmd", st.cmd)
		default:
			return nil // not synced: the next poll sends them again
		}
	}
	s.synced = true
	if err := s.readTable(mask); err != nil {
		return err
	}
	if data, err := s.query(codec.CmdGetVersion); err == nil {
		v := strings.TrimSpace(strings.Map(func(r rune) rune {
			if r < 0x20 || r > 0x7E {
				return -1
			}
			return r
		}, string(data)))
		s.d.mu.Lock()
		s.d.version = v
		s.d.mu.Unlock()
		s.d.log.Info("acceptor version", "version", v)
	} else if !errors.Is(err, errTimeout) && !errors.Is(err, errRefused) {
		return err
	}
	return nil
}

// readTable asks for the currency table (8A) and, if the acceptor gives a
// usable one, replaces the static map with it. If that changes which codes
// the wanted values map to, C0 is sent again.
func (s *session) readTable(sent [2]byte) error {
	data, err := s.query(codec.CmdGetCurrencyTable)
	if err != nil {
		if errors.Is(err, errTimeout) || errors.Is(err, errRefused) {
			s.d.log.Info("no currency table from acceptor, using the profile's map", "err", err)
			return nil
		}
		return err
	}
	entries, err := codec.ParseCurrencyTable(data)
	if err != nil {
		s.d.log.Warn("bad currency table", "err", err)
		return nil
	}
	tab := map[byte]int64{}
	for _, e := range entries {
		if fen, ok := e.Fen(); ok && e.Code >= codec.FirstDenomCode && e.Code <= codec.LastDenomCode {
			tab[e.Code] = fen
		}
	}
	if len(tab) == 0 {
		s.d.log.Warn("currency table has no usable entry", "data", fmt.Sprintf("% X", data))
		return nil
	}
	for code, fen := range s.d.cfg.Denominations {
		if got, ok := tab[code]; ok && got != fen {
			// The acceptor's own table wins; the profile may be stale.
			s.d.log.Warn("currency table disagrees with the profile", "code", fmt.Sprintf("%02X", code), "acceptor", got, "profile", fen)
		}
	}
	s.d.mu.Lock()
	s.d.table, s.d.warned = tab, false
	mask, inhibit := s.d.settingsLocked()
	s.d.mu.Unlock()
	s.d.log.Info("currency table", "fen", tab)
	if mask != sent {
		if err := s.sendEnable(mask, inhibit); err != nil && !errors.Is(err, errTimeout) {
			return err
		}
	}
	return nil
}
