package codec

import (
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestBuilderBytes(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *Builder)
		want  string
	}{
		{"init", func(b *Builder) { b.Init() }, "1b40"},
		{"align center", func(b *Builder) { b.Align(AlignCenter) }, "1b6101"},
		{"align right", func(b *Builder) { b.Align(AlignRight) }, "1b6102"},
		{"bold on off", func(b *Builder) { b.Bold(true).Bold(false) }, "1b4501 1b4500"},
		{"underline", func(b *Builder) { b.Underline(1) }, "1b2d01"},
		{"size 2x2", func(b *Builder) { b.Size(2, 2) }, "1d2111"},
		{"size 1x2", func(b *Builder) { b.Size(1, 2) }, "1d2101"},
		{"size 3x1", func(b *Builder) { b.Size(3, 1) }, "1d2120"},
		{"size 8x8", func(b *Builder) { b.Size(8, 8) }, "1d2177"},
		{"feed 3", func(b *Builder) { b.Feed(3) }, "1b6403"},
		{"ascii line", func(b *Builder) { b.Line("AB") }, "41 42 0a"},
		// GB18030 of 金额 = bd f0 b6 ee (brief §8), inside FS & … FS .
		{"chinese", func(b *Builder) { b.Text("金额") }, "1c26 bdf0b6ee 1c2e"},
		{"mixed", func(b *Builder) { b.Text("金额 20.00 元") },
			"1c26 bdf0b6ee 1c2e 20 32302e3030 20 1c26 d4aa 1c2e"},
		{"newline closes kanji", func(b *Builder) { b.Text("元\n") }, "1c26 d4aa 1c2e 0a"},
		{"yen becomes fullwidth yen", func(b *Builder) { b.Text("¥5") }, "1c26 a3a4 1c2e 35"},
		{"emoji becomes ?", func(b *Builder) { b.Text("a😀") }, "61 3f"},
		{"control becomes ?", func(b *Builder) { b.Text("a\x1bb") }, "61 3f 62"},
		{"cr dropped", func(b *Builder) { b.Text("a\r\n") }, "61 0a"},
		// Brief §2.2: store "ABC" = 1D 28 6B 06 00 31 50 30 41 42 43.
		{"qr native", func(b *Builder) { b.QR("ABC", 6, QRLevelM) },
			"1d286b0400 3141 3200" + "1d286b0300 3143 06" + "1d286b0300 3145 31" +
				"1d286b0600 3150 30 414243" + "1d286b0300 3151 30"},
		{"qr after text starts a line", func(b *Builder) { b.Text("x").QR("ABC", 3, QRLevelL) },
			"78 0a 1d286b0400314132 00 1d286b03003143 03 1d286b03003145 30 1d286b0600315030414243 1d286b0300315130"},
		{"cut default at line start", func(b *Builder) { b.Cut() }, "1d564200"},
		{"cut ends the line first", func(b *Builder) { b.Text("A").Cut() }, "41 0a 1d564200"},
		{"cut after line", func(b *Builder) { b.Line("A").Cut() }, "41 0a 1d564200"},
		{"cut partial", func(b *Builder) { b.SetCut(CutCommand{M: 1}).Cut() }, "1d5601"},
		{"cut feed full", func(b *Builder) { b.SetCut(CutCommand{M: 65, N: 3}).Cut() }, "1d564103"},
		{"raw", func(b *Builder) { b.Raw([]byte{0x1d, 0x61, 0x0f}) }, "1d610f"},
		{"image 10x2", func(b *Builder) {
			r := NewRaster(10, 2)
			r.Set(0, 0, true)
			r.Set(9, 1, true)
			b.Image(r)
		}, "1d7630 00 0200 0200 80000040"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder(Paper58)
			tt.build(b)
			got, err := b.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("got  % x\nwant % x", got, want)
			}
		})
	}
}

func TestBuilderErrors(t *testing.T) {
	tests := []struct {
		name  string
		paper PaperWidth
		build func(b *Builder)
		want  string
	}{
		{"paper", 57, func(b *Builder) { b.Init() }, "paper 57"},
		{"size 0", Paper58, func(b *Builder) { b.Size(0, 1) }, "size 0x1"},
		{"size 9", Paper58, func(b *Builder) { b.Size(1, 9) }, "size 1x9"},
		{"feed", Paper58, func(b *Builder) { b.Feed(256) }, "feed 256"},
		{"underline", Paper58, func(b *Builder) { b.Underline(3) }, "underline 3"},
		{"align", Paper58, func(b *Builder) { b.Align(7) }, "align 7"},
		{"qr empty", Paper58, func(b *Builder) { b.QR("", 3, QRLevelM) }, "empty payload"},
		{"qr module", Paper58, func(b *Builder) { b.QR("x", 17, QRLevelM) }, "module size 17"},
		{"qr level", Paper58, func(b *Builder) { b.QR("x", 3, 47) }, "error correction 47"},
		{"qr too long", Paper58, func(b *Builder) { b.QR(strings.Repeat("x", MaxQRPayload+1), 3, QRLevelM) }, "payload 7090"},
		{"qr raster too wide", Paper58, func(b *Builder) { b.QRRaster("https://example.com/", 16) }, "dots wide"},
		{"qr raster scale", Paper58, func(b *Builder) { b.QRRaster("x", 0) }, "scale 0"},
		{"cut", Paper58, func(b *Builder) { b.SetCut(CutCommand{M: 5}) }, "cut m=5"},
		{"image data", Paper58, func(b *Builder) { b.Image(Raster{WidthBytes: 2, Height: 2, Data: []byte{1}}) }, "raster data"},
		{"empty", Paper58, func(b *Builder) {}, "empty"},
		{"first error wins", Paper58, func(b *Builder) { b.Size(0, 0).Feed(300).Line("x") }, "size 0x0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder(tt.paper)
			tt.build(b)
			_, err := b.Bytes()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestSubstitutions(t *testing.T) {
	b := NewBuilder(Paper80).Text("¥😀a")
	job, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	// 1c 26 a3 a4 1c 2e 3f 61
	want := []Substitution{{Rune: '¥', With: '￥', Offset: 2}, {Rune: '😀', With: '?', Offset: 6}}
	if got := b.Substitutions(); !reflect.DeepEqual(got, want) {
		t.Fatalf("substitutions %+v, want %+v (job % x)", got, want, job)
	}
	if got := Unprintable("金额¥😀\x07 ok\n"); !reflect.DeepEqual(got, []rune{'¥', '😀', '\x07'}) {
		t.Errorf("Unprintable = %q", got)
	}
	if got := Unprintable("收款 20.00 元 ￥"); got != nil {
		t.Errorf("Unprintable of plain text = %q", got)
	}
}

func TestColumns(t *testing.T) {
	for s, want := range map[string]int{
		"":        0,
		"abc":     3,
		"金额":      4,
		"20.00 元": 8,
		"¥":       2, // printed as ￥
		"😀":       1, // printed as ?
		"a\n":     1,
		"１２":      4, // full-width digits are 2-byte glyphs
		"通办终端 OK": 11,
	} {
		if got := Columns(s); got != want {
			t.Errorf("Columns(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestTwoColumn(t *testing.T) {
	got := TwoColumn(32, "金额", "20.00 元", '.')
	want := "金额 " + strings.Repeat(".", 18) + " 20.00 元"
	if got != want || Columns(got) != 32 {
		t.Errorf("got %q (%d cols), want %q", got, Columns(got), want)
	}
	if got := TwoColumn(12, "金额", "20.00", '.'); got != "金额 . 20.00" {
		t.Errorf("tight: %q", got)
	}
	if got := TwoColumn(10, "金额", "20.00", '.'); got != "金额 20.00" {
		t.Errorf("no room for dots: %q", got)
	}
	if got := TwoColumn(10, "收款单位名称", "20.00", '.'); got != "收款单位名称\n     20.00" {
		t.Errorf("overflow: %q", got)
	}
	if got := TwoColumn(10, "a", "b", 0); got != "a        b" {
		t.Errorf("default fill: %q", got)
	}

	// The builder uses the paper's columns divided by the width multiplier.
	job, err := NewBuilder(Paper58).Size(2, 1).TwoColumn("A", "B").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if want := "\x1d!\x10A " + strings.Repeat(".", 12) + " B\n"; string(job) != want {
		t.Errorf("builder two-column: %q, want %q", job, want)
	}
}
