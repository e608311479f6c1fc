package codec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// requests lists every host frame marked ✔ in protocols.md §1.3 and §6.3,
// byte for byte.
var requests = []struct {
	name string
	req  Request
	wire string
}{
	{"SAM reset", Request{Op: OpReset}, "AA AA AA 96 69 00 03 10 FF EC"},
	{"SAM status", Request{Op: OpSAMStatus}, "AA AA AA 96 69 00 03 11 FF ED"},
	{"SAM id", Request{Op: OpSAMID}, "AA AA AA 96 69 00 03 12 FF EE"},
	{"find card", Request{Op: OpFindCard}, "AA AA AA 96 69 00 03 20 01 22"},
	{"select card", Request{Op: OpSelectCard}, "AA AA AA 96 69 00 03 20 02 21"},
	{"read text+photo", Request{Op: OpReadText}, "AA AA AA 96 69 00 03 30 01 32"},
	{"read appended address", Request{Op: OpReadAppended}, "AA AA AA 96 69 00 03 30 03 30"},
	{"read with fingerprint", Request{Op: OpReadFingerprint}, "AA AA AA 96 69 00 03 30 10 23"},
	{"read MID (30 05, listed, reply undocumented)", Request{Op: MakeOp(0x30, 0x05)}, "AA AA AA 96 69 00 03 30 05 36"},
	{"set max RF byte", Request{Op: OpSetMaxRFByte, Data: []byte{DefaultMaxRFByte}}, "AA AA AA 96 69 00 04 61 FF 50 CA"},
}

// replies lists every SAM frame marked ✔ in §1.3 and §6.3.
var replies = []struct {
	name string
	rep  Reply
	wire string
	err  error
}{
	{"card found", Reply{Status: StatusCardFound, Data: []byte{0, 0, 0, 0}}, "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97", nil},
	{"no card", Reply{Status: StatusNoCard}, "AA AA AA 96 69 00 04 00 00 80 84", ErrNoCard},
	{"select ok", Reply{Status: StatusSuccess, Data: make([]byte, 8)}, "AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C", nil},
	{"select fail", Reply{Status: StatusSelectFailed}, "AA AA AA 96 69 00 04 00 00 81 85", ErrSelectFailed},
	{"read fail", Reply{Status: StatusReadFailed}, "AA AA AA 96 69 00 04 00 00 41 45", ErrReadFailed},
}

func TestRequestVectors(t *testing.T) {
	for _, tc := range requests {
		want := hexBytes(t, tc.wire)
		got, err := tc.req.Encode()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: Encode = % X, %v; want % X", tc.name, got, err, want)
		}
		var d Decoder
		d.Feed(want)
		f, err := d.Next()
		if err != nil {
			t.Fatalf("%s: decode: %v", tc.name, err)
		}
		r, err := f.Request()
		if err != nil || r.Op != tc.req.Op || !bytes.Equal(r.Data, tc.req.Data) {
			t.Errorf("%s: decoded %v, %v; want %v", tc.name, r, err, tc.req)
		}
		if n := tc.req.Op.DataLen(); n >= 0 && n != len(tc.req.Data) {
			t.Errorf("%s: DataLen %d, frame has %d", tc.name, n, len(tc.req.Data))
		}
		if len(want) != int(want[5])<<8|int(want[6])+HeaderLen {
			t.Errorf("%s: total length is not LEN+7", tc.name)
		}
	}
}

func TestReplyVectors(t *testing.T) {
	for _, tc := range replies {
		want := hexBytes(t, tc.wire)
		got, err := tc.rep.Encode()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: Encode = % X, %v; want % X", tc.name, got, err, want)
		}
		var d Decoder
		d.Feed(want)
		f, err := d.Next()
		if err != nil {
			t.Fatalf("%s: decode: %v", tc.name, err)
		}
		r, err := f.Reply()
		if err != nil || r.Status != tc.rep.Status || !bytes.Equal(r.Data, tc.rep.Data) || r.SW1 != 0 || r.SW2 != 0 {
			t.Errorf("%s: decoded %v, %v; want %v", tc.name, r, err, tc.rep)
		}
		if tc.err == nil {
			if r.Err() != nil {
				t.Errorf("%s: Err() = %v, want nil", tc.name, r.Err())
			}
		} else if !errors.Is(r.Err(), tc.err) {
			t.Errorf("%s: Err() = %v, want %v", tc.name, r.Err(), tc.err)
		}
	}
}

// The brief warns of a public snippet with a wrong checksum (21, not 22).
func TestWrongPublishedChecksum(t *testing.T) {
	var d Decoder
	d.Feed(hexBytes(t, "AA AA AA 96 69 00 03 20 01 21"))
	_, err := d.Next()
	var de *DecodeError
	if !errors.As(err, &de) || !errors.Is(err, ErrChecksum) || de.Got != 0x21 || de.Want != 0x22 {
		t.Fatalf("got %v, want checksum 21 vs 22", err)
	}
}

// TestSyntheticReadReply rebuilds the 1295-byte 30 01 reply of §6.3: text
// 张三 / ID 11010119900101001X, zero photo. The header is checked byte for
// byte. The brief prints checksum A2 but does not give the other 236 text
// bytes, and an 8-bit XOR cannot pin them down; with every other text unit
// a space (or NUL) the checksum is C8, which an independent python3 XOR
// of the same bytes also gives. See the report.
func TestSyntheticReadReply(t *testing.T) {
	text, err := EncodeText(Text{Type: TypeResident, Name: "张三", IDNumber: "11010119900101001X"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := EncodeReadData(Card{Text: Text{Type: TypeResident, Name: "张三", IDNumber: "11010119900101001X"}, Photo: make([]byte, PhotoLen)}, false)
	if err != nil {
		t.Fatal(err)
	}
	wire, err := Reply{Status: StatusSuccess, Data: data}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(wire) != 1295 || OpReadText.ReplyLen() != 1295 {
		t.Fatalf("reply is %d bytes (ReplyLen %d), want 1295", len(wire), OpReadText.ReplyLen())
	}
	if hdr := hexBytes(t, "AA AA AA 96 69 05 08 00 00 90 01 00 04 00"); !bytes.Equal(wire[:14], hdr) {
		t.Fatalf("header % X, want % X", wire[:14], hdr)
	}
	if !bytes.Equal(wire[14:270], text) || !bytes.Equal(wire[270:1294], make([]byte, PhotoLen)) {
		t.Fatal("text or photo not at offsets 14 and 270")
	}
	if wire[1294] != 0xC8 {
		t.Fatalf("checksum %02X, want C8 (independent XOR)", wire[1294])
	}
	var d Decoder
	d.Feed(wire)
	f, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	r, _ := f.Reply()
	if !OpReadText.Expects(r) {
		t.Fatal("30 01 does not expect its own reply")
	}
	c, err := DecodeReadData(r.Data, false)
	if err != nil || c.Text.Name != "张三" || c.Text.IDNumber != "11010119900101001X" || len(c.Photo) != PhotoLen {
		t.Fatalf("decoded %#v, %v", c, err)
	}
	// The same bytes with the brief's A2 fail the checksum.
	wire[1294] = 0xA2
	d.Reset()
	d.Feed(wire)
	if _, err := d.Next(); !errors.Is(err, ErrChecksum) {
		t.Fatalf("with A2: %v, want ErrChecksum", err)
	}
}

// checksumBitwise is an independent XOR over [5 .. n-2], as §6.2 words it.
func checksumBitwise(frame []byte) byte {
	var c byte
	for i := 5; i <= len(frame)-2; i++ {
		c ^= frame[i]
	}
	return c
}

func TestChecksumRule(t *testing.T) {
	for _, tc := range requests {
		w := hexBytes(t, tc.wire)
		if checksumBitwise(w) != w[len(w)-1] || Checksum(w[5:len(w)-1]) != w[len(w)-1] {
			t.Errorf("%s: checksum rule", tc.name)
		}
	}
}

func TestOpExpects(t *testing.T) {
	found := Reply{Status: StatusCardFound, Data: make([]byte, 4)}
	sel := Reply{Status: StatusSuccess, Data: make([]byte, 8)}
	ok := Reply{Status: StatusSuccess}
	noCard := Reply{Status: StatusNoCard}
	read := Reply{Status: StatusSuccess, Data: make([]byte, 4+TextLen+PhotoLen)}
	addr := Reply{Status: StatusSuccess, Data: make([]byte, AddressLen)}
	none := Reply{Status: StatusNoContent}
	id := Reply{Status: StatusSuccess, Data: make([]byte, SAMIDLen)}
	cases := []struct {
		op   Op
		r    Reply
		want bool
	}{
		{OpFindCard, found, true}, {OpFindCard, noCard, true}, {OpFindCard, sel, false}, {OpFindCard, ok, false},
		{OpSelectCard, sel, true}, {OpSelectCard, found, false}, {OpSelectCard, read, false}, {OpSelectCard, ok, false},
		{OpReadText, read, true}, {OpReadText, sel, false}, {OpReadText, found, false}, {OpReadText, noCard, true},
		{OpReadAppended, addr, true}, {OpReadAppended, none, true}, {OpReadAppended, sel, false},
		{OpSAMStatus, ok, true}, {OpSAMStatus, sel, false}, {OpSAMStatus, found, false},
		{OpSAMID, id, true}, {OpSAMID, ok, false},
		{OpFindCard, Reply{Status: StatusNoCard, Data: []byte{1}}, false},
	}
	for _, c := range cases {
		if got := c.op.Expects(c.r); got != c.want {
			t.Errorf("%v expects %v = %v, want %v", c.op, c.r, got, c.want)
		}
	}
}

func TestStatusTable(t *testing.T) {
	// Every SW3 code of §1.4 with its sentinel and class.
	table := []struct {
		code  byte
		err   error
		class Class
		zh    string
	}{
		{0x90, nil, ClassOK, "操作成功"},
		{0x9F, nil, ClassOK, "寻找证/卡成功"},
		{0x91, ErrNoContent, ClassCard, "证/卡中此项无内容"},
		{0x10, ErrHostChecksum, ClassHost, "接收业务终端数据的校验和错"},
		{0x11, ErrHostLength, ClassHost, "接收业务终端数据的长度错"},
		{0x21, ErrHostCommand, ClassHost, "接收业务终端的命令错误"},
		{0x23, ErrUnauthorized, ClassHost, "越权操作"},
		{0x24, ErrUnrecognized, ClassHost, "无法识别的错误"},
		{0x31, ErrCardAuthSAM, ClassCard, "证/卡认证SAM失败"},
		{0x32, ErrSAMAuthCard, ClassCard, "SAM认证证/卡失败"},
		{0x33, ErrVerify, ClassCard, "信息验证错误"},
		{0x40, ErrUnknownCardType, ClassCard, "无法识别的卡类型"},
		{0x41, ErrReadFailed, ClassCard, "读证/卡操作失败"},
		{0x47, ErrRandomFailed, ClassCard, "取随机数失败"},
		{0x60, ErrSAMSelfTest, ClassSAM, "SAM自检失败，不能接收命令"},
		{0x66, ErrSAMNotAuthorised, ClassSAM, "SAM没经过授权，无法使用"},
		{0x80, ErrNoCard, ClassCard, "寻找证/卡失败"},
		{0x81, ErrSelectFailed, ClassCard, "选取证/卡失败"},
	}
	for _, tc := range table {
		s := Status(tc.code)
		if !s.Known() || s.Class() != tc.class || s.Chinese() != tc.zh || s.English() == "" || s.English() == "unknown status" {
			t.Errorf("%02X: known %v class %v zh %q en %q", tc.code, s.Known(), s.Class(), s.Chinese(), s.English())
		}
		err := (&StatusError{Op: OpReadText, Status: s})
		if tc.err == nil {
			if s.Err() != nil {
				t.Errorf("%02X: Err() = %v", tc.code, s.Err())
			}
			continue
		}
		if !errors.Is(err, tc.err) || !errors.Is(s.Err(), tc.err) {
			t.Errorf("%02X: %v does not match its sentinel", tc.code, err)
		}
		if errors.Is(err, ErrUnknownStatus) {
			t.Errorf("%02X: matches ErrUnknownStatus", tc.code)
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.zh) || !strings.Contains(msg, s.English()) || !strings.Contains(msg, "30 01") {
			t.Errorf("%02X: message %q lacks the op, English or Chinese text", tc.code, msg)
		}
		// No sentinel matches another code.
		for _, other := range table {
			if other.code != tc.code && other.err != nil && errors.Is(err, other.err) {
				t.Errorf("%02X matches the sentinel of %02X", tc.code, other.code)
			}
		}
	}
	if s := Status(0x55); s.Known() || s.Class() != ClassUnknown || !errors.Is(s.Err(), ErrUnknownStatus) {
		t.Errorf("unlisted 55: %v", s.Err())
	}
}

func TestSAMID(t *testing.T) {
	id := NewSAMID(5, 1, 20261126, 1, 42)
	if got := id.String(); got != "05.01-20261126-000000001-000000042" {
		t.Fatalf("String = %q", got)
	}
	// Frame offsets 10..25 = data 0..15: byte 0, byte 2, uint32 LE at 4, 8, 12.
	data := hexBytes(t, "05 00 01 00 06 29 35 01 01 00 00 00 2A 00 00 00")
	got, err := DecodeSAMID(data)
	if err != nil || got != id {
		t.Fatalf("DecodeSAMID = % X, %v; want % X", got, err, id)
	}
	if _, err := DecodeSAMID(data[:15]); !errors.Is(err, ErrLayout) {
		t.Fatalf("short SAM id: %v", err)
	}
}

func TestAppendedAddress(t *testing.T) {
	const addr = "北京市海淀区样例新址3号（样例）"
	b, err := EncodeAppendedAddress(addr)
	if err != nil || len(b) != AddressLen {
		t.Fatal(len(b), err)
	}
	if b[0] != 0x17 || b[1] != 0x53 || b[len(b)-2] != ' ' || b[len(b)-1] != 0 { // 北 = U+5317
		t.Fatalf("not UCS-2 LE right-padded: % X", b)
	}
	got, err := DecodeAppendedAddress(b)
	if err != nil || got != addr {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := EncodeAppendedAddress(strings.Repeat("长", 36)); !errors.Is(err, ErrText) {
		t.Fatalf("36 chars: %v", err)
	}
}

func TestReadDataLayout(t *testing.T) {
	photo := bytes.Repeat([]byte{0xA5, 0x5A}, PhotoLen/2)
	fp := bytes.Repeat([]byte{0x11}, FingerprintLen)
	c := Card{Text: Text{Type: TypeResident, Name: "张三", Gender: GenderMale}, Photo: photo, Fingerprint: fp}
	data, err := EncodeReadData(c, true)
	if err != nil {
		t.Fatal(err)
	}
	wire, _ := Reply{Status: StatusSuccess, Data: data}.Encode()
	// §1.6: LEN 09 0A, lengths at 10/12/14, text 16..271, photo 272..1295, fp 1296..2319, CHK 2320.
	if len(wire) != 2321 || OpReadFingerprint.ReplyLen() != 2321 || wire[5] != 0x09 || wire[6] != 0x0A {
		t.Fatalf("30 10 reply: %d bytes, LEN % X", len(wire), wire[5:7])
	}
	if !bytes.Equal(wire[10:16], []byte{1, 0, 4, 0, 4, 0}) || !bytes.Equal(wire[272:1296], photo) || !bytes.Equal(wire[1296:2320], fp) {
		t.Fatal("30 10 layout offsets")
	}
	if wire[16] != 0x20 || wire[17] != 0x5F { // 张 = U+5F20 at text offset 0
		t.Fatal("text not at 16")
	}
	got, err := DecodeReadData(data, true)
	if err != nil || !bytes.Equal(got.Photo, photo) || !bytes.Equal(got.Fingerprint, fp) || got.Text != c.Text {
		t.Fatalf("round trip: %v", err)
	}
	// A card without fingerprint: length 0.
	c.Fingerprint = nil
	data, _ = EncodeReadData(c, true)
	if got, err := DecodeReadData(data, true); err != nil || got.Fingerprint != nil {
		t.Fatalf("no fingerprint: %v", err)
	}
	// Inconsistent lengths are reported.
	for _, bad := range [][]byte{nil, {1, 0}, append([]byte{1, 0, 4, 0}, make([]byte, 100)...), append([]byte{0, 255, 0, 0}, make([]byte, 255)...)} {
		if _, err := DecodeReadData(bad, false); !errors.Is(err, ErrLayout) {
			t.Errorf("% X...: %v, want ErrLayout", bad[:min(len(bad), 4)], err)
		}
	}
	if _, err := EncodeReadData(Card{Text: c.Text, Fingerprint: fp}, false); !errors.Is(err, ErrLayout) {
		t.Errorf("fingerprint in 30 01: %v", err)
	}
}
