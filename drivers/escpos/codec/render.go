package codec

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// LineKind says what a rendered line stands for.
type LineKind int

const (
	LineText LineKind = iota
	LineQR
	LineImage
	LineCut
)

// RenderedLine is one line of the rendered receipt.
type RenderedLine struct {
	Kind LineKind
	// Text is the line as printed: for text lines with the alignment
	// padding applied (no trailing spaces, no style marker); for the others
	// the placeholder ("[QR: …]", "[image …]", "--- cut ---").
	Text      string
	Align     Alignment
	Bold      bool
	Underline bool
	Width     int // largest width multiplier used on the line
	Height    int // largest height multiplier used on the line
}

// Rendering is a print job as a person would read the paper.
type Rendering struct {
	// Text is the receipt, one line per printed line. Lines printed bold,
	// underlined or enlarged end with a marker such as "  «bold 2x2»".
	Text       string
	Lines      []RenderedLine
	QRPayloads []string // QR codes printed with GS ( k, in order
	Rasters    []Raster // GS v 0 images, in order
	Cuts       int
	Columns    int // the column width alignment was applied to
	// Truncated is set when the job had more than MaxRenderLines lines;
	// the rest is not rendered (garbage such as a run of ESC d 255 must not
	// turn a few kilobytes into millions of lines).
	Truncated bool
}

// MaxRenderLines bounds a rendering: more than a whole roll of paper.
const MaxRenderLines = 20000

// Render renders cmds on 80 mm paper (48 columns).
func Render(cmds []Command) Rendering { return Paper80.Render(cmds) }

// Render renders cmds on paper p: text decoded from GB18030 in Chinese
// mode, wrapped and aligned to the paper's columns (a Chinese glyph is two
// columns, each times the width multiplier); QR codes as "[QR: payload]";
// images as "[image W×H dots]", or "[image W×H: rare-character line]" for
// a line the Builder drew because the printer's font lacks a character; cuts as "--- cut ---". It models what a
// printer that only knows 2-byte Chinese codes would show: bytes it could
// not print come out as U+FFFD.
func (p PaperWidth) Render(cmds []Command) Rendering {
	cols := p.Columns()
	if cols == 0 {
		cols = Paper80.Columns()
	}
	r := &renderer{cols: cols, dec: simplifiedchinese.GB18030.NewDecoder()}
	r.reset()
	for _, c := range cmds {
		if r.out.Truncated {
			break
		}
		r.command(c)
	}
	r.flushText()
	if r.lineCols > 0 {
		r.endLine()
	}
	r.out.Columns = cols
	if r.out.Truncated {
		r.out.Lines = append(r.out.Lines, RenderedLine{Kind: LineText, Text: "[… truncated]", Width: 1, Height: 1})
	}
	var sb strings.Builder
	for _, l := range r.out.Lines {
		sb.WriteString(l.Text)
		if m := marker(l); m != "" {
			sb.WriteString("  «" + m + "»")
		}
		sb.WriteByte('\n')
	}
	r.out.Text = sb.String()
	return r.out
}

func marker(l RenderedLine) string {
	if l.Kind != LineText || strings.TrimSpace(l.Text) == "" {
		return ""
	}
	var m []string
	if l.Bold {
		m = append(m, "bold")
	}
	if l.Underline {
		m = append(m, "underline")
	}
	if l.Width > 1 || l.Height > 1 {
		m = append(m, fmt.Sprintf("%dx%d", l.Width, l.Height))
	}
	return strings.Join(m, " ")
}

type renderer struct {
	cols int
	dec  *encoding.Decoder
	out  Rendering

	// print modes
	align         Alignment
	bold, ul      bool
	w, h          int
	quad          bool
	storedQR      string
	haveStoredQR  bool
	pending       []byte // text bytes not decoded yet
	pendingKanji  bool
	line          strings.Builder
	lineCols      int
	lineAttr      RenderedLine
	lineHasGlyphs bool
}

func (r *renderer) reset() {
	r.align, r.bold, r.ul, r.w, r.h, r.quad = AlignLeft, false, false, 1, 1, false
}

func (r *renderer) command(c Command) {
	if t, ok := c.(Text); ok {
		if len(r.pending) > 0 && r.pendingKanji != t.Kanji {
			r.flushText()
		}
		r.pending = append(r.pending, t.Data...)
		r.pendingKanji = t.Kanji
		return
	}
	r.flushText()
	switch c := c.(type) {
	case LineFeed:
		r.endLine()
	case Tab:
		n := 8 - r.lineCols%8
		for i := 0; i < n && r.lineCols < r.cols; i++ {
			r.put(' ', 1)
		}
	case Initialize:
		r.discardLine() // ESC @ clears the print buffer
		r.reset()
	case Justify:
		r.align = c.Alignment()
	case Emphasize:
		r.bold = c.On()
	case UnderlineMode:
		r.ul = c.N%48 != 0
	case PrintMode:
		r.bold, r.ul = c.N&0x08 != 0, c.N&0x80 != 0
		r.w, r.h = 1, 1
		if c.N&0x20 != 0 {
			r.w = 2
		}
		if c.N&0x10 != 0 {
			r.h = 2
		}
	case CharSize:
		r.w, r.h = c.Width(), c.Height()
	case KanjiQuad:
		r.quad = c.N&1 == 1
	case FeedLines:
		if r.lineCols > 0 {
			r.endLine()
		}
		for i := 0; i < int(c.N) && !r.out.Truncated; i++ {
			r.endLine()
		}
	case CutPaper:
		r.special(LineCut, "--- cut ---")
		r.out.Cuts++
	case Symbol:
		if p, ok := c.QRPayload(); ok {
			r.storedQR, r.haveStoredQR = p, true
		} else if c.CN == 49 && c.FN == 81 {
			if r.haveStoredQR {
				r.special(LineQR, "[QR: "+r.storedQR+"]")
				r.out.QRPayloads = append(r.out.QRPayloads, r.storedQR)
			} else {
				r.special(LineQR, "[QR: no data stored]")
			}
		}
	case RasterImage:
		r.special(LineImage, r.imageLabel(c.Raster))
		r.out.Rasters = append(r.out.Rasters, c.Raster)
	case Other:
		if strings.HasPrefix(c.Name, "ESC 'J'") && r.lineCols > 0 {
			r.endLine() // ESC J prints the buffer
		}
	}
	// CR, KanjiOn/Off (carried by Text), DLE EOT, GS a and the rest print nothing.
}

// imageLabel names an image. One as wide as the paper and a whole number
// of 24-dot text rows tall (at most 8) is what the Builder sends for a
// line with characters the printer's font lacks; a QR symbol never has that
// shape (its side is an odd number of modules times at most 16 dots).
func (r *renderer) imageLabel(img Raster) string {
	w, h := img.Width(), img.Height
	if img.Mode == 0 || img.Mode == 48 {
		if w == r.cols*CellWidthNarrow && h%CellHeight == 0 && h <= 8*CellHeight {
			return fmt.Sprintf("[image %dx%d: rare-character line]", w, h)
		}
	}
	return fmt.Sprintf("[image %dx%d dots]", w, h)
}

// flushText decodes the pending bytes the way the printer reads them.
func (r *renderer) flushText() {
	b := r.pending
	r.pending = r.pending[:0]
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c < 0x80:
			r.put(rune(c), r.w)
			i++
		case !r.pendingKanji || c == 0x80 || c == 0xFF || i+1 == len(b):
			// Outside Chinese mode a high byte is a code-page character
			// this receipt cannot show; flag it.
			r.put(utf8.RuneError, r.w)
			i++
		default:
			w := 2 * r.w
			if r.quad {
				w *= 2
			}
			r.put(r.glyph(b[i], b[i+1]), w)
			i += 2
		}
	}
}

// glyph decodes one 2-byte code; anything else (including the first half of
// a 4-byte sequence) is U+FFFD.
func (r *renderer) glyph(lead, trail byte) rune {
	var dst [8]byte
	r.dec.Reset()
	n, nSrc, err := r.dec.Transform(dst[:], []byte{lead, trail}, true)
	if err != nil || nSrc != 2 {
		return utf8.RuneError
	}
	g, size := utf8.DecodeRune(dst[:n])
	if size != n {
		return utf8.RuneError
	}
	return g
}

// put adds one character of cols columns, wrapping like the printer does
// when the line is full.
func (r *renderer) put(c rune, cols int) {
	if r.lineCols > 0 && r.lineCols+cols > r.cols {
		r.endLine()
	}
	if !r.lineHasGlyphs {
		r.lineAttr = RenderedLine{Kind: LineText, Align: r.align, Width: r.w, Height: r.h}
		r.lineHasGlyphs = true
	}
	r.lineAttr.Bold = r.lineAttr.Bold || r.bold
	r.lineAttr.Underline = r.lineAttr.Underline || r.ul
	r.lineAttr.Width = max(r.lineAttr.Width, r.w)
	r.lineAttr.Height = max(r.lineAttr.Height, r.h)
	r.line.WriteRune(c)
	r.lineCols += cols
}

// endLine prints the buffered line (an empty one is a blank line).
func (r *renderer) endLine() {
	l := r.lineAttr
	if !r.lineHasGlyphs {
		l = RenderedLine{Kind: LineText, Align: r.align, Width: 1, Height: 1}
	}
	text := strings.TrimRight(r.line.String(), " ")
	pad := 0
	if free := r.cols - r.lineCols; free > 0 {
		switch l.Align {
		case AlignCenter:
			pad = free / 2
		case AlignRight:
			pad = free
		}
	}
	if text != "" {
		text = strings.Repeat(" ", pad) + text
	}
	l.Text = text
	r.addLine(l)
	r.discardLine()
}

func (r *renderer) discardLine() {
	r.line.Reset()
	r.lineCols = 0
	r.lineHasGlyphs = false
}

// special prints a non-text line; like the printer it first prints what
// is in the buffer.
func (r *renderer) special(k LineKind, text string) {
	if r.lineCols > 0 {
		r.endLine()
	}
	r.addLine(RenderedLine{Kind: k, Text: text, Align: r.align, Width: 1, Height: 1})
}

func (r *renderer) addLine(l RenderedLine) {
	if len(r.out.Lines) >= MaxRenderLines {
		r.out.Truncated = true
		return
	}
	r.out.Lines = append(r.out.Lines, l)
}
