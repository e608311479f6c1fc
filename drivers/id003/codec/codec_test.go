package codec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// verified lists every ID003 frame of protocols.md §6.3, byte for byte.
var verified = []struct {
	name string
	f    Frame
	wire []byte
}{
	{"status request / idling", Frame{Cmd: 0x11}, []byte{0xFC, 0x05, 0x11, 0x27, 0x56}},
	{"reset / power up", Frame{Cmd: 0x40}, []byte{0xFC, 0x05, 0x40, 0x2B, 0x15}},
	{"stack-1", Frame{Cmd: 0x41}, []byte{0xFC, 0x05, 0x41, 0xA2, 0x04}},
	{"ack", Frame{Cmd: 0x50}, []byte{0xFC, 0x05, 0x50, 0xAA, 0x05}},
	{"enable acceptance", Frame{Cmd: 0xC3, Data: []byte{0x00}}, []byte{0xFC, 0x06, 0xC3, 0x00, 0x04, 0xD6}},
	{"inhibit", Frame{Cmd: 0xC3, Data: []byte{0x01}}, []byte{0xFC, 0x06, 0xC3, 0x01, 0x8D, 0xC7}},
	{"escrow 63", Frame{Cmd: 0x13, Data: []byte{0x63}}, []byte{0xFC, 0x06, 0x13, 0x63, 0xA2, 0xD8}},
	{"vend valid", Frame{Cmd: 0x15}, []byte{0xFC, 0x05, 0x15, 0x03, 0x10}},
	{"stacked", Frame{Cmd: 0x16}, []byte{0xFC, 0x05, 0x16, 0x98, 0x22}},
	{"rejecting 71", Frame{Cmd: 0x17, Data: []byte{0x71}}, []byte{0xFC, 0x06, 0x17, 0x71, 0x51, 0x8C}},
}

// crcBitwise is an independent bit-at-a-time KERMIT, to check the table.
func crcBitwise(p []byte) uint16 {
	var c uint16
	for _, b := range p {
		c ^= uint16(b)
		for range 8 {
			if c&1 == 1 {
				c = c>>1 ^ 0x8408
			} else {
				c >>= 1
			}
		}
	}
	return c
}

func TestCRCCheckValue(t *testing.T) {
	if got := CRC16([]byte("123456789")); got != 0x2189 {
		t.Fatalf("CRC16(123456789) = %04X, want 2189", got)
	}
	if got := CRC16(nil); got != 0 {
		t.Fatalf("CRC16(nil) = %04X, want 0", got)
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

func TestEncodeVerifiedFrames(t *testing.T) {
	for _, tc := range verified {
		got, err := Encode(tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(got, tc.wire) {
			t.Errorf("%s: Encode = % X, want % X", tc.name, got, tc.wire)
		}
	}
}

func TestDecodeVerifiedFrames(t *testing.T) {
	for _, tc := range verified {
		var d Decoder
		d.Feed(tc.wire)
		f, err := d.Next()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if f.Cmd != tc.f.Cmd || !bytes.Equal(f.Data, tc.f.Data) {
			t.Errorf("%s: decoded %v, want %v", tc.name, f, tc.f)
		}
		if _, err := d.Next(); !errors.Is(err, ErrIncomplete) {
			t.Errorf("%s: after the frame got %v, want ErrIncomplete", tc.name, err)
		}
	}
}

// TestDecodeByteByByte feeds all verified frames one byte at a time.
func TestDecodeByteByByte(t *testing.T) {
	var stream []byte
	for _, tc := range verified {
		stream = append(stream, tc.wire...)
	}
	var d Decoder
	var got []Frame
	for _, b := range stream {
		d.Feed([]byte{b})
		for {
			f, err := d.Next()
			if errors.Is(err, ErrIncomplete) {
				break
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			got = append(got, f)
		}
	}
	if len(got) != len(verified) {
		t.Fatalf("got %d frames, want %d", len(got), len(verified))
	}
	for i, tc := range verified {
		if got[i].Cmd != tc.f.Cmd || !bytes.Equal(got[i].Data, tc.f.Data) {
			t.Errorf("frame %d = %v, want %v", i, got[i], tc.f)
		}
	}
	if d.Pending() != 0 {
		t.Errorf("pending %d", d.Pending())
	}
}

type item struct {
	f   *Frame
	err error
}

func drain(t testing.TB, d *Decoder) []item {
	var out []item
	for i := 0; ; i++ {
		if i > 100000 {
			t.Fatal("decoder does not make progress")
		}
		f, err := d.Next()
		if errors.Is(err, ErrIncomplete) {
			return out
		}
		if err != nil {
			out = append(out, item{err: err})
			continue
		}
		out = append(out, item{f: &f})
	}
}

func TestDecodeResync(t *testing.T) {
	idle := []byte{0xFC, 0x05, 0x11, 0x27, 0x56}
	badCRC := []byte{0xFC, 0x05, 0x11, 0x27, 0x57}
	cases := []struct {
		name   string
		in     []byte
		errs   []error // in order
		frames int
	}{
		{"garbage then frame", append([]byte{0x00, 0x11, 0x22}, idle...), []error{ErrSync}, 1},
		{"bad crc then frame", append(append([]byte{}, badCRC...), idle...), []error{ErrCRC, ErrSync}, 1},
		{"length too small", append([]byte{0xFC, 0x02}, idle...), []error{ErrLength, ErrSync}, 1},
		{"length zero", append([]byte{0xFC, 0x00}, idle...), []error{ErrLength, ErrSync}, 1},
	}
	for _, tc := range cases {
		var d Decoder
		d.Feed(tc.in)
		out := drain(t, &d)
		var errs []error
		frames := 0
		for _, it := range out {
			if it.err != nil {
				var de *DecodeError
				if !errors.As(it.err, &de) {
					t.Fatalf("%s: error %v is not a *DecodeError", tc.name, it.err)
				}
				errs = append(errs, de.Err)
			} else {
				frames++
			}
		}
		if frames != tc.frames || len(errs) != len(tc.errs) {
			t.Fatalf("%s: frames %d errs %v, want %d %v", tc.name, frames, errs, tc.frames, tc.errs)
		}
		for i := range errs {
			if !errors.Is(errs[i], tc.errs[i]) {
				t.Errorf("%s: error %d = %v, want %v", tc.name, i, errs[i], tc.errs[i])
			}
		}
	}

	// FC FC 05 11 27 56: the first FC claims a 252-byte frame. The decoder
	// must wait, and once the claimed frame is complete and fails its CRC,
	// still find the status frame behind the first SYNC.
	var d Decoder
	d.Feed(append([]byte{0xFC}, idle...))
	if out := drain(t, &d); len(out) != 0 {
		t.Fatalf("double sync: got %v before the claimed length arrived", out)
	}
	d.Feed(make([]byte, 0xFC)) // zeros complete the bogus frame
	out := drain(t, &d)
	if len(out) < 2 || !errors.Is(out[0].err, ErrCRC) || out[1].f == nil || out[1].f.Cmd != 0x11 {
		t.Fatalf("double sync: got %+v", out)
	}

	// A frame inside a truncated frame is found once the outer one fails.
	d = Decoder{}
	d.Feed(append([]byte{0xFC, 0x0A, 0x13}, append(idle, 0, 0)...))
	out = drain(t, &d)
	found := false
	for _, it := range out {
		if it.f != nil && it.f.Cmd == 0x11 {
			found = true
		}
	}
	if !found {
		t.Fatalf("hidden frame not found: %+v", out)
	}
}

func TestEncodeTooLong(t *testing.T) {
	if _, err := Encode(Frame{Cmd: 0x88, Data: make([]byte, MaxDataLen)}); err != nil {
		t.Fatalf("max length rejected: %v", err)
	}
	if _, err := Encode(Frame{Cmd: 0x88, Data: make([]byte, MaxDataLen+1)}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("too long: got %v, want ErrTooLong", err)
	}
	b, _ := Encode(Frame{Cmd: 0x88, Data: make([]byte, MaxDataLen)})
	if len(b) != 255 || b[1] != 255 {
		t.Fatalf("max frame: len %d LNG %d", len(b), b[1])
	}
}

func TestNames(t *testing.T) {
	for c := range 256 {
		if Command(c).String() == "" || Status(c).String() == "" || RejectReason(c).String() == "" || Failure(c).String() == "" {
			t.Fatalf("empty name for %02X", c)
		}
	}
	named := map[string]string{
		CmdStatusRequest.String(): "status request", CmdReset.String(): "reset", CmdStack1.String(): "stack-1",
		CmdSetInhibit.String(): "set inhibit", CmdGetCurrencyTable.String(): "get currency table",
		StatusEscrow.String(): "escrow", StatusVendValid.String(): "vend valid", StatusInitialize.String(): "initialize",
		StatusPowerUpBillStacker.String(): "power up with bill in stacker", StatusInvalidCommand.String(): "invalid command",
		RejectInhibit.String(): "inhibited (DIP switch or command)", FailHeadRemoved.String(): "validator head removed",
		Command(0x99).String(): "command 99", Status(0x99).String(): "status 99",
	}
	for got, want := range named {
		if got != want {
			t.Errorf("name %q, want %q", got, want)
		}
	}
	for _, s := range []Status{0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B} {
		if !s.Known() || s.String() == "status "+hex2(byte(s)) {
			t.Errorf("status %02X has no name or is not known", byte(s))
		}
	}
	for r := RejectReason(0x71); r <= 0x7E; r++ {
		if r == 0x7A {
			continue // not defined
		}
		if r.String() == "unknown reject reason "+hex2(byte(r)) {
			t.Errorf("reject %02X has no text", byte(r))
		}
	}
	for _, f := range []Failure{0xA2, 0xA5, 0xA6, 0xA7, 0xAB, 0xAC, 0xAD, 0xAF, 0xB0, 0xB1, 0xB2, 0xB3} {
		if f.String() == "unknown failure "+hex2(byte(f)) {
			t.Errorf("failure %02X has no text", byte(f))
		}
	}
	for _, c := range []Command{0x11, 0x50, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x88, 0x89, 0x8A} {
		if c.String() == "command "+hex2(byte(c)) {
			t.Errorf("command %02X has no name", byte(c))
		}
	}
}

func hex2(b byte) string {
	const h = "0123456789ABCDEF"
	return string([]byte{h[b>>4], h[b&15]})
}

func TestSettingDataLen(t *testing.T) {
	want := map[Command]int{0xC0: 2, 0xC1: 2, 0xC2: 1, 0xC3: 1, 0xC4: 1, 0xC5: 2, 0x80: 2, 0x83: 1, 0x85: 2, 0x11: 0, 0x88: 0, 0x8A: 0}
	for c, n := range want {
		if got := SettingDataLen(c); got != n {
			t.Errorf("SettingDataLen(%02X) = %d, want %d", byte(c), got, n)
		}
	}
	if !CmdSetInhibit.IsSetting() || CmdGetInhibit.IsSetting() || CmdStatusRequest.IsSetting() {
		t.Error("IsSetting")
	}
}

func TestDenomMask(t *testing.T) {
	cases := []struct {
		enabled []byte
		want    [2]byte
	}{
		{nil, [2]byte{0xFF, 0xFF}},
		{[]byte{0x61, 0x62, 0x63, 0x64, 0x65, 0x66}, [2]byte{0xC0, 0xFF}},
		{[]byte{0x63}, [2]byte{0xFB, 0xFF}}, // 10 yuan only
		{[]byte{0x69, 0x70}, [2]byte{0xFF, 0x7E}},
		{[]byte{0x10, 0x71, 0xFF}, [2]byte{0xFF, 0xFF}}, // out of range ignored
	}
	for _, tc := range cases {
		if got := DenomMask(tc.enabled); got != tc.want {
			t.Errorf("DenomMask(% X) = % X, want % X", tc.enabled, got, tc.want)
		}
		m := DenomMask(tc.enabled)
		for c := 0x61; c <= 0x70; c++ {
			want := bytes.IndexByte(tc.enabled, byte(c)) >= 0
			if got := DenomEnabled(m[:], byte(c)); got != want {
				t.Errorf("DenomEnabled(% X, %02X) = %v, want %v", m, c, got, want)
			}
		}
	}
	if DenomEnabled([]byte{0x00, 0x00}, 0x60) || DenomEnabled([]byte{0, 0}, 0x71) {
		t.Error("out-of-range code enabled")
	}
	if !DenomEnabled([]byte{0xFF}, 0x69) || DenomEnabled([]byte{0xFF}, 0x61) {
		t.Error("short mask")
	}
}

func TestInhibit(t *testing.T) {
	on, err := ParseInhibit(InhibitData(true))
	if err != nil || !on {
		t.Fatalf("inhibit round trip: %v %v", on, err)
	}
	off, err := ParseInhibit(InhibitData(false))
	if err != nil || off {
		t.Fatalf("enable round trip: %v %v", off, err)
	}
	for _, bad := range [][]byte{nil, {0x02}, {0, 0}} {
		if _, err := ParseInhibit(bad); !errors.Is(err, ErrData) {
			t.Errorf("ParseInhibit(% X) = %v, want ErrData", bad, err)
		}
	}
	// The verified C3 frames carry exactly these data bytes.
	b, _ := Encode(Frame{Cmd: byte(CmdSetInhibit), Data: InhibitData(false)})
	if !bytes.Equal(b, []byte{0xFC, 0x06, 0xC3, 0x00, 0x04, 0xD6}) {
		t.Errorf("C3 00 = % X", b)
	}
}

func TestCurrencyTable(t *testing.T) {
	// The CNY layout the simulator serves: code, country 2D, base, exponent.
	data := []byte{
		0x61, 0x2D, 1, 0,
		0x62, 0x2D, 5, 0,
		0x63, 0x2D, 1, 1,
		0x64, 0x2D, 2, 1,
		0x65, 0x2D, 5, 1,
		0x66, 0x2D, 1, 2,
		0x67, 0x00, 0, 0, // empty slot
	}
	tab, err := ParseCurrencyTable(data)
	if err != nil {
		t.Fatal(err)
	}
	wantFen := []int64{100, 500, 1000, 2000, 5000, 10000}
	for i, w := range wantFen {
		e := tab[i]
		if e.Code != byte(0x61+i) || e.Country != CountryCNY {
			t.Errorf("entry %d = %+v", i, e)
		}
		if fen, ok := e.Fen(); !ok || fen != w {
			t.Errorf("entry %d fen = %d %v, want %d", i, fen, ok, w)
		}
	}
	if _, ok := tab[6].Fen(); ok {
		t.Error("empty slot has a value")
	}
	if !bytes.Equal(EncodeCurrencyTable(tab), data) {
		t.Error("EncodeCurrencyTable does not round-trip")
	}
	if _, err := ParseCurrencyTable(data[:5]); !errors.Is(err, ErrData) {
		t.Errorf("odd length: %v", err)
	}
	if _, ok := (CurrencyEntry{Base: 1, Exponent: 200}).Units(); ok {
		t.Error("absurd exponent accepted")
	}
	for _, units := range []int64{1, 5, 10, 20, 50, 100, 200, 1000, 250} {
		e, err := CurrencyEntryFor(0x61, CountryCNY, units)
		if err != nil {
			t.Fatal(err)
		}
		if u, ok := e.Units(); !ok || u != units {
			t.Errorf("CurrencyEntryFor(%d) = %+v → %d", units, e, u)
		}
	}
	if _, err := CurrencyEntryFor(0x61, CountryCNY, 257); err == nil {
		t.Error("257 fits no base")
	}
	if _, err := CurrencyEntryFor(0x61, CountryCNY, 0); err == nil {
		t.Error("0 accepted")
	}
}

func TestAppendFrameReusesBuffer(t *testing.T) {
	buf := make([]byte, 0, 16)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = AppendFrame(buf[:0], Frame{Cmd: 0x11})
	})
	if allocs != 0 {
		t.Errorf("AppendFrame allocates %v times", allocs)
	}
}
