package codec

import (
	"image"
	"image/draw"
	"math"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	fixedpt "golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
	"golang.org/x/text/width"
)

// Font A cell: what the printer's own font uses, and so what a line drawn
// as an image uses, so that it lines up with the text around it.
const (
	CellHeight      = 24 // dots
	CellWidthWide   = 24 // a hanzi (2-byte code)
	CellWidthNarrow = 12 // an ASCII character
)

// style is the print mode a run of text was written in.
type style struct {
	bold      bool
	underline int // dots, 0..2
	w, h      int // GS ! multipliers
	align     Alignment
}

// textRun is text written in one style (no '\n').
type textRun struct {
	s  string
	st style
}

// painter draws glyphs into rasters. It holds the scratch buffers one
// Builder reuses; it is not safe for concurrent use.
type painter struct {
	font *Font
	buf  sfnt.Buffer
	rast vector.Rasterizer
	mask image.Alpha
}

// cell is one character placed on a raster line.
type cell struct {
	r    rune // what to draw
	wide bool
	st   style
	w, h int // in dots
}

// drawLine lays out cells on paper dots wide, wrapping like the printer
// does when a line is full, and draws them. Each wrapped row is as tall as
// its tallest character; characters stand on a common bottom line.
func (p *painter) drawLine(cells []cell, paperDots int) Raster {
	type row struct {
		cells      []cell
		used, tall int
	}
	var rows []row
	cur := row{}
	for _, c := range cells {
		if len(cur.cells) > 0 && cur.used+c.w > paperDots {
			rows = append(rows, cur)
			cur = row{}
		}
		cur.cells = append(cur.cells, c)
		cur.used += c.w
		cur.tall = max(cur.tall, c.h)
	}
	if len(cur.cells) > 0 {
		rows = append(rows, cur)
	}
	height := 0
	for _, r := range rows {
		height += r.tall
	}
	img := NewRaster(paperDots, max(height, 1))
	top := 0
	for _, r := range rows {
		x := 0
		if free := paperDots - r.used; free > 0 && len(r.cells) > 0 {
			switch r.cells[0].st.align {
			case AlignCenter:
				x = free / 2
			case AlignRight:
				x = free
			}
		}
		for _, c := range r.cells {
			y := top + r.tall - c.h
			p.glyph(&img, c, x, y)
			if c.st.underline > 0 {
				for dy := 0; dy < c.st.underline; dy++ {
					for dx := 0; dx < c.w; dx++ {
						img.Set(x+dx, y+c.h-1-dy, true)
					}
				}
			}
			x += c.w
		}
		top += r.tall
	}
	return img
}

// glyph draws c's rune into its cell at (x0, y0). A rune no face has is
// drawn as '?' if the font has that, else left blank; the Builder has
// already recorded it as a substitution.
func (p *painter) glyph(dst *Raster, c cell, x0, y0 int) {
	if c.r == ' ' {
		return
	}
	defer func() {
		// A glyph a broken font cannot give stays blank (see ParseFont).
		if recover() != nil {
			p.buf = sfnt.Buffer{}
		}
	}()
	ff, idx, ok := p.font.lookup(&p.buf, c.r)
	if !ok {
		if ff, idx, ok = p.font.lookup(&p.buf, UnknownSubstitute); !ok {
			return
		}
	}
	// The em is the cell height; a wide cell is one em wide, so the width
	// multiplier stretches the glyph horizontally, as GS ! does.
	emH := float64(CellHeight * c.st.h)
	sx := float64(c.st.w) / float64(c.st.h)
	ppem := fixedpt.I(CellHeight * c.st.h)
	adv, err := ff.sf.GlyphAdvance(&p.buf, idx, ppem, font.HintingNone)
	if err != nil {
		return
	}
	segs, err := ff.sf.LoadGlyph(&p.buf, idx, ppem, nil)
	if err != nil {
		return
	}
	advDots := float64(adv) / 64 * sx
	if advDots > float64(c.w) && advDots > 0 {
		sx *= float64(c.w) / advDots // squeeze a wide Latin glyph into its narrow cell
		advDots = float64(c.w)
	}
	dx := (float64(c.w) - advDots) / 2
	base := ff.baseline * emH
	// Keep even a broken font's points near the cell, so the rasterizer's
	// work stays bounded.
	lim := float32(4 * max(c.w, c.h))
	pt := func(q fixedpt.Point26_6) (float32, float32) {
		x := float32(float64(q.X)/64*sx + dx)
		y := float32(float64(q.Y)/64 + base)
		return clampf(x, -lim, lim), clampf(y, -lim, lim)
	}
	p.rast.Reset(c.w, c.h)
	p.rast.DrawOp = draw.Src
	for _, s := range segs {
		switch s.Op {
		case sfnt.SegmentOpMoveTo:
			p.rast.MoveTo(pt(s.Args[0]))
		case sfnt.SegmentOpLineTo:
			p.rast.LineTo(pt(s.Args[0]))
		case sfnt.SegmentOpQuadTo:
			ax, ay := pt(s.Args[0])
			bx, by := pt(s.Args[1])
			p.rast.QuadTo(ax, ay, bx, by)
		case sfnt.SegmentOpCubeTo:
			ax, ay := pt(s.Args[0])
			bx, by := pt(s.Args[1])
			cx, cy := pt(s.Args[2])
			p.rast.CubeTo(ax, ay, bx, by, cx, cy)
		}
	}
	n := c.w * c.h
	if cap(p.mask.Pix) < n {
		p.mask.Pix = make([]uint8, n)
	}
	p.mask.Pix = p.mask.Pix[:n]
	p.mask.Stride = c.w
	p.mask.Rect = image.Rect(0, 0, c.w, c.h)
	p.rast.Draw(&p.mask, p.mask.Rect, image.Opaque, image.Point{})
	// Emphasis, like the printer's: each dot is struck again one dot to the
	// right (per width multiplier).
	extra := 0
	if c.st.bold {
		extra = c.st.w
	}
	for y := 0; y < c.h; y++ {
		row := p.mask.Pix[y*c.w : (y+1)*c.w]
		for x, a := range row {
			if a >= inkThreshold {
				for e := 0; e <= extra && x+e < c.w; e++ {
					dst.Set(x0+x+e, y0+y, true)
				}
			}
		}
	}
}

// inkThreshold is the coverage from which a dot is printed black. Slightly
// under half keeps the thin strokes of a 24-dot hanzi.
const inkThreshold = 0x70

func clampf(v, lo, hi float32) float32 {
	if v != v { // NaN
		return 0
	}
	return float32(math.Max(float64(lo), math.Min(float64(hi), float64(v))))
}

// wideRune reports whether a character the printer cannot print takes a
// full (24-dot) cell when drawn: East Asian wide and full-width characters
// do, the rest take a half cell, as ASCII does.
func wideRune(r rune) bool {
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return true
	}
	return false
}

// drawable reports whether r is worth drawing from the font instead of
// printing '?': a visible character the font has.
func (p *painter) drawable(r rune) bool {
	if p == nil || !unicode.IsGraphic(r) || unicode.IsSpace(r) {
		return false
	}
	_, _, ok := p.font.lookup(&p.buf, r)
	return ok
}
