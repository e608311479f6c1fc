package codec

import (
	"errors"
	"fmt"
	"strings"
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

// QRMode says how Builder.QR prints a QR code.
type QRMode string

const (
	// QRModeNative sends the payload with GS ( k and lets the printer draw
	// the symbol. It is the default.
	QRModeNative QRMode = "native"
	// QRModeRaster draws the symbol on the host and sends it as a GS v 0
	// image, for printers whose GS ( k is missing or broken.
	QRModeRaster QRMode = "raster"
)

// Valid reports whether m is a known mode ("" counts as native).
func (m QRMode) Valid() bool { return m == "" || m == QRModeNative || m == QRModeRaster }

// Option configures a Builder.
type Option func(*Builder)

// WithFont gives the Builder a font to draw lines the printer cannot print
// (see the package documentation). Nil means none: such characters print
// as '?'.
func WithFont(f *Font) Option { return func(b *Builder) { b.font = f } }

// WithCharset says which 2-byte codes the printer's font has (default
// CharsetGBK); other characters are rare characters.
func WithCharset(c Charset) Option {
	return func(b *Builder) {
		if !c.Valid() {
			b.fail("charset %q: want gbk, gb18030 or gb2312", string(c))
			return
		}
		b.g = newGlyphsFor(c)
	}
}

// WithQRMode chooses how QR prints (default QRModeNative).
func WithQRMode(m QRMode) Option {
	return func(b *Builder) {
		if !m.Valid() {
			b.fail("qr mode %q: want native or raster", string(m))
			return
		}
		if m != "" {
			b.qrMode = m
		}
	}
}

// RasterLine records a line the Builder sent as an image because the
// printer's font lacks some of its characters.
type RasterLine struct {
	Runes         []rune // the characters that made it an image
	Offset        int    // byte offset of its GS v 0 command in the job
	Width, Height int    // dots
}

// Builder assembles one print job. Methods chain; the first error is kept
// and later calls do nothing, so a job is checked once, at Bytes. A Builder
// is not safe for concurrent use.
//
// Text is held back until its line ends ('\n', a command that needs the
// start of a line, Feed, Init, Raw, or Bytes), because whether a line goes
// out as text or as an image depends on all of it.
type Builder struct {
	paper     PaperWidth
	buf       []byte
	err       error
	g         *glyphs
	subs      []Substitution
	rasters   []RasterLine
	cut       CutCommand
	lineStart bool  // nothing printable sent since the last line end
	st        style // print modes in effect after everything so far
	line      []lineItem
	font      *Font
	paint     *painter // made on first use, when there is a font
	qrMode    QRMode
}

// lineItem is a piece of the line being held back: text in the style it
// was written in, or a command that prints nothing (bold, size …).
type lineItem struct {
	run textRun
	cmd []byte
}

func defaultStyle() style { return style{w: 1, h: 1} }

// NewBuilder starts an empty job for the paper profile.
func NewBuilder(p PaperWidth, opts ...Option) *Builder {
	b := &Builder{paper: p, g: newGlyphs(), cut: DefaultCut(), lineStart: true, st: defaultStyle(), qrMode: QRModeNative}
	if !p.Valid() {
		b.err = fmt.Errorf("paper %d mm: want 58 or 80", int(p))
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Paper is the builder's paper profile.
func (b *Builder) Paper() PaperWidth { return b.paper }

// Font is the font rare characters are drawn with, or nil.
func (b *Builder) Font() *Font { return b.font }

// QRMode is how QR prints.
func (b *Builder) QRMode() QRMode { return b.qrMode }

func (b *Builder) fail(format string, args ...any) *Builder {
	if b.err == nil {
		b.err = fmt.Errorf(format, args...)
	}
	return b
}

func (b *Builder) put(p ...byte) { b.buf = append(b.buf, p...) }

// cmd sends a command that prints nothing; inside a held-back line it
// keeps its place among the text.
func (b *Builder) cmd(p ...byte) {
	if len(b.line) > 0 {
		b.line = append(b.line, lineItem{cmd: p})
		return
	}
	b.put(p...)
}

// endLine makes sure the next command starts a line: cuts, raster images and
// QR symbols only work at the beginning of a line.
func (b *Builder) endLine() {
	b.flushLine()
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
	b.flushLine()
	b.put(ESC, '@')
	b.lineStart, b.st = true, defaultStyle()
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
	b.cmd(ESC, 'a', byte(a))
	b.st.align = a
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
	b.cmd(ESC, 'E', n)
	b.st.bold = on
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
	b.cmd(ESC, '-', byte(dots))
	b.st.underline = dots
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
	b.cmd(GS, '!', byte((w-1)<<4|(h-1)))
	b.st.w, b.st.h = w, h
	return b
}

// Text writes s: ASCII as is, other characters as 2-byte GB18030 inside
// FS & … FS ., '\n' as LF. Characters without a 2-byte code are replaced
// and recorded, or, with a font, their whole line is drawn as an image
// (see the package documentation).
func (b *Builder) Text(s string) *Builder {
	if b.err != nil {
		return b
	}
	for {
		part, rest, nl := strings.Cut(s, "\n")
		if part != "" {
			b.line = append(b.line, lineItem{run: textRun{s: part, st: b.st}})
		}
		if !nl {
			return b
		}
		if !b.flushLine() {
			b.put(LF) // an image has fed the paper itself
		}
		b.lineStart = true
		s = rest
	}
}

// flushLine sends the held-back line, as text or, if it has characters
// only the font can draw, as an image. It reports whether it sent an image.
func (b *Builder) flushLine() bool {
	items := b.line
	b.line = nil
	if len(items) == 0 || b.err != nil {
		return false
	}
	if b.rasterLine(items) {
		return true
	}
	for _, it := range items {
		if it.cmd != nil {
			b.put(it.cmd...)
		} else {
			b.encode(it.run.s)
		}
	}
	return false
}

// encode writes s (no '\n') as text.
func (b *Builder) encode(s string) {
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
		if r == '\r' {
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
}

func (b *Builder) painter() *painter {
	if b.paint == nil && b.font != nil {
		b.paint = &painter{font: b.font}
	}
	return b.paint
}

// rasterLine sends items as one image if the font can draw a character of
// theirs that the printer cannot print. Characters neither can draw come
// out as '?' in the image, and are recorded like in text.
func (b *Builder) rasterLine(items []lineItem) bool {
	p := b.painter()
	if p == nil {
		return false
	}
	var rare []rune
	for _, it := range items {
		for _, r := range it.run.s {
			if _, _, _, k := b.g.classify(r); k == glyphSubASCII && p.drawable(r) {
				rare = append(rare, r)
			}
		}
	}
	if len(rare) == 0 {
		return false
	}
	var cells []cell
	var subs []Substitution
	for _, it := range items {
		st := it.run.st
		for _, r := range it.run.s {
			if r == '\r' {
				continue
			}
			c := cell{r: r, st: st}
			switch _, _, sub, k := b.g.classify(r); k {
			case glyphWide:
				c.wide = true
			case glyphSubWide:
				c.r, c.wide = sub, true
				subs = append(subs, Substitution{Rune: r, With: sub})
			case glyphSubASCII:
				if p.drawable(r) {
					c.wide = wideRune(r)
				} else {
					c.r = sub
					subs = append(subs, Substitution{Rune: r, With: sub})
				}
			}
			c.w, c.h = CellWidthNarrow*st.w, CellHeight*st.h
			if c.wide {
				c.w = CellWidthWide * st.w
			}
			cells = append(cells, c)
		}
	}
	img := p.drawLine(cells, b.paper.Dots())
	if !b.lineStart {
		b.put(LF) // text before a Raw command is still on this line
	}
	for _, it := range items {
		b.put(it.cmd...)
	}
	off := len(b.buf)
	for i := range subs {
		subs[i].Offset = off
	}
	b.subs = append(b.subs, subs...)
	b.rasters = append(b.rasters, RasterLine{Runes: rare, Offset: off, Width: img.Width(), Height: img.Height})
	b.putRaster(img)
	b.lineStart = true
	return true
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
	b.flushLine()
	b.put(ESC, 'd', byte(n))
	b.lineStart = true
	return b
}

// Columns is how many half-width columns s takes on this builder's paper
// at normal size: like the package's Columns, except that a character the
// font will draw takes the width it is drawn at.
func (b *Builder) Columns(s string) int {
	p := b.painter()
	n := 0
	for _, r := range s {
		if r == '\n' || r == '\r' {
			continue
		}
		_, _, _, k := b.g.classify(r)
		switch {
		case k == glyphWide || k == glyphSubWide:
			n += 2
		case k == glyphSubASCII && wideRune(r) && p.drawable(r):
			n += 2
		default:
			n++
		}
	}
	return n
}

// TwoColumn writes one line with left and right aligned to the edges of the
// paper at the current character width, dots between ("金额 ...... 20.00 元").
func (b *Builder) TwoColumn(left, right string) *Builder {
	if b.err != nil {
		return b
	}
	b.endLine()
	return b.Line(twoColumn(b.paper.Columns()/b.st.w, left, right, '.', b.Columns))
}

// QR prints payload as a QR code (model 2). In QRModeNative the printer
// encodes it: GS ( k functions 165 (model), 167 (module size 1..16 dots),
// 169 (error correction), 180 (store) and 181 (print). In QRModeRaster the
// symbol is drawn here at moduleSize dots per module (less if it would not
// fit the paper) and sent as a GS v 0 image placed by the current alignment.
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
	if b.qrMode == QRModeRaster {
		return b.qrAsImage(payload, moduleSize, level)
	}
	b.endLine()
	b.put(Symbol{CN: 49, FN: 65, Params: []byte{50, 0}}.Bytes()...)
	b.put(Symbol{CN: 49, FN: 67, Params: []byte{byte(moduleSize)}}.Bytes()...)
	b.put(Symbol{CN: 49, FN: 69, Params: []byte{byte(level)}}.Bytes()...)
	b.put(Symbol{CN: 49, FN: 80, Params: append([]byte{48}, payload...)}.Bytes()...)
	b.put(Symbol{CN: 49, FN: 81, Params: []byte{48}}.Bytes()...)
	return b
}

func (b *Builder) qrAsImage(payload string, moduleSize int, level QRLevel) *Builder {
	m, err := qrMatrix(payload, level)
	if err != nil {
		return b.fail("%w", err)
	}
	scale := min(moduleSize, b.paper.Dots()/len(m))
	if scale < 1 {
		return b.fail("qr raster: %d modules do not fit %s paper", len(m), b.paper)
	}
	img := scaleMatrix(m, scale)
	b.endLine()
	// Where the printer puts an image under ESC a differs between models,
	// so the image is sent left-aligned with its margin drawn in.
	pad := 0
	switch free := b.paper.Dots() - img.Width(); b.st.align {
	case AlignCenter:
		pad = free / 2
	case AlignRight:
		pad = free
	}
	if pad > 0 {
		img = img.shifted(pad)
	}
	if b.st.align != AlignLeft {
		b.put(ESC, 'a', byte(AlignLeft))
	}
	b.putRaster(img)
	if b.st.align != AlignLeft {
		b.put(ESC, 'a', byte(b.st.align))
	}
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
	band := r // taller images go in bands: check the geometry of one
	if r.Height > MaxRasterHeight && r.WidthBytes >= 1 && len(r.Data) == r.WidthBytes*r.Height {
		band.Height, band.Data = MaxRasterHeight, r.Data[:r.WidthBytes*MaxRasterHeight]
	}
	if err := band.check(); err != nil {
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
	b.putRaster(r)
	return b
}

// putRaster sends r (already checked) with GS v 0, in bands of at most
// MaxRasterHeight rows.
func (b *Builder) putRaster(r Raster) {
	for y := 0; y < r.Height; y += MaxRasterHeight {
		h := min(MaxRasterHeight, r.Height-y)
		band := Raster{Mode: r.Mode, WidthBytes: r.WidthBytes, Height: h,
			Data: r.Data[y*r.WidthBytes : (y+h)*r.WidthBytes]}
		b.put(RasterImage{Raster: band}.Bytes()...)
	}
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

// Raw appends bytes unchanged, for commands the Builder does not model. It
// ends the held-back line first (without a line feed), so a line drawn as
// an image never spans a Raw command.
func (b *Builder) Raw(p []byte) *Builder {
	if b.err != nil {
		return b
	}
	b.flushLine()
	b.put(p...)
	if len(p) > 0 {
		b.lineStart = p[len(p)-1] == LF
	}
	return b
}

// Substitutions lists the characters that were replaced so far. It ends
// the held-back line first.
func (b *Builder) Substitutions() []Substitution {
	b.flushLine()
	return append([]Substitution(nil), b.subs...)
}

// RasterLines lists the lines sent as images so far. It ends the
// held-back line first.
func (b *Builder) RasterLines() []RasterLine {
	b.flushLine()
	return append([]RasterLine(nil), b.rasters...)
}

// Err is the first error, if any.
func (b *Builder) Err() error { return b.err }

// Bytes returns the job, or the first error met while building it. A line
// not ended yet is sent as it is, without a line feed.
func (b *Builder) Bytes() ([]byte, error) {
	b.flushLine()
	if b.err != nil {
		return nil, fmt.Errorf("escpos job: %w", b.err)
	}
	if len(b.buf) == 0 {
		return nil, errors.New("escpos job: empty")
	}
	return append([]byte(nil), b.buf...), nil
}
