package ssp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/drivers/serialport"
	"tongban/drivers/ssp/codec"
)

var (
	// errNoReply: a request got no valid reply in Retries tries, or the
	// replies carried the wrong sequence flag. The link is resynchronised
	// with SYNC; the port stays open.
	errNoReply = errors.New("ssp: no valid reply")
	// errResync: the slave lost its state (reset, key not set) and the
	// start-up sequence must run again.
	errResync = errors.New("ssp: resynchronise")
)

// mismatchLimit is how many replies with the wrong sequence flag one
// request may see before the driver stops retrying and resynchronises.
const mismatchLimit = 3

// note is what the driver knows of the note in the validator. It lives in
// the runner, not the session, so a reconnect in the middle of a note
// cannot ask the core twice or credit twice.
type note struct {
	channel  byte
	value    int64
	known    bool
	decision cash.Decision
	decided  bool // the core answered Escrowed
	credited bool
	stacked  bool // Stacked reported, or waiting for the credit (stackedEarly)
	early    bool // stacked seen before the credit
	closed   bool // nothing more will happen to this note
}

// runner is the state of one Run call, kept across reconnects.
type runner struct {
	d *Driver
	h cash.Handler

	note          *note
	pendingReject bool // the core said Return; REJECT not yet answered
	cashboxOut    bool // cashbox removed, until replaced
	faults        map[codec.EventCode]bool
	readAt        time.Time    // when the last bytes arrived from the device
	state         device.State // shadow of the monitor, to skip redundant Sets
	detail        string
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
	args := []any{"kind", ev.Kind, "fen", ev.Value, "channel", ev.Code, "detail", ev.Detail}
	if ev.Kind == cash.Escrowed {
		args = append(args, "decision", d)
	}
	r.d.log.Info("cash event", args...)
	return d
}

// session is one open port.
type session struct {
	ctx  context.Context
	r    *runner
	d    *Driver
	port serialport.Port
	dec  codec.Decoder
	wbuf []byte
	rbuf [256]byte

	seq      bool       // flag of the next request
	key      *codec.Key // eSSP key once negotiated
	count    uint32     // eCOUNT of the next encrypted request
	ready    bool       // start-up sequence done
	fresh    bool       // no poll since the start-up sequence
	protocol byte
	misses   int       // consecutive unanswered tries
	answered bool      // the validator answered at least once on this port
	dirty    bool      // stray bytes may be waiting: flush before the next request
	enableAt time.Time // when the settings were last sent
	mask     uint16    // the channel mask last sent (0: disabled)
}

func newSession(ctx context.Context, r *runner, port serialport.Port) *session {
	return &session{ctx: ctx, r: r, d: r.d, port: port, wbuf: make([]byte, 0, 64)}
}

func (s *session) run() error {
	if err := s.port.ResetInputBuffer(); err != nil {
		return fmt.Errorf("flush %s: %w", s.d.cfg.Path, err)
	}
	s.r.setState(device.Starting, "connected, starting up")
	tick := time.NewTicker(s.d.cfg.PollInterval)
	defer tick.Stop()
	for {
		err := s.cycle()
		switch {
		case errors.Is(err, errNoReply), errors.Is(err, errResync):
			s.d.mon.Count("resyncs", 1)
			s.d.log.Info("resynchronising", "err", err)
			s.ready = false
		case err != nil:
			return err
		}
		select {
		case <-s.ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// cycle is one poll period: the start-up sequence if needed, a pending
// REJECT or settings change, then POLL and the reaction to its events.
func (s *session) cycle() error {
	if !s.ready {
		if err := s.start(); err != nil {
			return err
		}
	}
	if s.r.pendingReject {
		if err := s.reject(); err != nil {
			return err
		}
	} else if s.d.takeDirty() && !s.awaitingStack() {
		// A note waiting for the stacking poll is not disturbed by other
		// commands first.
		if err := s.applySettings(); err != nil {
			return err
		}
	}
	data, err := s.transact(codec.Build(codec.CmdPoll))
	if err != nil {
		return err
	}
	rep, err := codec.ParseReply(data)
	if err == nil {
		err = rep.Err()
	}
	if err != nil {
		return s.refused(codec.CmdPoll, rep, err)
	}
	evs, perr := codec.ParsePoll(rep.Data)
	if perr != nil {
		s.d.mon.Count("unknownEvents", 1)
		s.d.mon.Error(perr)
		s.d.log.Warn("poll reply not fully understood", "err", perr, "data", fmt.Sprintf("% X", rep.Data))
	}
	return s.onEvents(evs)
}

// awaitingStack: the core said Stack and the next POLL will stack it.
func (s *session) awaitingStack() bool {
	n := s.r.note
	return n != nil && !n.closed && n.decided && n.decision == cash.Stack && !n.credited
}

// refused handles a non-OK answer: FA means the slave has no key (it was
// reset), so the start-up runs again; others are counted and logged.
func (s *session) refused(cmd codec.Command, rep codec.Reply, err error) error {
	s.d.mon.Count("refused", 1)
	s.d.mon.Error(fmt.Errorf("%v: %w", cmd, err))
	s.d.log.Warn("validator refused", "cmd", cmd, "err", err)
	if rep.Code == codec.KeyNotSet {
		return fmt.Errorf("%v: %w: %w", cmd, errResync, err)
	}
	return nil
}

// start runs the start-up sequence: SYNC, host protocol version, key
// exchange (eSSP), setup request, serial number, a REJECT still owed, then
// inhibits and enable.
func (s *session) start() error {
	s.key, s.count, s.seq = nil, 0, true // SYNC is sent with the flag set
	s.r.setState(device.Starting, "starting up")
	if _, err := s.ok(codec.Build(codec.CmdSync)); err != nil {
		return s.startFailed("sync", err)
	}
	s.protocol = 0
	for v := s.d.cfg.Protocol; v >= 1; v-- {
		data, err := s.transact(codec.HostProtocolVersion(v))
		if err != nil {
			return s.startFailed("host protocol version", err)
		}
		if len(data) > 0 && codec.Response(data[0]) == codec.OK {
			s.protocol = v
			break
		}
		if len(data) == 0 || codec.Response(data[0]) != codec.Fail {
			s.d.log.Warn("host protocol version refused", "version", v, "reply", fmt.Sprintf("% X", data))
			break
		}
	}
	if s.d.cfg.Encrypted {
		if err := s.keyExchange(); err != nil {
			return s.startFailed("key exchange", err)
		}
	}
	data, err := s.ok(codec.Build(codec.CmdSetupRequest))
	if err != nil {
		return s.startFailed("setup request", err)
	}
	st, err := codec.ParseSetup(data)
	if err != nil {
		return s.startFailed("setup request", err)
	}
	ch := s.d.setSetup(st)
	s.d.log.Info("validator setup", "firmware", st.Firmware, "country", st.Country, "protocol", st.Protocol, "channels fen", ch, "negotiated", s.protocol)
	if data, err := s.ok(codec.Build(codec.CmdSerialNumber)); err == nil {
		if sn, err := codec.ParseSerial(data); err == nil {
			s.d.mu.Lock()
			s.d.serial = sn
			s.d.mu.Unlock()
		}
	} else if !errors.Is(err, codec.ErrRefused) {
		return s.startFailed("serial number", err)
	}
	if s.r.pendingReject {
		if err := s.reject(); err != nil {
			return s.startFailed("reject", err)
		}
	}
	if err := s.applySettings(); err != nil {
		return s.startFailed("settings", err)
	}
	s.ready, s.fresh = true, true
	return nil
}

// startFailed reports a failed start-up step. A silent device, a port
// failure or a lost key end the attempt as they are; a refusal is a
// device state (it will be tried again next period).
func (s *session) startFailed(step string, err error) error {
	err = fmt.Errorf("start-up %s: %w", step, err)
	s.d.mon.Error(err)
	switch {
	case errors.Is(err, errNoReply):
		s.r.setState(device.Offline, "validator does not answer")
		return err
	case errors.Is(err, codec.ErrRefused):
		var re *codec.ReplyError
		detail := "validator refused " + step
		if errors.As(err, &re) && re.Code == codec.KeyNotSet && !s.d.cfg.Encrypted {
			detail = "validator requires eSSP encryption (set Encrypted)"
		}
		s.r.setState(device.HardwareError, detail)
		s.d.log.Warn("start-up refused", "err", err)
		return nil
	case errors.Is(err, codec.ErrSetup):
		s.r.setState(device.HardwareError, "bad setup request reply")
		return nil
	}
	return err
}

// keyExchange negotiates the eSSP key (brief §3b): prime generator and
// modulus, host intermediate g^r mod p, shared key = slave^r mod p. The
// brief does not say which of the two primes must be larger; the
// generator is sent below the modulus (textbook Diffie-Hellman) and, if
// the device refuses a value as out of range, the exchange is tried once
// more with the two swapped.
func (s *session) keyExchange() error {
	p, g := randomPrime(), randomPrime()
	for g == p {
		g = randomPrime()
	}
	if g > p {
		g, p = p, g
	}
	err := s.exchangeKey(g, p)
	var re *codec.ReplyError
	if errors.As(err, &re) && re.Code == codec.OutOfRange {
		s.d.log.Info("key exchange refused; trying again with generator above modulus", "err", err)
		err = s.exchangeKey(p, g)
	}
	return err
}

func (s *session) exchangeKey(g, p uint64) error {
	r := random64() | 1
	if _, err := s.ok(codec.SetGenerator(g)); err != nil {
		return fmt.Errorf("set generator: %w", err)
	}
	if _, err := s.ok(codec.SetModulus(p)); err != nil {
		return fmt.Errorf("set modulus: %w", err)
	}
	data, err := s.ok(codec.RequestKeyExchange(codec.ModPow(g, r, p)))
	if err != nil {
		return fmt.Errorf("request key exchange: %w", err)
	}
	slave, err := codec.ParseKeyExchange(data)
	if err != nil {
		return err
	}
	s.key, s.count = codec.NewKey(s.d.cfg.FixedKey, codec.ModPow(slave, r, p)), 0
	s.d.mon.Count("keyExchanges", 1)
	s.d.log.Info("eSSP key negotiated")
	return nil
}

func random64() uint64 {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	return binary.LittleEndian.Uint64(b[:])
}

// randomPrime is a random 64-bit prime (top bit set).
func randomPrime() uint64 {
	for {
		if v := random64() | 1<<63 | 1; codec.IsPrime(v) {
			return v
		}
	}
}

func fillRandom(p []byte) { rand.Read(p) }

// applySettings sends the channel inhibits and enable (or disable when no
// wanted value has a channel).
func (s *session) applySettings() error {
	mask := s.d.settings()
	if _, err := s.ok(codec.SetInhibits(mask)); err != nil {
		s.d.markDirty()
		return s.settingFailed(err)
	}
	cmd := codec.CmdEnable
	if mask == 0 {
		cmd = codec.CmdDisable
	}
	if _, err := s.ok(codec.Build(cmd)); err != nil {
		s.d.markDirty()
		return s.settingFailed(err)
	}
	s.enableAt, s.mask = time.Now(), mask
	s.d.log.Info("settings", "mask", fmt.Sprintf("%04X", mask), "cmd", cmd)
	return nil
}

func (s *session) settingFailed(err error) error {
	if errors.Is(err, codec.ErrRefused) {
		s.d.mon.Error(err)
		s.d.log.Warn("setting refused", "err", err)
		var re *codec.ReplyError
		if errors.As(err, &re) && re.Code == codec.KeyNotSet {
			return fmt.Errorf("%w: %w", errResync, err)
		}
		return nil
	}
	return err
}

// reject sends REJECT for the note the core wants back. F5 (nothing in
// escrow) means it is already on its way out; the events will say.
func (s *session) reject() error {
	data, err := s.transact(codec.Build(codec.CmdReject))
	if err != nil {
		return err
	}
	s.r.pendingReject = false
	if rep, err := codec.ParseReply(data); err != nil || rep.Code != codec.OK {
		s.d.log.Warn("reject not accepted", "reply", fmt.Sprintf("% X", data))
	}
	return nil
}

// ok sends a request and returns the data after OK, or a *ReplyError.
func (s *session) ok(data []byte) ([]byte, error) {
	reply, err := s.transact(data)
	if err != nil {
		return nil, err
	}
	rep, err := codec.ParseReply(reply)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", codec.Command(data[0]), err)
	}
	if err := rep.Err(); err != nil {
		if rep.Code == codec.KeyNotSet && s.ready {
			return nil, fmt.Errorf("%v: %w: %w", codec.Command(data[0]), errResync, err)
		}
		return nil, fmt.Errorf("%v: %w", codec.Command(data[0]), err)
	}
	return rep.Data, nil
}

// transact sends one request and returns the reply's data, decrypted. A
// missing, garbled or stale reply makes it send the identical bytes again
// (same flag, same eCOUNT), up to Retries tries: the slave answers a
// repeat with its previous reply, so a command is never run twice and a
// reply is never counted twice. The flag toggles only after a good reply.
func (s *session) transact(data []byte) ([]byte, error) {
	cmd := codec.Command(data[0])
	payload := data
	sealed := false
	if s.key != nil && !cmd.PlainOnly() {
		var err error
		if payload, err = s.key.Seal(s.count, data, fillRandom); err != nil {
			return nil, fmt.Errorf("%v: %w", cmd, err)
		}
		sealed = true
	}
	var err error
	s.wbuf, err = codec.AppendFrame(s.wbuf[:0], codec.Frame{Seq: s.seq, Addr: s.d.cfg.Addr, Data: payload})
	if err != nil {
		return nil, fmt.Errorf("encode %v: %w", cmd, err)
	}
	mismatches := 0
	for try := range s.d.cfg.Retries {
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
		if try > 0 {
			s.d.mon.Count("retransmits", 1)
			s.d.log.Debug("sending again", "cmd", cmd, "try", try+1)
		}
		if s.dirty || s.dec.Pending() > 0 {
			if err := s.port.ResetInputBuffer(); err != nil {
				return nil, fmt.Errorf("flush %s: %w", s.d.cfg.Path, err)
			}
			s.dec.Reset()
			s.dirty = false
		}
		if _, err := s.port.Write(s.wbuf); err != nil {
			return nil, fmt.Errorf("write %s: %w", s.d.cfg.Path, err)
		}
		reply, mism, err := s.await()
		mismatches += mism
		if err != nil {
			return nil, err
		}
		if reply == nil {
			if mismatches >= mismatchLimit {
				s.d.log.Warn("sequence flag mismatch", "cmd", cmd, "replies", mismatches)
				return nil, fmt.Errorf("%v: %w: %d replies with the wrong sequence flag", cmd, errNoReply, mismatches)
			}
			s.missed(cmd)
			continue
		}
		out, ok := s.open(cmd, reply, sealed)
		if !ok {
			s.dirty = true
			continue
		}
		s.misses = 0
		s.answered = true
		s.seq = !s.seq
		return out, nil
	}
	return nil, fmt.Errorf("%v: %w after %d tries", cmd, errNoReply, s.d.cfg.Retries)
}

// open checks an encrypted reply (eCRC, count = ours + 1) and decrypts it.
// A plain reply to an encrypted request is believed only when it is a
// lone refusal (FA after a reset): events must come encrypted.
func (s *session) open(cmd codec.Command, reply []byte, sealed bool) ([]byte, bool) {
	if len(reply) > 0 && reply[0] == codec.STEX {
		if !sealed || s.key == nil {
			s.cryptoError(cmd, errors.New("encrypted reply to a plain request"))
			return nil, false
		}
		c, inner, err := s.key.Open(reply)
		if err == nil {
			err = codec.CheckCount(c, s.count+1)
		}
		if err == nil && len(inner) == 0 {
			err = codec.ErrShort
		}
		if err != nil {
			s.cryptoError(cmd, err)
			return nil, false
		}
		s.count = c
		return inner, true
	}
	if sealed && (len(reply) != 1 || codec.Response(reply[0]) == codec.OK || !codec.Response(reply[0]).Known()) {
		s.cryptoError(cmd, fmt.Errorf("plain reply % X to an encrypted request", reply))
		return nil, false
	}
	return reply, true
}

func (s *session) cryptoError(cmd codec.Command, err error) {
	s.d.mon.Count("cryptoErrors", 1)
	s.d.mon.Error(fmt.Errorf("%v: %w", cmd, err))
	s.d.log.Warn("bad encrypted reply", "cmd", cmd, "err", err)
}

func (s *session) missed(cmd codec.Command) {
	s.dirty = true // the reply may still come, late
	s.misses++
	s.d.mon.Count("timeouts", 1)
	s.d.log.Debug("no reply", "cmd", cmd, "misses", s.misses)
	if s.misses >= s.d.cfg.OfflineAfter {
		s.r.setState(device.Offline, "validator does not answer")
	}
}

// await reads until a frame from our slave with our flag arrives (its
// data), or ResponseTimeout passes (nil). Frames with the other flag are
// stale replies: they are counted and skipped.
func (s *session) await() (data []byte, mismatches int, err error) {
	deadline := time.Now().Add(s.d.cfg.ResponseTimeout)
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
			switch {
			case f.Addr != s.d.cfg.Addr:
				s.dirty = true
				s.d.log.Debug("frame for another slave skipped", "frame", f)
			case f.Seq != s.seq:
				s.dirty = true
				mismatches++
				s.d.mon.Count("seqMismatches", 1)
				s.d.log.Debug("reply with the wrong sequence flag skipped", "frame", f)
			default:
				if s.dec.Pending() > 0 {
					s.dirty = true
				}
				return f.Data, mismatches, nil
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, mismatches, nil
		}
		if err := s.port.SetReadTimeout(left); err != nil {
			return nil, mismatches, fmt.Errorf("set read timeout %s: %w", s.d.cfg.Path, err)
		}
		n, err := s.port.Read(s.rbuf[:])
		if err != nil {
			return nil, mismatches, fmt.Errorf("read %s: %w", s.d.cfg.Path, err)
		}
		if n > 0 {
			s.r.readAt = time.Now()
		}
		s.dec.Feed(s.rbuf[:n]) // n == 0 is the read timeout; the loop checks the deadline
	}
}

func (s *session) decodeError(err error) {
	s.dirty = true
	if errors.Is(err, codec.ErrCRC) {
		s.d.mon.Count("crcErrors", 1)
	} else {
		s.d.mon.Count("framingErrors", 1)
	}
	s.d.mon.Error(err)
	s.d.log.Debug("bad bytes from validator", "err", err)
}
