package sim

import (
	"bytes"
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"tongban/drivers/ssp/codec"
)

// host is a minimal SSP master for driving the simulator directly.
type host struct {
	t     *testing.T
	s     *Sim
	seq   bool
	key   *codec.Key
	count uint32
}

func newHost(t *testing.T, cfg Config) *host {
	t.Helper()
	if cfg.Delays == (Delays{}) {
		cfg.Delays = FastDelays()
	}
	h := &host{t: t, s: New(cfg)}
	h.mustOK(h.send(codec.Build(codec.CmdSync), true))
	return h
}

// send frames data with the current flag (or a forced one), gets the
// reply and toggles the flag; it returns the reply's (decrypted) data.
func (h *host) send(data []byte, sync bool) []byte {
	h.t.Helper()
	if sync {
		h.seq = true
	}
	out := data
	if h.key != nil && !codec.Command(data[0]).PlainOnly() {
		var err error
		if out, err = h.key.Seal(h.count, data, nil); err != nil {
			h.t.Fatal(err)
		}
	}
	wire := h.s.Respond(codec.Frame{Seq: h.seq, Data: out})
	if wire == nil {
		h.t.Fatalf("no reply to % X", data)
	}
	f := decodeOne(h.t, wire)
	if f.Seq != h.seq {
		h.t.Fatalf("reply flag %v, sent %v", f.Seq, h.seq)
	}
	h.seq = !h.seq
	if f.Data[0] == codec.STEX {
		c, inner, err := h.key.Open(f.Data)
		if err != nil {
			h.t.Fatal(err)
		}
		if err := codec.CheckCount(c, h.count+1); err != nil {
			h.t.Fatal(err)
		}
		h.count = c
		return inner
	}
	return f.Data
}

func (h *host) cmd(c codec.Command, args ...byte) []byte {
	h.t.Helper()
	return h.send(codec.Build(c, args...), false)
}

func (h *host) mustOK(reply []byte) []byte {
	h.t.Helper()
	if len(reply) == 0 || reply[0] != byte(codec.OK) {
		h.t.Fatalf("reply % X, want OK", reply)
	}
	return reply[1:]
}

// poll returns the events of one poll.
func (h *host) poll() []codec.Event {
	h.t.Helper()
	evs, err := codec.ParsePoll(h.mustOK(h.cmd(codec.CmdPoll)))
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

// pollUntil polls until an event with code c appears; it returns all
// events seen on the way.
func (h *host) pollUntil(c codec.EventCode) []codec.Event {
	h.t.Helper()
	var all []codec.Event
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		evs := h.poll()
		all = append(all, evs...)
		if slices.ContainsFunc(evs, func(e codec.Event) bool { return e.Code == c }) {
			return all
		}
		time.Sleep(2 * time.Millisecond)
	}
	h.t.Fatalf("no %v; saw %v", c, all)
	return nil
}

// pollFor polls until the exact event e appears.
func (h *host) pollFor(e codec.Event) []codec.Event {
	h.t.Helper()
	var all []codec.Event
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		evs := h.poll()
		all = append(all, evs...)
		if has(evs, e) {
			return all
		}
		time.Sleep(2 * time.Millisecond)
	}
	h.t.Fatalf("no %v; saw %v", e, all)
	return nil
}

func (h *host) ready() {
	h.t.Helper()
	h.mustOK(h.send(codec.HostProtocolVersion(6), false))
	h.mustOK(h.send(codec.SetInhibits(0x003F), false))
	h.mustOK(h.cmd(codec.CmdEnable))
}

func decodeOne(t *testing.T, wire []byte) codec.Frame {
	t.Helper()
	var d codec.Decoder
	d.Feed(wire)
	f, err := d.Next()
	if err != nil || d.Pending() != 0 {
		t.Fatalf("reply % X: %v pending %d", wire, err, d.Pending())
	}
	return f
}

func has(evs []codec.Event, e codec.Event) bool { return slices.Contains(evs, e) }

func TestPowerUpAndSetup(t *testing.T) {
	h := newHost(t, Config{})
	evs := h.poll()
	if !has(evs, codec.Event{Code: codec.EvSlaveReset}) || !has(evs, codec.Event{Code: codec.EvDisabled}) {
		t.Fatalf("first poll %v", evs)
	}
	if evs := h.poll(); len(evs) != 1 || evs[0].Code != codec.EvDisabled {
		t.Fatalf("second poll %v: slave reset is reported once, disabled every time", evs)
	}
	if r := h.send(codec.HostProtocolVersion(8), false); r[0] != byte(codec.Fail) {
		t.Fatalf("protocol 8: % X", r)
	}
	h.mustOK(h.send(codec.HostProtocolVersion(6), false))
	st, err := codec.ParseSetup(h.mustOK(h.cmd(codec.CmdSetupRequest)))
	if err != nil || st.Protocol != 6 || st.Country != "CNY" || len(st.Channels) != 6 {
		t.Fatal(st, err)
	}
	for i, fen := range CNYChannels() {
		if st.MinorValue(i) != fen {
			t.Fatalf("channel %d: %d fen", i+1, st.MinorValue(i))
		}
	}
	if sn, _ := codec.ParseSerial(h.mustOK(h.cmd(codec.CmdSerialNumber))); sn != DefaultSerial {
		t.Fatal(sn)
	}
	if cv, err := codec.ParseChannelValues(h.mustOK(h.cmd(codec.CmdChannelValues)), 6); err != nil || cv.Full[5] != 100 {
		t.Fatal(cv, err)
	}
	if fw := h.mustOK(h.cmd(codec.CmdFirmwareVersion)); string(fw) != FirmwareVersion {
		t.Fatal(fw)
	}
	h.mustOK(h.cmd(codec.CmdEnable))
	if evs := h.poll(); len(evs) != 1 || evs[0].Code != codec.EvChannelDisable {
		t.Fatalf("enabled with every channel inhibited: %v", evs)
	}
	h.mustOK(h.send(codec.SetInhibits(0x0001), false))
	if evs := h.poll(); len(evs) != 0 {
		t.Fatalf("idle: %v", evs)
	}
	for _, tc := range []struct {
		data []byte
		want codec.Response
	}{{[]byte{0x99}, codec.UnknownCommand}, {[]byte{0x02, 0x01}, codec.WrongParams}, {[]byte{0x07, 0x00}, codec.WrongParams},
		{[]byte{0x18}, codec.CannotProcess}, {[]byte{0x08}, codec.CannotProcess}, {[]byte{0x4C, 1, 0, 0, 0, 0, 0, 0, 0}, codec.CannotProcess},
		{[]byte{0x4A, 4, 0, 0, 0, 0, 0, 0, 0}, codec.OutOfRange}, {[]byte{0x60, 1, 0, 0, 0, 0, 0, 0, 0}, codec.CannotProcess}} {
		if r := h.send(tc.data, false); r[0] != byte(tc.want) {
			t.Fatalf("% X: % X, want %v", tc.data, r, tc.want)
		}
	}
	if s := h.s.State(); !s.Enabled || s.Inhibits != 1 || s.Protocol != 6 || s.Encrypted {
		t.Fatalf("state %+v", s)
	}
}

// TestRepeatedRequest: the same flag twice is a retransmission: the
// identical reply comes back and the command is not run again.
func TestRepeatedRequest(t *testing.T) {
	h := newHost(t, Config{})
	h.ready()
	h.poll()
	h.s.Insert(1000)
	time.Sleep(10 * time.Millisecond)
	f := codec.Frame{Seq: h.seq, Data: []byte{byte(codec.CmdPoll)}}
	first := h.s.Respond(f)
	again := h.s.Respond(f)
	if !bytes.Equal(first, again) {
		t.Fatalf("repeat % X != % X", again, first)
	}
	evs, _ := codec.ParsePoll(decodeOne(t, first).Data[1:])
	if !has(evs, codec.Event{Code: codec.EvRead, Channel: 3}) {
		t.Fatalf("events %v", evs)
	}
	if h.s.State().Phase != "escrow" || h.s.Stats().Repeats != 1 {
		t.Fatalf("the repeat accepted the note: %+v %+v", h.s.State(), h.s.Stats())
	}
	// SYNC resets the flag memory: the same flag is processed again.
	h.mustOK(h.send(codec.Build(codec.CmdSync), true))
	if h.s.State().Phase != "escrow" {
		t.Fatal("SYNC moved the note")
	}
}

func TestNoteStackedAndCredited(t *testing.T) {
	var mu sync.Mutex
	var cb []int64
	h := newHost(t, Config{OnStacked: func(v int64) { mu.Lock(); cb = append(cb, v); mu.Unlock() }})
	h.ready()
	h.poll()
	if err := h.s.Insert(5000); err != nil {
		t.Fatal(err)
	}
	evs := h.pollFor(codec.Event{Code: codec.EvRead, Channel: 5})
	if !has(evs, codec.Event{Code: codec.EvRead}) || h.s.State().Phase != "escrow" {
		t.Fatal(evs, h.s.State())
	}
	evs = h.pollUntil(codec.EvStacked)
	if !has(evs, codec.Event{Code: codec.EvStacking}) || !has(evs, codec.Event{Code: codec.EvCredit, Channel: 5}) {
		t.Fatalf("events %v", evs)
	}
	if got := h.s.CashBox(); got[5000] != 1 || len(got) != 1 {
		t.Fatalf("cash box %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(cb, []int64{5000}) {
		t.Fatalf("OnStacked %v", cb)
	}
	if c := h.s.EmptyCashBox(); c[5000] != 1 || len(h.s.CashBox()) != 0 {
		t.Fatal("EmptyCashBox")
	}
}

func TestRejectsHoldAndTimeout(t *testing.T) {
	h := newHost(t, Config{EscrowTimeout: 60 * time.Millisecond})
	h.ready()
	h.mustOK(h.send(codec.SetInhibits(0x0037), false)) // channel 4 (20 yuan) off
	h.poll()
	h.s.Insert(2000)
	h.pollUntil(codec.EvRejected)
	if r := h.mustOK(h.cmd(codec.CmdLastRejectCode)); r[0] != RejectInhibited {
		t.Fatalf("reject code % X", r)
	}
	h.s.Insert(200) // not a channel
	h.pollUntil(codec.EvRejected)
	if r := h.mustOK(h.cmd(codec.CmdLastRejectCode)); r[0] != RejectUnknownNote {
		t.Fatalf("reject code % X", r)
	}
	// Host rejects the escrowed note.
	h.s.Insert(1000)
	h.pollFor(codec.Event{Code: codec.EvRead, Channel: 3})
	h.mustOK(h.cmd(codec.CmdReject))
	evs := h.pollUntil(codec.EvRejected)
	if !has(evs, codec.Event{Code: codec.EvRejecting}) {
		t.Fatalf("events %v", evs)
	}
	// HOLD keeps it past the time-out; without it the device rejects.
	h.s.Insert(1000)
	h.pollFor(codec.Event{Code: codec.EvRead, Channel: 3})
	for range 4 {
		time.Sleep(30 * time.Millisecond)
		h.mustOK(h.cmd(codec.CmdHold))
	}
	if h.s.State().Phase != "escrow" {
		t.Fatal("held note left escrow")
	}
	time.Sleep(80 * time.Millisecond)
	h.pollUntil(codec.EvRejected)
	if r := h.mustOK(h.cmd(codec.CmdLastRejectCode)); r[0] != RejectEscrowTimeout {
		t.Fatalf("reject code % X", r)
	}
	if len(h.s.CashBox()) != 0 {
		t.Fatal("a rejected note reached the cash box")
	}
	h.mustOK(h.cmd(codec.CmdDisable))
	if err := h.s.Insert(100); !errors.Is(err, ErrNotAccepting) {
		t.Fatal(err)
	}
	if err := h.s.Insert(0); err == nil {
		t.Fatal("Insert(0)")
	}
}

func TestFaults(t *testing.T) {
	h := newHost(t, Config{})
	h.ready()
	h.poll()
	for _, tc := range []struct {
		f    Fault
		want codec.EventCode
	}{{FaultSafeJam, codec.EvSafeJam}, {FaultUnsafeJam, codec.EvUnsafeJam}, {FaultStackerFull, codec.EvStackerFull},
		{FaultCashboxRemoved, codec.EvCashboxRemoved}, {FaultFraud, codec.EvFraud}} {
		h.s.SetFault(tc.f)
		for range 2 { // repeated while it lasts
			if evs := h.poll(); !has(evs, codec.Event{Code: tc.want}) {
				t.Fatalf("%v: %v", tc.f, evs)
			}
		}
		if err := h.s.Insert(1000); !errors.Is(err, ErrNotAccepting) {
			t.Fatalf("%v: Insert %v", tc.f, err)
		}
		h.s.SetFault(FaultNone)
		evs := h.poll()
		if tc.f == FaultCashboxRemoved {
			if !has(evs, codec.Event{Code: codec.EvCashboxReplaced}) {
				t.Fatalf("no replaced: %v", evs)
			}
			evs = h.poll()
		}
		if len(evs) != 0 {
			t.Fatalf("after clearing %v: %v", tc.f, evs)
		}
	}
	// A jam with a note in escrow: clearing it removes the note.
	h.s.Insert(1000)
	for h.s.State().Phase != "escrow" {
		h.poll()
	}
	h.s.SetFault(FaultUnsafeJam)
	h.s.SetFault(FaultNone)
	if h.s.State().Phase != "idle" {
		t.Fatal(h.s.State())
	}
}

func TestPowerCut(t *testing.T) {
	// In escrow: cleared from the front with its channel.
	h := newHost(t, Config{})
	h.ready()
	h.poll()
	h.s.Insert(1000)
	for h.s.State().Phase != "escrow" {
		h.poll()
	}
	h.s.PowerCut()
	evs := h.poll()
	if !has(evs, codec.Event{Code: codec.EvSlaveReset}) || !has(evs, codec.Event{Code: codec.EvClearedFront, Channel: 3}) ||
		!has(evs, codec.Event{Code: codec.EvDisabled}) || len(h.s.CashBox()) != 0 {
		t.Fatalf("events %v", evs)
	}
	if s := h.s.State(); s.Enabled || s.Inhibits != 0 {
		t.Fatalf("settings survived: %+v", s)
	}

	// Being stacked: cleared into the cashbox, and stored.
	h = newHost(t, Config{Delays: Delays{Read: time.Millisecond, Stack: time.Hour}})
	h.ready()
	h.poll()
	h.s.Insert(10000)
	h.pollFor(codec.Event{Code: codec.EvRead, Channel: 6})
	h.poll() // accepts
	if h.s.State().Phase != "stacking" {
		t.Fatal(h.s.State())
	}
	h.s.PowerCut()
	evs = h.poll()
	if !has(evs, codec.Event{Code: codec.EvClearedCashbox, Channel: 6}) || h.s.CashBox()[10000] != 1 {
		t.Fatalf("events %v cash box %v", evs, h.s.CashBox())
	}

	// Reset by command: answered first, then the same power-up.
	h.mustOK(h.cmd(codec.CmdReset))
	if evs := h.poll(); !has(evs, codec.Event{Code: codec.EvSlaveReset}) {
		t.Fatalf("after reset %v", evs)
	}
}

func (h *host) keyExchange() {
	h.t.Helper()
	const g, p = 0x2B, 0xFFFFFFFFFFFFFFC5
	// The generator must be below the modulus (by default).
	h.mustOK(h.send(codec.SetGenerator(p), false))
	h.mustOK(h.send(codec.SetModulus(g), false))
	if r := h.send(codec.RequestKeyExchange(5), false); r[0] != byte(codec.OutOfRange) {
		h.t.Fatalf("generator above modulus: % X", r)
	}
	h.mustOK(h.send(codec.SetGenerator(g), false))
	h.mustOK(h.send(codec.SetModulus(p), false))
	const r = 0x1234567
	rep := h.mustOK(h.send(codec.RequestKeyExchange(codec.ModPow(g, r, p)), false))
	slave, err := codec.ParseKeyExchange(rep)
	if err != nil {
		h.t.Fatal(err)
	}
	h.key, h.count = codec.NewKey(codec.DefaultFixedKey, codec.ModPow(slave, r, p)), 0
}

func TestEncryption(t *testing.T) {
	h := newHost(t, Config{RequireEncryption: true})
	h.mustOK(h.send(codec.HostProtocolVersion(6), false))
	if r := h.cmd(codec.CmdPoll); r[0] != byte(codec.KeyNotSet) {
		t.Fatalf("plain poll with encryption required: % X", r)
	}
	h.keyExchange()
	if kb, sk := h.key.Bytes(), h.s.Key().Bytes(); kb != sk {
		t.Fatalf("keys differ: % X vs % X", kb, sk)
	}
	h.mustOK(h.send(codec.SetInhibits(0x003F), false))
	h.mustOK(h.cmd(codec.CmdEnable))
	evs := h.poll()
	if !has(evs, codec.Event{Code: codec.EvSlaveReset}) {
		t.Fatalf("events %v", evs)
	}
	h.s.Insert(2000)
	h.pollUntil(codec.EvStacked)
	if h.s.CashBox()[2000] != 1 || h.count < 4 {
		t.Fatalf("cash box %v count %d", h.s.CashBox(), h.count)
	}

	// A retransmitted encrypted request gets the identical bytes.
	sealed, _ := h.key.Seal(h.count, []byte{byte(codec.CmdPoll)}, nil)
	f := codec.Frame{Seq: h.seq, Data: sealed}
	a, b := h.s.Respond(f), h.s.Respond(f)
	if a == nil || !bytes.Equal(a, b) {
		t.Fatalf("% X vs % X", a, b)
	}
	h.seq, h.count = !h.seq, h.count+1
	// A stale counter or a bad eCRC gets no answer.
	stale, _ := h.key.Seal(h.count-1, []byte{byte(codec.CmdPoll)}, nil)
	if r := h.s.Respond(codec.Frame{Seq: h.seq, Data: stale}); r != nil {
		t.Fatalf("stale counter answered % X", r)
	}
	bad := slices.Clone(sealed)
	bad[5] ^= 1
	if r := h.s.Respond(codec.Frame{Seq: h.seq, Data: bad}); r != nil {
		t.Fatal("bad packet answered")
	}
	if h.s.Stats().BadPackets != 2 {
		t.Fatal(h.s.Stats())
	}
	h.poll() // the right counter still works

	// Power cut: the key is gone, encrypted requests get FA.
	h.s.PowerCut()
	sealed, _ = h.key.Seal(h.count, []byte{byte(codec.CmdPoll)}, nil)
	r := decodeOne(t, h.s.Respond(codec.Frame{Seq: h.seq, Data: sealed}))
	if !bytes.Equal(r.Data, []byte{byte(codec.KeyNotSet)}) {
		t.Fatalf("after power cut % X", r.Data)
	}
}

// TestServeLine runs Serve on a pipe: noise and bad frames get no answer;
// the line faults do what they say.
func TestServeLine(t *testing.T) {
	hostEnd, dev := net.Pipe()
	s := New(Config{Delays: FastDelays()})
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), dev) }()
	defer func() {
		hostEnd.Close()
		dev.Close()
		<-done
	}()
	syncWire := []byte{0x7F, 0x80, 0x01, 0x11, 0x65, 0x82}
	okWire := []byte{0x7F, 0x80, 0x01, 0xF0, 0x23, 0x80}
	read := func(d time.Duration) []byte {
		buf := make([]byte, 256)
		hostEnd.SetReadDeadline(time.Now().Add(d))
		n, err := hostEnd.Read(buf)
		if err != nil {
			return nil
		}
		return buf[:n]
	}
	in := append([]byte{0x00, 0xFF, 0x7F, 0x80, 0x01, 0x11, 0x65, 0x83}, syncWire...) // noise, bad CRC, SYNC
	go hostEnd.Write(in)
	if got := read(time.Second); !bytes.Equal(got, okWire) {
		t.Fatalf("got % X", got)
	}
	if extra := read(50 * time.Millisecond); extra != nil {
		t.Fatalf("extra % X", extra)
	}

	s.Garbage(1)
	go hostEnd.Write(syncWire)
	if got := read(time.Second); !bytes.Equal(got, append(slices.Clone(garbageBytes), okWire...)) {
		t.Fatalf("garbage: % X", got)
	}
	s.DropBytes(1)
	go hostEnd.Write(syncWire)
	if got := read(time.Second); len(got) != len(okWire)-1 {
		t.Fatalf("dropped byte: % X", got)
	}
	s.DropReplies(1)
	go hostEnd.Write(syncWire)
	if got := read(100 * time.Millisecond); got != nil {
		t.Fatalf("dropped reply arrived: % X", got)
	}
	s.SetReplyDelay(80 * time.Millisecond)
	start := time.Now()
	go hostEnd.Write(syncWire)
	if got := read(time.Second); !bytes.Equal(got, okWire) || time.Since(start) < 80*time.Millisecond {
		t.Fatalf("slow reply % X after %v", got, time.Since(start))
	}
	if s.Stats().Dropped != 1 {
		t.Fatal(s.Stats())
	}
}

func TestDropReplyWithEvent(t *testing.T) {
	h := newHost(t, Config{})
	h.ready()
	h.poll()
	h.s.DropReplyWithEvent(codec.EvCredit)
	h.s.Insert(100)
	h.pollUntil(codec.EvStacked)
	h.s.mu.Lock()
	dropNow := h.s.dropNow
	h.s.mu.Unlock()
	if !dropNow {
		t.Fatal("the credit reply was not marked for dropping")
	}
}

func TestPollWithAck(t *testing.T) {
	h := newHost(t, Config{})
	a := h.mustOK(h.cmd(codec.CmdPollWithAck))
	b := h.mustOK(h.cmd(codec.CmdPollWithAck))
	if !bytes.Equal(a, b) || a[0] != byte(codec.EvSlaveReset) {
		t.Fatalf("% X then % X: events repeat until acknowledged", a, b)
	}
	h.mustOK(h.cmd(codec.CmdEventAck))
	if c := h.mustOK(h.cmd(codec.CmdPollWithAck)); bytes.Contains(c, []byte{byte(codec.EvSlaveReset)}) {
		t.Fatalf("after ACK % X", c)
	}
}
