package codec

import (
	"reflect"
	"strings"
	"testing"
)

const testURL = "https://zwfw.example.gov.cn/track?case=ZB20261126-000123"

func mustParse(t *testing.T, job []byte) []Command {
	t.Helper()
	cmds, errs := Parse(job)
	if len(errs) > 0 {
		t.Fatalf("parse: %v", errs)
	}
	return cmds
}

func TestRoundTripBuilderParserRender(t *testing.T) {
	b := NewBuilder(Paper58).
		Init().
		Align(AlignCenter).Bold(true).Size(2, 2).Line("通办终端").
		Bold(false).Size(1, 1).Line("缴费凭证 RECEIPT").
		Align(AlignLeft).
		TwoColumn("金额", "20.00 元").
		Line("¥5 😀").
		Align(AlignRight).Line("right").
		Align(AlignCenter).QR(testURL, 6, QRLevelM).
		Feed(2).
		Cut()
	job, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	r := Paper58.Render(mustParse(t, job))

	want := strings.Join([]string{
		"        通办终端  «bold 2x2»", // 16 columns centred in 32
		"        缴费凭证 RECEIPT",     // 16 columns centred in 32
		"金额 " + strings.Repeat(".", 18) + " 20.00 元",
		"￥5 ?",
		"                           right",
		"[QR: " + testURL + "]",
		"", "",
		"--- cut ---",
	}, "\n") + "\n"
	if r.Text != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", r.Text, want)
	}
	if !reflect.DeepEqual(r.QRPayloads, []string{testURL}) || r.Cuts != 1 || r.Columns != 32 {
		t.Errorf("payloads %q cuts %d columns %d", r.QRPayloads, r.Cuts, r.Columns)
	}
	l := r.Lines[0]
	if l.Kind != LineText || l.Align != AlignCenter || !l.Bold || l.Width != 2 || l.Height != 2 || l.Text != "        通办终端" {
		t.Errorf("first line %+v", l)
	}
	if r.Lines[1].Bold || r.Lines[1].Width != 1 {
		t.Errorf("second line %+v", r.Lines[1])
	}
	if r.Lines[5].Kind != LineQR || r.Lines[8].Kind != LineCut {
		t.Errorf("kinds %+v", r.Lines)
	}
}

func TestRenderDetails(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"wrap", []byte(strings.Repeat("x", 40) + "\n"), strings.Repeat("x", 32) + "\n" + strings.Repeat("x", 8) + "\n"},
		{"wrap chinese at width", append(append([]byte{FS, '&'}, unhexT("d4aa", 17)...), FS, '.', LF),
			strings.Repeat("元", 16) + "\n元\n"},
		{"high byte outside kanji mode", []byte("a\xbd\xf0b\n"), "a\uFFFD\uFFFDb\n"},
		{"4-byte code shows as two bad glyphs", []byte("\x1c&\x81\x30\x84\x36\x1c.\n"), "\uFFFD\uFFFD\n"},
		{"init clears buffer", []byte("lost\x1b@kept\n"), "kept\n"},
		{"esc ! double", []byte("\x1b!\x38AB\n"), "AB  «bold 2x2»\n"},
		{"underline", []byte("\x1b-\x01u\n\x1b-\x00v\n"), "u  «underline»\nv\n"},
		{"tab", []byte("a\tb\n"), "a       b\n"},
		{"feed flushes", []byte("a\x1bd\x01"), "a\n\n"},
		{"unterminated line shown", []byte("tail"), "tail\n"},
		{"qr print without store", unhexT("1d286b0300315130", 1), "[QR: no data stored]\n"},
		{"image", append([]byte{GS, 'v', '0', 0, 1, 0, 2, 0}, 0xff, 0x81), "[image 8x2 dots]\n"},
		{"status and asb print nothing", []byte("\x10\x04\x01\x1da\x00x\n"), "x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, _ := Parse(tt.in)
			if got := Paper58.Render(cmds).Text; got != tt.want {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func unhexT(s string, times int) []byte {
	b := unhex(&testing.T{}, s)
	var out []byte
	for i := 0; i < times; i++ {
		out = append(out, b...)
	}
	return out
}

func TestRenderSplitTextAcrossCommands(t *testing.T) {
	// A streaming parser may hand over a glyph's bytes in separate Texts
	// once the stream is closed; Render joins them before decoding.
	cmds := []Command{Text{Data: []byte{0xbd}, Kanji: true}, Text{Data: []byte{0xf0, 0xb6, 0xee}, Kanji: true}, LineFeed{}}
	if got := Render(cmds).Text; got != "金额\n" {
		t.Errorf("got %q", got)
	}
}

func TestRenderIsBounded(t *testing.T) {
	var in []byte
	for i := 0; i < 1000; i++ {
		in = append(in, ESC, 'd', 255)
	}
	cmds, _ := Parse(in)
	r := Render(cmds)
	if !r.Truncated || len(r.Lines) != MaxRenderLines+1 {
		t.Fatalf("truncated %v, %d lines", r.Truncated, len(r.Lines))
	}
}
