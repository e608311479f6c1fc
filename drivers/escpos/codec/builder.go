package codec

import (
	"errors"
	"fmt"
)

// Alignment is ESC a's justification.
type Alignment byte

const (
	AlignLeft   Alignment = 0
	AlignCenter Alignment = 1
	AlignRight  Alignment = 2
)

func (a Alignment) String() string {
	switch a {
	case AlignLeft:
		return "left"
	case AlignCenter:
		return "center"
	case AlignRight:
		return "right"
	}
	return fmt.Sprintf("align(%d)", byte(a))
}

// CutCommand is the GS V form Builder.Cut sends. M is the function code
// and N the feed amount for the m = 65/66/97/98/103/104 forms. Models
// differ (TM-T88 only partial-cuts; some Chinese models swap 0 and 1), so
// the hardware profile may override the default.
type CutCommand struct {
	M, N byte
}

// DefaultCut is GS V 66 0: feed to the cutting position, then partial cut.
func DefaultCut() CutCommand { return CutCommand{M: 66, N: 0} }

// Bytes is the command's encoding, or an error for an unknown m.
func (c CutCommand) Bytes() ([]byte, error) {
	takesN, known := cutTakesN(c.M)
	if !known {
		return nil, fmt.Errorf("cut m=%d: want 0, 1, 48, 49, 65, 66, 97, 98, 103 or 104", c.M)
	}
	return CutPaper{M: c.M, N: c.N, HasN: takesN}.Bytes(), nil
}

// Maximum QR payload for GS ( k fn 80: pL+pH·256 ≤ 7092, minus cn, fn, m.
const MaxQRPayload = 7092 - 3

// Builder assembles one print job. Methods chain; the first error is kept
// and later calls do nothing, so a job is checked once, at Bytes. A Builder
// is not safe for concurrent use.
type Builder struct {
	paper     PaperWidth
	buf       []byte
	err       error
	g         *glyphs
	subs      []Substitution
	cut       CutCommand
	lineStart bool // nothing printable since the last line end
	width     int  // current GS ! width multiplier, for TwoColumn
}

// NewBuilder starts an empty job for the paper profile.
func NewBuilder(p PaperWidth) *Builder {
	b := &Builder{paper: p, g: newGlyphs(), cut: DefaultCut(), lineStart: true, width: 1}
	if !p.Valid() {
		b.err = fmt.Errorf("paper %d mm: want 58 or 80", int(p))
	}
	return b
}

// Paper is the builder's paper profile.
func (b *Builder) Paper() PaperWidth { return b.paper }

func (b *Builder) fail(format string, args ...any) *Builder {
	if b.err == nil {
		b.err = fmt.Errorf(format, args...)
	}
	return b
}

func (b *Builder) put(p ...byte) { b.buf = append(b.buf, p...) }

// endLine makes sure the next command starts a line: cuts, raster images and
// QR symbols only work at the beginning of a line.
func (b *Builder) endLine() {
	if !b.lineStart {
		b.put(LF)
		b.lineStart = true
	}
}

// Init is ESC @. It also resets the builder's view of the print modes.
func (b *Builder) Init() *Builder {
	if b.err != nil {
		return b
	}
	b.put(ESC, '@')
	b.lineStart, b.width = true, 1
	return b
}

// Align is ESC a n.
func (b *Builder) Align(a Alignment) *Builder {
	if b.err != nil {
		return b
	}
	if a > AlignRight {
		return b.fail("align %d: want left, center or right", byte(a))
	}
	b.put(ESC, 'a', byte(a))
	return b
}

// Bold is ESC E n.
func (b *Builder) Bold(on bool) *Builder {
	if b.err != nil {
		return b
	}
	n := byte(0)
	if on {
		n = 1
	}
	b.put(ESC, 'E', n)
	return b
}

// Underline is ESC - n with n = 0 (off), 1 or 2 dots.
func (b *Builder) Underline(dots int) *Builder {
	if b.err != nil {
		return b
	}
	if dots < 0 || dots > 2 {
		return b.fail("underline %d dots: want 0..2", dots)
	}
	b.put(ESC, '-', byte(dots))
	return b
}

// Size is GS ! n with width and height multipliers 1..8.
func (b *Builder) Size(w, h int) *Builder {
	if b.err != nil {
		return b
	}
	if w < 1 || w > 8 || h < 1 || h > 8 {
		return b.fail("size %dx%d: multipliers must be 1..8", w, h)
	}
	b.put(GS, '!', byte((w-1)<<4|(h-1)))
	b.width = w
	return b
}

// Text writes s: ASCII as is, other characters as 2-byte GB18030 inside
// FS & … FS ., '\n' as LF. Characters without a 2-byte code are replaced
// and recorded (see the package documentation).
func (b *Builder) Text(s string) *Builder {
	if b.err != nil {
		return b
	}
	kanji := false
	setKanji := func(on bool) {
		if on != kanji {
			if on {
				b.put(FS, '&')
			} else {
				b.put(FS, '.')
			}
			kanji = on
		}
	}
	for _, r := range s {
		switch r {
		case '\n':
			setKanji(false)
			b.put(LF)
			b.lineStart = true
			continue
		case '\r':
			continue // line ends are '\n'; a stray CR carries no content
		}
		ascii, code, sub, kind := b.g.classify(r)
		switch kind {
		case glyphASCII, glyphSubASCII:
			setKanji(false)
			if kind == glyphSubASCII {
				b.subs = append(b.subs, Substitution{Rune: r, With: sub, Offset: len(b.buf)})
			}
			b.put(ascii)
		case glyphWide, glyphSubWide:
			setKanji(true)
			if kind == glyphSubWide {
				b.subs = append(b.subs, Substitution{Rune: r, With: sub, Offset: len(b.buf)})
			}
			b.put(code[0], code[1])
		}
		b.lineStart = false
	}
	setKanji(false)
	return b
}

// Line is Text(s) followed by a line feed.
func (b *Builder) Line(s string) *Builder { return b.Text(s).Text("\n") }

// Feed is ESC d n: print the buffer and feed n lines (0..255).
func (b *Builder) Feed(n int) *Builder {
	if b.err != nil {
		return b
	}
	if n < 0 || n > 255 {
		return b.fail("feed %d lines: want 0..255", n)
	}
	b.put(ESC, 'd', byte(n))
	b.lineStart = true
	return b
}

// TwoColumn writes one line with left and right aligned to the edges of the
// paper at the current character width, dots between ("金额 ...... 20.00 元").
func (b *Builder) TwoColumn(left, right string) *Builder {
	if b.err != nil {
		return b
	}
	b.endLine()
	return b.Line(TwoColumn(b.paper.Columns()/b.width, left, right, '.'))
}

// QR prints payload as a QR code (model 2) with the printer's own encoder:
// GS ( k functions 165 (model), 167 (module size 1..16 dots), 169 (error
// correction), 180 (store) and 181 (print).
func (b *Builder) QR(payload string, moduleSize int, level QRLevel) *Builder {
	if b.err != nil {
		return b
	}
	switch {
	case len(payload) == 0:
		return b.fail("qr: empty payload")
	case len(payload) > MaxQRPayload:
		return b.fail("qr: payload %d bytes: at most %d", len(payload), MaxQRPayload)
	case moduleSize < 1 || moduleSize > 16:
		return b.fail("qr: module size %d: want 1..16", moduleSize)
	case !level.valid():
		return b.fail("qr: error correction %d: want 48..51", byte(level))
	}
	b.endLine()
	b.put(Symbol{CN: 49, FN: 65, Params: []byte{50, 0}}.Bytes()...)
	b.put(Symbol{CN: 49, FN: 67, Params: []byte{byte(moduleSize)}}.Bytes()...)
	b.put(Symbol{CN: 49, FN: 69, Params: []byte{byte(level)}}.Bytes()...)
	b.put(Symbol{CN: 49, FN: 80, Params: append([]byte{48}, payload...)}.Bytes()...)
	b.put(Symbol{CN: 49, FN: 81, Params: []byte{48}}.Bytes()...)
	return b
}

// QRRaster prints payload as a QR code drawn on the host (error correction
// M, quiet zone kept, each module moduleScale dots) and sent as a GS v 0
// image, for printers whose GS ( k is missing or broken.
func (b *Builder) QRRaster(payload string, moduleScale int) *Builder {
	if b.err != nil {
		return b
	}
	img, err := QRBitmap(payload, QRLevelM, moduleScale)
	if err != nil {
		b.err = err
		return b
	}
	return b.Image(img)
}

// Image prints r with GS v 0. Images taller than MaxRasterHeight are sent
// in bands; r must not be wider than the paper.
func (b *Builder) Image(r Raster) *Builder {
	if b.err != nil {
		return b
	}
	if r.Height > MaxRasterHeight && r.WidthBytes >= 1 && len(r.Data) == r.WidthBytes*r.Height {
		for y := 0; y < r.Height && b.err == nil; y += MaxRasterHeight {
			h := min(MaxRasterHeight, r.Height-y)
			band := Raster{Mode: r.Mode, WidthBytes: r.WidthBytes, Height: h,
				Data: r.Data[y*r.WidthBytes : (y+h)*r.WidthBytes]}
			b.Image(band)
		}
		return b
	}
	if err := r.check(); err != nil {
		return b.fail("image: %w", err)
	}
	dots := r.Width()
	if r.Mode == 1 || r.Mode == 3 || r.Mode == 49 || r.Mode == 51 {
		dots *= 2
	}
	if dots > b.paper.Dots() {
		return b.fail("image: %d dots wide, paper %s has %d", dots, b.paper, b.paper.Dots())
	}
	b.endLine()
	b.put(RasterImage{Raster: r}.Bytes()...)
	return b
}

// SetCut chooses the GS V form that Cut sends (default DefaultCut).
func (b *Builder) SetCut(c CutCommand) *Builder {
	if b.err != nil {
		return b
	}
	if _, err := c.Bytes(); err != nil {
		return b.fail("%w", err)
	}
	b.cut = c
	return b
}

// Cut ends the current line if needed (GS V only works at the start of a
// line) and sends the configured cut.
func (b *Builder) Cut() *Builder {
	if b.err != nil {
		return b
	}
	b.endLine()
	p, _ := b.cut.Bytes() // checked by SetCut
	b.put(p...)
	return b
}

// Raw appends bytes unchanged, for commands the Builder does not model.
func (b *Builder) Raw(p []byte) *Builder {
	if b.err != nil {
		return b
	}
	b.put(p...)
	if len(p) > 0 {
		b.lineStart = p[len(p)-1] == LF
	}
	return b
}

// Substitutions lists the characters that were replaced so far.
func (b *Builder) Substitutions() []Substitution {
	return append([]Substitution(nil), b.subs...)
}

// Err is the first error, if any.
func (b *Builder) Err() error { return b.err }

// Bytes returns the job, or the first error met while building it.
func (b *Builder) Bytes() ([]byte, error) {
	if b.err != nil {
		return nil, fmt.Errorf("escpos job: %w", b.err)
	}
	if len(b.buf) == 0 {
		return nil, errors.New("escpos job: empty")
	}
	return append([]byte(nil), b.buf...), nil
}
