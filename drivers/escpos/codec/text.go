package codec

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// PaperWidth is a paper profile, named by the roll width in millimetres.
// Only Paper58 and Paper80 are valid.
type PaperWidth int

const (
	Paper58 PaperWidth = 58 // 384 dots at 203 dpi, 32 columns of Font A (12×24)
	Paper80 PaperWidth = 80 // 576 dots at 203 dpi, 48 columns of Font A
)

// Valid reports whether p is a known profile.
func (p PaperWidth) Valid() bool { return p == Paper58 || p == Paper80 }

// Dots is the printable width in dots (0 for an unknown profile).
func (p PaperWidth) Dots() int {
	switch p {
	case Paper58:
		return 384
	case Paper80:
		return 576
	}
	return 0
}

// Columns is the number of half-width (ASCII) characters per line at
// normal size; a Chinese glyph takes two.
func (p PaperWidth) Columns() int {
	switch p {
	case Paper58:
		return 32
	case Paper80:
		return 48
	}
	return 0
}

func (p PaperWidth) String() string { return fmt.Sprintf("%dmm", int(p)) }

// Substitutes used for characters the printer's 2-byte font cannot print.
const (
	YenSubstitute     rune = '￥' // for '¥' U+00A5, which is a 4-byte GB18030 code
	UnknownSubstitute rune = '?' // for anything else without a 2-byte code
)

// Substitution records one character the Builder could not print as asked.
type Substitution struct {
	Rune   rune // what the caller asked for
	With   rune // what was printed instead
	Offset int  // byte offset in the job where the substitute starts
}

// Charset is the set of 2-byte codes the printer's font has glyphs for.
// Text is always sent as 2-byte GB18030 (which GBK and GB2312 are subsets
// of); the charset only decides which characters count as printable.
type Charset string

const (
	// CharsetGBK (the default): the 2-byte codes GBK defines. The few
	// characters that GB18030 added to the 2-byte area (in the former
	// user-defined codes FE50–FEA0 and A989–A995: CJK Extension A such
	// as 䶮 U+4DAE = FE 9F, CJK radicals, ideographic description
	// characters) are left out: GBK fonts have no glyph for them.
	CharsetGBK Charset = "gbk"
	// CharsetGB18030: every 2-byte GB18030 code, for printers whose font
	// covers the whole 2-byte area.
	CharsetGB18030 Charset = "gb18030"
	// CharsetGB2312: only GB2312 (6763 hanzi and its symbols), for older
	// printers; 喆, 镕 or 堃 are then rare characters too.
	CharsetGB2312 Charset = "gb2312"
)

// Valid reports whether c is a known charset ("" counts as GBK).
func (c Charset) Valid() bool {
	return c == "" || c == CharsetGBK || c == CharsetGB18030 || c == CharsetGB2312
}

// glyphs encodes single runes into what a 2-byte-only printer can print.
// An Encoder is stateless for GB18030, but it is not safe for concurrent
// use, so each Builder (and each call of the free functions) has its own.
type glyphs struct {
	charset Charset
	enc     *encoding.Encoder
	gb2312  *encoding.Encoder // HZ-GB2312, used only to test membership
	buf     [8]byte
}

func newGlyphs() *glyphs { return newGlyphsFor(CharsetGBK) }

func newGlyphsFor(c Charset) *glyphs {
	if c == "" {
		c = CharsetGBK
	}
	g := &glyphs{charset: c, enc: simplifiedchinese.GB18030.NewEncoder()}
	if c == CharsetGB2312 {
		g.gb2312 = simplifiedchinese.HZGB2312.NewEncoder()
	}
	return g
}

// gb returns the 2-byte GB18030 code of r, or false if r has none or the
// charset leaves it out.
func (g *glyphs) gb(r rune) ([2]byte, bool) {
	if r < 0x80 || (r >= 0xE000 && r <= 0xF8FF) {
		// ASCII is not a 2-byte glyph; private-use code points map to the
		// user-defined areas, which the printer's font leaves blank.
		return [2]byte{}, false
	}
	if g.charset != CharsetGB18030 && gb18030Addition(r) {
		return [2]byte{}, false
	}
	var src [4]byte
	n := utf8.EncodeRune(src[:], r)
	g.enc.Reset()
	nDst, _, err := g.enc.Transform(g.buf[:], src[:n], true)
	if err != nil || nDst != 2 {
		return [2]byte{}, false
	}
	code := [2]byte{g.buf[0], g.buf[1]}
	if g.gb2312 != nil {
		g.gb2312.Reset()
		if _, _, err := g.gb2312.Transform(g.buf[:], src[:n], true); err != nil {
			return [2]byte{}, false
		}
	}
	return code, true
}

// gb18030Addition reports whether r is one of the blocks GB18030 mapped
// into GBK's user-defined 2-byte codes: CJK Extension A, CJK Radicals
// Supplement, Ideographic Description Characters, and U+303E.
func gb18030Addition(r rune) bool {
	return r >= 0x3400 && r <= 0x4DBF || r >= 0x2E80 && r <= 0x2EFF || r >= 0x2FF0 && r <= 0x2FFF || r == 0x303E
}

// classify says how r is printed: as one ASCII byte, as a 2-byte glyph, or
// replaced by sub (which is itself ASCII or a 2-byte glyph).
func (g *glyphs) classify(r rune) (ascii byte, code [2]byte, sub rune, kind glyphKind) {
	switch {
	case r >= 0x20 && r < 0x7F:
		return byte(r), code, 0, glyphASCII
	case r < 0x80:
		return byte(UnknownSubstitute), code, UnknownSubstitute, glyphSubASCII
	case r == 0xA5:
		c, _ := g.gb(YenSubstitute)
		return 0, c, YenSubstitute, glyphSubWide
	}
	if c, ok := g.gb(r); ok {
		return 0, c, 0, glyphWide
	}
	return byte(UnknownSubstitute), code, UnknownSubstitute, glyphSubASCII
}

type glyphKind int

const (
	glyphASCII glyphKind = iota
	glyphWide
	glyphSubASCII // replaced by '?'
	glyphSubWide  // replaced by a 2-byte glyph
)

// Columns is how many half-width columns s takes when printed at normal
// size: 1 for ASCII, 2 for a Chinese (2-byte) glyph, and the width of the
// substitute for anything replaced. '\n' and '\r' take none.
func Columns(s string) int {
	g := newGlyphs()
	n := 0
	for _, r := range s {
		n += g.columns(r)
	}
	return n
}

func (g *glyphs) columns(r rune) int {
	if r == '\n' || r == '\r' {
		return 0
	}
	_, _, _, k := g.classify(r)
	if k == glyphWide || k == glyphSubWide {
		return 2
	}
	return 1
}

// Unprintable lists the runes of s that the Builder would replace. It is
// the hook for a raster fallback (see the package documentation).
func Unprintable(s string) []rune {
	g := newGlyphs()
	var out []rune
	for _, r := range s {
		if r == '\n' || r == '\r' {
			continue
		}
		if _, _, _, k := g.classify(r); k == glyphSubASCII || k == glyphSubWide {
			out = append(out, r)
		}
	}
	return out
}

// TwoColumn lays out left and right on one line of cols columns, with a
// run of fill characters between them ("金额 ...... 20.00 元"), counting a
// Chinese glyph as two columns. If there is no room for at least one fill
// between two spaces it uses a single space; if even that does not fit, it
// puts left on its own line and right-aligns right on the next one, so
// nothing is cut off. The result has no trailing newline.
func TwoColumn(cols int, left, right string, fill rune) string {
	return twoColumn(cols, left, right, fill, Columns)
}

// twoColumn is TwoColumn with the column count of a builder that may draw
// some characters from a font.
func twoColumn(cols int, left, right string, fill rune, columns func(string) int) string {
	if fill == 0 || fill < 0x20 || fill >= 0x7F {
		fill = ' ' // a fill must be one column wide and printable as ASCII
	}
	lw, rw := columns(left), columns(right)
	switch gap := cols - lw - rw; {
	case gap >= 3 && fill != ' ':
		return left + " " + strings.Repeat(string(fill), gap-2) + " " + right
	case gap >= 1:
		return left + strings.Repeat(" ", gap) + right
	}
	pad := cols - rw
	if pad < 0 {
		pad = 0
	}
	return left + "\n" + strings.Repeat(" ", pad) + right
}
