package codec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"testing"
)

// verified lists every SSP frame of protocols.md §6.3, byte for byte.
var verified = []struct {
	name string
	f    Frame
	wire []byte
}{
	{"SYNC", Frame{Seq: true, Data: []byte{0x11}}, []byte{0x7F, 0x80, 0x01, 0x11, 0x65, 0x82}},
	{"POLL seq 1", Frame{Seq: true, Data: []byte{0x07}}, []byte{0x7F, 0x80, 0x01, 0x07, 0x12, 0x02}},
	{"POLL seq 0", Frame{Seq: false, Data: []byte{0x07}}, []byte{0x7F, 0x00, 0x01, 0x07, 0x11, 0x88}},
	{"ENABLE", Frame{Seq: true, Data: []byte{0x0A}}, []byte{0x7F, 0x80, 0x01, 0x0A, 0x3F, 0x82}},
	{"HOST_PROTOCOL_VERSION 6", Frame{Seq: true, Data: []byte{0x06, 0x06}}, []byte{0x7F, 0x80, 0x02, 0x06, 0x06, 0x24, 0x14}},
	{"SET_INHIBITS channels 1-7 (stuffed)", Frame{Seq: true, Data: []byte{0x02, 0x7F, 0x00}}, []byte{0x7F, 0x80, 0x03, 0x02, 0x7F, 0x7F, 0x00, 0x2E, 0x26}},
	{"reply OK", Frame{Seq: true, Data: []byte{0xF0}}, []byte{0x7F, 0x80, 0x01, 0xF0, 0x23, 0x80}},
	{"poll reply credit ch 3", Frame{Seq: false, Data: []byte{0xF0, 0xEE, 0x03}}, []byte{0x7F, 0x00, 0x03, 0xF0, 0xEE, 0x03, 0xC5, 0xF0}},
	{"published kybarg frame", Frame{Seq: true, Data: []byte{0xF0, 0x27, 0x3B, 0, 0, 0, 0, 0, 0}},
		[]byte{0x7F, 0x80, 0x09, 0xF0, 0x27, 0x3B, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC7, 0xEA}},
	{"published encrypted reply", Frame{Seq: false, Data: []byte{0x7E, 0x70, 0x2F, 0xFE, 0x1D, 0x41, 0x19, 0x44, 0xAD, 0xDA, 0xD1, 0xDF, 0xD6, 0x77, 0xF5, 0x33, 0xCC}},
		[]byte{0x7F, 0x00, 0x11, 0x7E, 0x70, 0x2F, 0xFE, 0x1D, 0x41, 0x19, 0x44, 0xAD, 0xDA, 0xD1, 0xDF, 0xD6, 0x77, 0xF5, 0x33, 0xCC, 0x63, 0x1D}},
}

// crcBitwise is an independent bit-at-a-time CRC-16/CMS, to check the table.
func crcBitwise(p []byte) uint16 {
	c := uint16(0xFFFF)
	for _, b := range p {
		c ^= uint16(b) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x8005
			} else {
				c <<= 1
			}
		}
	}
	return c
}

func TestCRCCheckValue(t *testing.T) {
	if got := CRC16([]byte("123456789")); got != 0xAEE7 {
		t.Fatalf("CRC16(123456789) = %04X, want AEE7", got)
	}
	if got := CRC16(nil); got != 0xFFFF {
		t.Fatalf("CRC16(nil) = %04X, want FFFF", got)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if a, w := CRC16(b), crcBitwise(b); a != w {
			t.Fatalf("table %04X != bitwise %04X for % X", a, w, b)
		}
	}
}

func TestVerifiedFrames(t *testing.T) {
	for _, tc := range verified {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Encode(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.wire) {
				t.Fatalf("Encode = % X, want % X", got, tc.wire)
			}
			var d Decoder
			d.Feed(tc.wire)
			f, err := d.Next()
			if err != nil {
				t.Fatal(err)
			}
			if f.Seq != tc.f.Seq || f.Addr != tc.f.Addr || !bytes.Equal(f.Data, tc.f.Data) || d.Pending() != 0 {
				t.Fatalf("decoded %v pending %d, want %v", f, d.Pending(), tc.f)
			}
			// The same frame fed one byte at a time.
			d.Reset()
			for i, b := range tc.wire {
				d.Feed([]byte{b})
				f, err = d.Next()
				if i < len(tc.wire)-1 {
					if !errors.Is(err, ErrIncomplete) {
						t.Fatalf("byte %d: %v %v", i, f, err)
					}
				} else if err != nil || !bytes.Equal(f.Data, tc.f.Data) {
					t.Fatalf("last byte: %v %v", f, err)
				}
			}
		})
	}
}

func TestSetInhibitsCRCIsOverUnstuffedBytes(t *testing.T) {
	if c := CRC16([]byte{0x80, 0x03, 0x02, 0x7F, 0x00}); c != 0x262E {
		t.Fatalf("crc %04X, want 262E (sent 2E 26)", c)
	}
	if got := SetInhibits(0x007F); !bytes.Equal(got, []byte{0x02, 0x7F, 0x00}) {
		t.Fatalf("SetInhibits = % X", got)
	}
}

func TestStuffingEverywhere(t *testing.T) {
	// A 7F in LEN (127 bytes), data and, by search, in a CRC byte.
	f := Frame{Seq: true, Addr: 0x7E, Data: bytes.Repeat([]byte{0x7F}, 0x7F)}
	w, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	if w[0] != STX || w[1] != 0xFE || w[2] != 0x7F || w[3] != 0x7F || w[4] != 0x7F || w[5] != 0x7F {
		t.Fatalf("LEN and data not stuffed: % X", w[:6])
	}
	var d Decoder
	d.Feed(w)
	got, err := d.Next()
	if err != nil || got.Addr != 0x7E || !got.Seq || !bytes.Equal(got.Data, f.Data) {
		t.Fatalf("round trip: %v %v", got, err)
	}
	found := false
	// (With 2 data bytes the CRC's parity rules a 7F out: 0x8005 has the
	// factor x+1.)
	r := rand.New(rand.NewPCG(5, 6))
	for range 50000 {
		f := Frame{Seq: true, Data: []byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}}
		c := CRC16([]byte{f.SeqID(), 3, f.Data[0], f.Data[1], f.Data[2]})
		if byte(c) != 0x7F && byte(c>>8) != 0x7F || bytes.IndexByte(f.Data, 0x7F) >= 0 {
			continue
		}
		found = true
		w, _ := Encode(f)
		d.Reset()
		d.Feed(w)
		if got, err := d.Next(); err != nil || !bytes.Equal(got.Data, f.Data) {
			t.Fatalf("crc with 7F: % X: %v %v", w, got, err)
		}
		if bytes.Count(w, []byte{0x7F}) != 3 {
			t.Fatalf("crc 7F not stuffed: % X", w)
		}
		break
	}
	if !found {
		t.Fatal("no frame with a 7F CRC byte found")
	}
}

func TestEncodeErrors(t *testing.T) {
	if _, err := Encode(Frame{}); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty: %v", err)
	}
	if _, err := Encode(Frame{Data: make([]byte, 256)}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("long: %v", err)
	}
	if _, err := Encode(Frame{Addr: 0x7F, Data: []byte{1}}); !errors.Is(err, ErrAddr) {
		t.Fatalf("addr: %v", err)
	}
	if w, err := Encode(Frame{Data: make([]byte, 255)}); err != nil || len(w) < 260 {
		t.Fatalf("255 bytes: %v", err)
	}
}

// next decodes everything buffered and returns the frames and errors.
func drain(d *Decoder) (fs []Frame, errs []error) {
	for {
		f, err := d.Next()
		if errors.Is(err, ErrIncomplete) {
			return
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fs = append(fs, f)
	}
}

func TestDecoderResync(t *testing.T) {
	sync := verified[0].wire
	inh := verified[5].wire
	cases := []struct {
		name  string
		in    []byte
		want  [][]byte // data of the frames found
		errIs []error
	}{
		{"garbage before", append([]byte{0x00, 0x13, 0xFF}, sync...), [][]byte{{0x11}}, []error{ErrSync}},
		{"stray 7F before", append([]byte{0x7F}, sync...), [][]byte{{0x11}}, []error{ErrSync}},
		{"stuffed pair before", append([]byte{0x7F, 0x7F}, sync...), [][]byte{{0x11}}, []error{ErrSync}},
		{"bad crc then good", append([]byte{0x7F, 0x80, 0x01, 0x11, 0x65, 0x83}, inh...), [][]byte{{0x02, 0x7F, 0x00}}, []error{ErrCRC, ErrSync}},
		{"zero length", append([]byte{0x7F, 0x80, 0x00}, sync...), [][]byte{{0x11}}, []error{ErrLength, ErrSync}},
		{"cut short by a new frame", append([]byte{0x7F, 0x80, 0x05, 0x01}, sync...), [][]byte{{0x11}}, []error{ErrStuffing, ErrSync}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			d.Feed(tc.in)
			fs, errs := drain(&d)
			if len(fs) != len(tc.want) {
				t.Fatalf("frames %v errs %v", fs, errs)
			}
			for i := range fs {
				if !bytes.Equal(fs[i].Data, tc.want[i]) {
					t.Fatalf("frame %d: % X", i, fs[i].Data)
				}
			}
			for i, e := range tc.errIs {
				if i >= len(errs) || !errors.Is(errs[i], e) {
					t.Fatalf("errors %v, want %v", errs, tc.errIs)
				}
			}
			if len(errs) == 0 && tc.errIs != nil {
				t.Fatal("no error reported")
			}
			for _, e := range errs {
				var de *DecodeError
				if !errors.As(e, &de) || de.Discarded < 1 || de.Error() == "" {
					t.Fatalf("error %v", e)
				}
			}
		})
	}
}

// A stray 7F just before a frame pairs with its STX, so the frame is read
// as data of a bogus one. Once more bytes arrive the bogus frame fails and
// only its STX is dropped: the hidden frame is still found.
func TestDecoderHiddenFrame(t *testing.T) {
	sync := verified[0].wire
	var d Decoder
	d.Feed(append([]byte{0x7F, 0x80, 0x09, 0x7F}, sync...))
	if fs, errs := drain(&d); len(fs) != 0 || len(errs) != 0 {
		t.Fatalf("before more input: %v %v", fs, errs)
	}
	d.Feed(sync)
	fs, errs := drain(&d)
	if len(fs) != 2 || fs[0].Data[0] != 0x11 || fs[1].Data[0] != 0x11 || len(errs) == 0 || !errors.Is(errs[0], ErrStuffing) {
		t.Fatalf("frames %v errors %v", fs, errs)
	}
}

func TestDecoderIncompleteThenTimeoutReset(t *testing.T) {
	var d Decoder
	d.Feed([]byte{0x7F, 0x80, 0xFF, 0x01})
	if _, err := d.Next(); !errors.Is(err, ErrIncomplete) {
		t.Fatal(err)
	}
	d.Reset()
	d.Feed(verified[1].wire)
	if f, err := d.Next(); err != nil || f.Data[0] != 0x07 {
		t.Fatal(f, err)
	}
}

func TestReplies(t *testing.T) {
	r, err := ParseReply([]byte{0xF0, 0xEE, 0x03})
	if err != nil || r.Code != OK || r.Err() != nil || !bytes.Equal(r.Data, []byte{0xEE, 0x03}) {
		t.Fatal(r, err)
	}
	for _, c := range []Response{UnknownCommand, WrongParams, OutOfRange, CannotProcess, SoftwareError, Fail, KeyNotSet} {
		r, err := ParseReply([]byte{byte(c)})
		if err != nil || !errors.Is(r.Err(), ErrRefused) || c.String() == "" {
			t.Fatalf("%v: %v %v", c, r, err)
		}
	}
	r, _ = ParseReply([]byte{0xF5, 0x03})
	var re *ReplyError
	if !errors.As(r.Err(), &re) || !re.HasDetail || re.Detail != 3 {
		t.Fatal(r.Err())
	}
	if _, err := ParseReply(nil); !errors.Is(err, ErrShort) {
		t.Fatal(err)
	}
	if _, err := ParseReply([]byte{0x12}); !errors.Is(err, ErrUnknownResponse) {
		t.Fatal(err)
	}
}

func TestCommands(t *testing.T) {
	for c, want := range map[Command][]byte{
		CmdReset: {0x01}, CmdDisplayOn: {0x03}, CmdDisplayOff: {0x04}, CmdSetupRequest: {0x05}, CmdPoll: {0x07},
		CmdReject: {0x08}, CmdDisable: {0x09}, CmdEnable: {0x0A}, CmdSerialNumber: {0x0C}, CmdUnitData: {0x0D},
		CmdChannelValues: {0x0E}, CmdChannelSecurity: {0x0F}, CmdSync: {0x11}, CmdLastRejectCode: {0x17},
		CmdHold: {0x18}, CmdFirmwareVersion: {0x20}, CmdDatasetVersion: {0x21}, CmdPollWithAck: {0x56}, CmdEventAck: {0x57},
	} {
		if got := Build(c); !bytes.Equal(got, want) || !c.Known() || !c.ValidArgs(0) || c.String() == "" {
			t.Errorf("%v: % X", c, got)
		}
	}
	if got := HostProtocolVersion(6); !bytes.Equal(got, []byte{0x06, 0x06}) {
		t.Fatalf("% X", got)
	}
	g := SetGenerator(0x0102030405060708)
	if !bytes.Equal(g, []byte{0x4A, 8, 7, 6, 5, 4, 3, 2, 1}) || !CmdSetGenerator.ValidArgs(8) {
		t.Fatalf("% X", g)
	}
	if v, err := Arg64(g); err != nil || v != 0x0102030405060708 {
		t.Fatal(v, err)
	}
	if _, err := Arg64([]byte{0x4A, 1}); err == nil {
		t.Fatal("short Arg64")
	}
	if SetModulus(1)[0] != 0x4B || RequestKeyExchange(1)[0] != 0x4C || SetFixedKey(1)[0] != 0x60 {
		t.Fatal("64-bit builders")
	}
	if !CmdSetBaudRate.ValidArgs(1) || !CmdSetBaudRate.ValidArgs(2) || CmdSetInhibits.ValidArgs(1) {
		t.Fatal("ValidArgs")
	}
	if !CmdSync.PlainOnly() || CmdPoll.PlainOnly() || Command(0x99).Known() {
		t.Fatal("PlainOnly/Known")
	}
	if s, err := ParseSerial([]byte{0x00, 0x12, 0xD6, 0x87}); err != nil || s != 1234567 {
		t.Fatal(s, err)
	}
	if _, err := ParseSerial([]byte{1}); !errors.Is(err, ErrShort) {
		t.Fatal(err)
	}
	// The published frame's data is an OK reply with an 8-byte LE value.
	if v, err := ParseKeyExchange(verified[8].f.Data[1:]); err != nil || v != 0x3B27 {
		t.Fatal(v, err)
	}
}

func TestPollEvents(t *testing.T) {
	all := []Event{
		{Code: EvSlaveReset}, {Code: EvRead, Channel: 0}, {Code: EvRead, Channel: 3}, {Code: EvCredit, Channel: 3},
		{Code: EvRejecting}, {Code: EvRejected}, {Code: EvStacking}, {Code: EvStacked}, {Code: EvSafeJam},
		{Code: EvUnsafeJam}, {Code: EvDisabled}, {Code: EvFraud, Channel: 2}, {Code: EvStackerFull},
		{Code: EvClearedFront, Channel: 4}, {Code: EvClearedCashbox, Channel: 5}, {Code: EvCashboxRemoved},
		{Code: EvCashboxReplaced}, {Code: EvNotePathOpen}, {Code: EvChannelDisable}, {Code: EvInitialising},
	}
	b := AppendEvents(nil, all...)
	got, err := ParsePoll(b)
	if err != nil || len(got) != len(all) {
		t.Fatalf("%v %v", got, err)
	}
	for i := range all {
		if got[i] != all[i] || got[i].String() == "" {
			t.Fatalf("event %d: %v want %v", i, got[i], all[i])
		}
	}
	// The verified poll reply: OK + credit channel 3.
	evs, err := ParsePoll(verified[7].f.Data[1:])
	if err != nil || len(evs) != 1 || evs[0] != (Event{EvCredit, 3}) {
		t.Fatal(evs, err)
	}
	evs, err = ParsePoll([]byte{0xEB, 0xC9, 0x01})
	var ee *EventError
	if len(evs) != 1 || !errors.As(err, &ee) || ee.Offset != 1 || !errors.Is(err, ErrUnknownEvent) {
		t.Fatal(evs, err)
	}
	if _, err := ParsePoll([]byte{0xEE}); !errors.Is(err, ErrTruncated) {
		t.Fatal(err)
	}
}

func cnySetup(protocol byte) Setup {
	s := Setup{UnitType: 0, Firmware: "0420", Country: "CNY", ValueMultiplier: 1, RealValueMultiplier: 100, Protocol: protocol}
	for _, v := range []byte{1, 5, 10, 20, 50, 100} {
		s.Channels = append(s.Channels, Channel{Value: v, Security: 2, Country: "CNY", Full: uint32(v)})
	}
	return s
}

func TestSetup(t *testing.T) {
	s := cnySetup(6)
	b := s.Append(nil)
	if len(b) != 12+2*6+4+7*6 {
		t.Fatalf("length %d", len(b))
	}
	// Layout spot checks: value multiplier BE at 8..10, n at 11, real
	// value multiplier BE after the securities, protocol, then countries.
	if !bytes.Equal(b[:12], []byte{0x00, '0', '4', '2', '0', 'C', 'N', 'Y', 0, 0, 1, 6}) ||
		!bytes.Equal(b[24:28], []byte{0, 0, 100, 6}) || string(b[28:31]) != "CNY" ||
		!bytes.Equal(b[46:50], []byte{1, 0, 0, 0}) {
		t.Fatalf("layout % X", b)
	}
	got, err := ParseSetup(b)
	if err != nil || got.Protocol != 6 || len(got.Channels) != 6 || got.Country != "CNY" || got.Firmware != "0420" {
		t.Fatal(got, err)
	}
	for i, fen := range []int64{100, 500, 1000, 2000, 5000, 10000} {
		if got.MinorValue(i) != fen || got.Channels[i] != s.Channels[i] {
			t.Fatalf("channel %d: %+v %d", i+1, got.Channels[i], got.MinorValue(i))
		}
	}
	if got.MinorValue(6) != 0 || got.MinorValue(-1) != 0 {
		t.Fatal("MinorValue out of range")
	}
	// Protocol 4: no expanded part; values from the 1-byte table.
	old := cnySetup(4)
	b4 := old.Append(nil)
	got, err = ParseSetup(b4)
	if err != nil || len(b4) != 28 || got.Channels[5].Full != 0 || got.MinorValue(5) != 10000 {
		t.Fatal(got, err)
	}
	for _, cut := range []int{0, 11, 12, 27, 40} {
		if _, err := ParseSetup(b[:cut]); !errors.Is(err, ErrSetup) {
			t.Fatalf("cut %d: %v", cut, err)
		}
	}

	cv := ChannelValues{Values: []byte{1, 5}, Countries: []string{"CNY", "CNY"}, Full: []uint32{1, 5}}
	for _, p := range []byte{4, 6} {
		w := cv.Append(nil, p)
		got, err := ParseChannelValues(w, p)
		if err != nil || !bytes.Equal(got.Values, cv.Values) || (p >= 6 && (got.Full[1] != 5 || got.Countries[0] != "CNY")) {
			t.Fatal(p, got, err)
		}
		if _, err := ParseChannelValues(w[:len(w)-1], p); err == nil {
			t.Fatal("short channel values")
		}
	}
}

// The published encrypted reply (§6.3) with its published key.
func TestPublishedEncryptedReply(t *testing.T) {
	raw, _ := hex.DecodeString("67452301674523019565000000000000")
	k := NewKey(DefaultFixedKey, 0x6595)
	if kb := k.Bytes(); !bytes.Equal(kb[:], raw) {
		t.Fatalf("key % X, want % X", kb, raw)
	}
	var d Decoder
	d.Feed(verified[9].wire)
	f, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	count, inner, err := k.Open(f.Data)
	if err != nil {
		t.Fatal(err)
	}
	if count != 1 || !bytes.Equal(inner, []byte{0xF0, 0x00, 0x4A, 0x78, 0xB4}) {
		t.Fatalf("count %d data % X", count, inner)
	}
	if err := CheckCount(count, 0+1); err != nil {
		t.Fatal(err) // a reply carries the host's count + 1
	}
	if err := CheckCount(count, 2); !errors.Is(err, ErrCount) {
		t.Fatal(err)
	}
	// The plaintext starts 05 01 00 00 00 F0 00 4A 78 B4 and its eCRC
	// verifies (Open checked it); recompute it independently too.
	plain := make([]byte, 16)
	blk := k.block
	blk.Decrypt(plain, f.Data[1:])
	if !bytes.Equal(plain[:10], []byte{0x05, 0x01, 0x00, 0x00, 0x00, 0xF0, 0x00, 0x4A, 0x78, 0xB4}) {
		t.Fatalf("plaintext % X", plain)
	}
	if c := crcBitwise(plain[:14]); byte(c) != plain[14] || byte(c>>8) != plain[15] {
		t.Fatalf("inner crc %04X vs % X", c, plain[14:])
	}
	// A wrong key fails the inner CRC.
	if _, _, err := NewKey(DefaultFixedKey, 0x6596).Open(f.Data); !errors.Is(err, ErrECRC) {
		t.Fatal(err)
	}
}

func TestSealOpen(t *testing.T) {
	k := NewKey(DefaultFixedKey, 0x1122334455667788)
	for _, n := range []int{1, 9, 10, 11, 25, 100, MaxSealed} {
		data := bytes.Repeat([]byte{0xA5}, n)
		sealed, err := k.Seal(uint32(n)*7, data, func(p []byte) {
			for i := range p {
				p[i] = 0xCC
			}
		})
		if err != nil {
			t.Fatal(n, err)
		}
		if sealed[0] != STEX || (len(sealed)-1)%16 != 0 || len(sealed) > MaxData {
			t.Fatalf("%d: sealed length %d", n, len(sealed))
		}
		if _, err := Encode(Frame{Data: sealed}); err != nil {
			t.Fatal(err)
		}
		c, got, err := k.Open(sealed)
		if err != nil || c != uint32(n)*7 || !bytes.Equal(got, data) {
			t.Fatalf("%d: %d % X %v", n, c, got, err)
		}
	}
	if _, err := k.Seal(0, make([]byte, MaxSealed+1), nil); !errors.Is(err, ErrTooLong) {
		t.Fatal(err)
	}
	if _, err := k.Seal(0, nil, nil); !errors.Is(err, ErrEmpty) {
		t.Fatal(err)
	}
	if _, _, err := k.Open([]byte{0xF0}); !errors.Is(err, ErrNotEncrypted) {
		t.Fatal(err)
	}
	if _, _, err := k.Open([]byte{0x7E, 1, 2}); !errors.Is(err, ErrCipherLength) {
		t.Fatal(err)
	}
	// A valid eCRC with eLENGTH past the end is refused.
	plain := make([]byte, 16)
	plain[0] = 20
	c := CRC16(plain[:14])
	plain[14], plain[15] = byte(c), byte(c>>8)
	ct := make([]byte, 17)
	ct[0] = STEX
	k.block.Encrypt(ct[1:], plain)
	if _, _, err := k.Open(ct); !errors.Is(err, ErrELength) {
		t.Fatal(err)
	}
}

func TestModPowAndPrimes(t *testing.T) {
	if ModPow(4, 13, 497) != 445 || ModPow(2, 0, 7) != 1 || ModPow(5, 3, 1) != 0 {
		t.Fatal("ModPow small")
	}
	const p = 0xFFFFFFFFFFFFFFC5 // the largest 64-bit prime
	if !IsPrime(p) || IsPrime(p-2) || !IsPrime(2) || !IsPrime(37) || IsPrime(1) || IsPrime(0) || IsPrime(561) {
		t.Fatal("IsPrime")
	}
	// Fermat: a^(p-1) = 1 mod p exercises the 128-bit reduction.
	if ModPow(0x123456789ABCDEF, p-1, p) != 1 {
		t.Fatal("ModPow near 2^64")
	}
	// Strong pseudoprimes to small bases must be caught.
	for _, n := range []uint64{2047, 1373653, 25326001, 3215031751, 2152302898747, 3474749660383, 341550071728321, 3825123056546413051} {
		if IsPrime(n) {
			t.Fatalf("%d reported prime", n)
		}
	}
	// Diffie-Hellman agreement.
	g, m := uint64(0xB7), uint64(0xFFFFFFFFFFFFFFC5)
	a, b := uint64(0x1234567890), uint64(0xFEDCBA0987654321)
	A, B := ModPow(g, a, m), ModPow(g, b, m)
	if ModPow(B, a, m) != ModPow(A, b, m) {
		t.Fatal("DH keys differ")
	}
}
