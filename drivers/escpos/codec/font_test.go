package codec

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
)

// System fonts the tests look for; the first is what `make test` installs
// (.ci/install-deps: fonts-wqy-microhei). WenQuanYi has no 䶮 (U+4DAE);
// Droid Sans Fallback (fonts-droid-fallback) and Noto Sans CJK have it.
const (
	wqyPath   = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
	notoPath  = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
	droidPath = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"
)

// needFont reports a missing font: a failure in CI, where the font is
// installed on purpose, a skip elsewhere.
func needFont(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true, so this is a failure, not a skip)", why)
	}
	t.Skip(why)
}

func loadFontFile(t testing.TB, path string) *Font {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		needFont(t, "font missing: "+err.Error())
	}
	f, err := ParseFont(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

// fontWith chains every installed system font and fails (in CI) or skips
// unless one of them draws all of runes.
func fontWith(t testing.TB, runes string, pkg string) *Font {
	t.Helper()
	var fonts []*Font
	for _, p := range []string{wqyPath, notoPath, droidPath} {
		if data, err := os.ReadFile(p); err == nil {
			f, err := ParseFont(data)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			fonts = append(fonts, f)
		}
	}
	f := JoinFonts(fonts...)
	for _, r := range runes {
		if !f.Has(r) {
			needFont(t, "no installed font draws "+string(r)+": apt-get install "+pkg)
		}
	}
	return f
}

func goFont(t testing.TB) *Font {
	t.Helper()
	f, err := ParseFont(goregular.TTF)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// misalignedTTC wraps a single font in a one-face collection whose tables
// start at odd offsets, as in WenQuanYi's .ttc files.
func misalignedTTC(t testing.TB, ttf []byte) []byte {
	t.Helper()
	be := binary.BigEndian
	n := int(be.Uint16(ttf[4:]))
	const dirAt = 16
	out := make([]byte, dirAt+12+16*n)
	copy(out, "ttcf")
	be.PutUint32(out[4:], 0x00010000)
	be.PutUint32(out[8:], 1)
	be.PutUint32(out[12:], dirAt)
	copy(out[dirAt:], ttf[:12])
	for i := range n {
		rec := ttf[12+16*i:]
		o, l := be.Uint32(rec[8:]), be.Uint32(rec[12:])
		out = append(out, 0xAA) // knock the table off its 4-byte boundary
		if len(out)%4 == 0 {
			out = append(out, 0xAA)
		}
		dst := out[dirAt+12+16*i:]
		copy(dst, rec[:8])
		be.PutUint32(dst[8:], uint32(len(out)))
		be.PutUint32(dst[12:], l)
		out = append(out, ttf[o:o+l]...)
	}
	return out
}

func TestParseFontRealignsTables(t *testing.T) {
	ttc := misalignedTTC(t, goregular.TTF)
	c, err := sfnt.ParseCollection(ttc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Font(0); err == nil {
		t.Fatal("sfnt accepted misaligned tables; the test no longer covers the realigning path")
	}
	f, err := ParseFont(ttc)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Has('A') || f.Has('王') || f.String() != "Go Regular" {
		t.Errorf("font %v: Has(A)=%v Has(王)=%v", f, f.Has('A'), f.Has('王'))
	}
	// The realigned face draws the same as the original.
	want := drawOne(t, goFont(t), 'g')
	if got := drawOne(t, f, 'g'); string(got.Data) != string(want.Data) || blank(want) {
		t.Error("realigned font draws differently")
	}
}

func drawOne(t testing.TB, f *Font, r rune) Raster {
	t.Helper()
	p := &painter{font: f}
	return p.drawLine([]cell{{r: r, st: defaultStyle(), w: CellWidthNarrow, h: CellHeight}}, 384)
}

func blank(r Raster) bool { return inked(r, 0, 0, r.Width(), r.Height) == 0 }

// inked counts black dots in the rectangle [x0,x1)×[y0,y1).
func inked(r Raster, x0, y0, x1, y1 int) int {
	n := 0
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			if r.At(x, y) {
				n++
			}
		}
	}
	return n
}

func TestParseFontErrors(t *testing.T) {
	truncated := misalignedTTC(t, goregular.TTF)[:400]
	for name, data := range map[string][]byte{
		"empty":        nil,
		"garbage":      []byte("this is not a font at all, not even close"),
		"truncated":    truncated,
		"ttc no faces": {'t', 't', 'c', 'f', 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		if _, err := ParseFont(data); !errors.Is(err, ErrFont) {
			t.Errorf("%s: err = %v, want ErrFont", name, err)
		}
	}
}

func TestJoinFonts(t *testing.T) {
	if JoinFonts(nil, nil) != nil {
		t.Error("join of nothing is not nil")
	}
	var none *Font
	if none.Has('a') || none.String() != "no font" {
		t.Error("nil font")
	}
	g := goFont(t)
	if j := JoinFonts(nil, g, g); j.String() != "Go Regular + Go Regular" || !j.Has('x') {
		t.Errorf("join %v", j)
	}
}

// The system font the CI installs parses (its .ttc needs realigning) and
// has the glyphs a receipt needs.
func TestSystemFontWQY(t *testing.T) {
	f := loadFontFile(t, wqyPath)
	if !strings.Contains(f.String(), "WenQuanYi") {
		t.Errorf("face %q", f)
	}
	for _, r := range "王喆镕堃䶵A?" {
		if !f.Has(r) {
			t.Errorf("WenQuanYi lacks %c", r)
		}
	}
}

// tinyFont is a minimal TrueType font with two glyphs, '?' and 'ø', each a
// box: a seed small enough for the fuzzer to mutate quickly (a real font's
// hundred kilobytes slow it to a few runs a second).
func tinyFont() []byte {
	be := binary.BigEndian
	u16 := func(v ...int) []byte {
		out := make([]byte, 2*len(v))
		for i, x := range v {
			be.PutUint16(out[2*i:], uint16(x))
		}
		return out
	}
	box := func(x0, y0, x1, y1 int) []byte {
		g := u16(1, x0, y0, x1, y1, 3, 0)          // 1 contour, bounds, end point 3, no instructions
		g = append(g, 1, 1, 1, 1)                  // 4 on-curve points, 16-bit deltas
		g = append(g, u16(x0, x1-x0, 0, x0-x1)...) // x deltas
		g = append(g, u16(y0, 0, y1-y0, 0)...)     // y deltas
		if len(g)%2 != 0 {
			g = append(g, 0)
		}
		return g
	}
	g1, g2 := box(100, 0, 400, 700), box(50, -100, 450, 500)
	head := make([]byte, 54)
	be.PutUint32(head, 0x00010000)
	be.PutUint32(head[12:], 0x5F0F3CF5)
	be.PutUint16(head[18:], 1000) // units per em
	copy(head[36:], u16(0, -100, 450, 700))
	hhea := make([]byte, 36)
	be.PutUint32(hhea, 0x00010000)
	copy(hhea[4:], u16(880, -120, 0))
	be.PutUint16(hhea[34:], 3)
	maxp := make([]byte, 32)
	be.PutUint32(maxp, 0x00010000)
	be.PutUint16(maxp[4:], 3)
	// cmap format 4: '?' → 1, 'ø' → 2, and the 0xFFFF end segment.
	sub := u16(4, 0, 0, 6, 4, 1, 2, '?', 0xF8, 0xFFFF, 0, '?', 0xF8, 0xFFFF, 1-'?', 2-0xF8, 1, 0, 0, 0)
	be.PutUint16(sub[2:], uint16(len(sub)))
	cmap := append(u16(0, 1, 3, 1, 0, 12), sub...)
	loca := u16(0, 0, len(g1)/2, (len(g1)+len(g2))/2)
	hmtx := u16(500, 0, 500, 100, 500, 50)
	post := make([]byte, 32)
	be.PutUint32(post, 0x00030000)
	tables := []struct {
		tag  string
		data []byte
	}{{"cmap", cmap}, {"glyf", append(g1, g2...)}, {"head", head}, {"hhea", hhea}, {"hmtx", hmtx}, {"loca", loca}, {"maxp", maxp}, {"post", post}}
	out := make([]byte, 12+16*len(tables))
	be.PutUint32(out, 0x00010000)
	be.PutUint16(out[4:], uint16(len(tables)))
	for i, t := range tables {
		rec := out[12+16*i:]
		copy(rec, t.tag)
		be.PutUint32(rec[8:], uint32(len(out)))
		be.PutUint32(rec[12:], uint32(len(t.data)))
		out = append(out, t.data...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	return out
}

func TestTinyFont(t *testing.T) {
	for _, data := range [][]byte{tinyFont(), misalignedTTC(t, tinyFont())} {
		f, err := ParseFont(data)
		if err != nil {
			t.Fatal(err)
		}
		if !f.Has('ø') || !f.Has('?') || f.Has('a') {
			t.Fatal("cmap wrong")
		}
		if img := drawOne(t, f, 'ø'); inked(img, 0, 0, 12, 24) < 50 {
			t.Errorf("box glyph drew %d dots", inked(img, 0, 0, 12, 24))
		}
	}
}
