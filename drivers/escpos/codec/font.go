package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	fixedpt "golang.org/x/image/math/fixed"
)

// Font is one or more TrueType/OpenType faces the Builder draws with when a
// line holds characters the printer's own font cannot print (see the
// package documentation). A rune is drawn from the first face that has it.
//
// A Font is immutable once made and safe for concurrent use: parse the
// file once and hand the same Font to every Builder. The font bytes stay
// referenced by the Font.
type Font struct {
	faces []*fontFace
}

type fontFace struct {
	sf   *sfnt.Font
	name string
	// baseline is where the baseline sits in a cell one em tall, as a
	// fraction of the cell height from its top.
	baseline float64
}

// ErrFont is wrapped by every ParseFont error.
var ErrFont = errors.New("font")

// ParseFont reads a TrueType/OpenType font or collection (.ttf, .otf, .ttc,
// .otc) from memory. Of a collection it takes the face named as Simplified
// Chinese ("… SC") if there is one, else the first face. Tables that are not
// 4-byte aligned (WenQuanYi's .ttc files have them) are copied into an
// aligned buffer first, which golang.org/x/image/font/sfnt requires.
func ParseFont(data []byte) (f *Font, err error) {
	if len(data) < 12 {
		// sfnt takes a nil slice for "read from an io.ReaderAt" and
		// dereferences the missing reader.
		return nil, fmt.Errorf("%w: %d bytes is no font", ErrFont, len(data))
	}
	defer func() {
		// The font file comes from disk, not from a resident, but a broken
		// one must cost a '?' on a receipt, never the daemon.
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("%w: parser panicked: %v", ErrFont, p)
		}
	}()
	ff, err := parseFace(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFont, err)
	}
	return &Font{faces: []*fontFace{ff}}, nil
}

// JoinFonts chains fonts: each rune is drawn from the first font that has
// it. Nil fonts are skipped; with none left it returns nil.
func JoinFonts(fonts ...*Font) *Font {
	var faces []*fontFace
	for _, f := range fonts {
		if f != nil {
			faces = append(faces, f.faces...)
		}
	}
	if len(faces) == 0 {
		return nil
	}
	return &Font{faces: faces}
}

// Has reports whether the font can draw r. A nil Font has nothing.
func (f *Font) Has(r rune) bool {
	if f == nil {
		return false
	}
	var b sfnt.Buffer
	_, _, ok := f.lookup(&b, r)
	return ok
}

// String names the faces, in lookup order.
func (f *Font) String() string {
	if f == nil {
		return "no font"
	}
	names := make([]string, len(f.faces))
	for i, ff := range f.faces {
		names[i] = ff.name
	}
	return strings.Join(names, " + ")
}

func (f *Font) lookup(b *sfnt.Buffer, r rune) (*fontFace, sfnt.GlyphIndex, bool) {
	if f == nil {
		return nil, 0, false
	}
	for _, ff := range f.faces {
		if x, err := ff.sf.GlyphIndex(b, r); err == nil && x != 0 {
			return ff, x, true
		}
	}
	return nil, 0, false
}

// maxCollectionFaces bounds how many faces of a collection are looked at.
const maxCollectionFaces = 64

func parseFace(data []byte) (*fontFace, error) {
	c, err := sfnt.ParseCollection(data)
	if err != nil {
		return nil, err
	}
	n := min(c.NumFonts(), maxCollectionFaces)
	first := -1
	var firstFace *sfnt.Font
	var firstErr error
	for i := range n {
		sf, err := c.Font(i)
		if err != nil {
			if first < 0 && firstErr == nil {
				firstErr = err
			}
			continue
		}
		var b sfnt.Buffer
		if simplifiedChinese(sf, &b) {
			return newFontFace(sf)
		}
		if first < 0 {
			first, firstFace = i, sf
		}
	}
	if firstFace != nil {
		return newFontFace(firstFace)
	}
	// No face parses as it is: try the first one again with its tables
	// copied to 4-byte boundaries.
	off, err := faceOffset(data, 0)
	if err != nil {
		return nil, err
	}
	packed, err := alignTables(data, off)
	if err != nil {
		return nil, fmt.Errorf("%w (realigning tables: %w)", firstErr, err)
	}
	sf, err := sfnt.Parse(packed)
	if err != nil {
		return nil, fmt.Errorf("realigned face: %w", err)
	}
	return newFontFace(sf)
}

// simplifiedChinese reports whether the face's name marks it as the
// Simplified Chinese member of a CJK collection ("Noto Sans CJK SC").
func simplifiedChinese(sf *sfnt.Font, b *sfnt.Buffer) bool {
	for _, id := range []sfnt.NameID{sfnt.NameIDFamily, sfnt.NameIDFull} {
		name, err := sf.Name(b, id)
		if err != nil {
			continue
		}
		if slices.Contains(strings.Fields(name), "SC") {
			return true
		}
	}
	return false
}

func newFontFace(sf *sfnt.Font) (*fontFace, error) {
	var b sfnt.Buffer
	name, err := sf.Name(&b, sfnt.NameIDFull)
	if err != nil || name == "" {
		name = "unnamed font"
	}
	ff := &fontFace{sf: sf, name: name, baseline: 0.88}
	// Centre a typical hanzi in the cell, as the printer's own 24×24 font
	// does; fonts disagree on where the ideographic em box lies.
	const ppem = 1024
	if x, err := sf.GlyphIndex(&b, '国'); err == nil && x != 0 {
		if bounds, _, err := sf.GlyphBounds(&b, x, fixedpt.I(ppem), font.HintingNone); err == nil {
			mid := float64(bounds.Min.Y+bounds.Max.Y) / 2 / 64 / ppem // y down, 0 = baseline
			if bl := 0.5 - mid; bl > 0.5 && bl < 1 {
				ff.baseline = bl
			}
		}
	} else if m, err := sf.Metrics(&b, fixedpt.I(ppem), font.HintingNone); err == nil && m.Ascent+m.Descent > 0 {
		ff.baseline = float64(m.Ascent) / float64(m.Ascent+m.Descent)
	}
	return ff, nil
}

// faceOffset is where face i's table directory starts: 0 for a single font,
// the i-th offset of a TTC header otherwise.
func faceOffset(data []byte, i int) (int, error) {
	if len(data) < 12 {
		return 0, errors.New("font data too short")
	}
	if string(data[:4]) != "ttcf" {
		return 0, nil
	}
	n := int(binary.BigEndian.Uint32(data[8:]))
	if i >= n || 12+4*(i+1) > len(data) {
		return 0, fmt.Errorf("collection has no face %d", i)
	}
	return int(binary.BigEndian.Uint32(data[12+4*i:])), nil
}

// alignedTables are the tables sfnt reads to draw outlines. Kerning (kern,
// GPOS) is left out on purpose: glyphs go into fixed cells, like the
// printer's font. 'post' is replaced by a minimal version 3 table (no glyph
// names), which saves half a megabyte for large CJK fonts.
var alignedTables = []string{"CFF ", "OS/2", "cmap", "glyf", "head", "hhea", "hmtx", "loca", "maxp", "name"}

// alignTables copies the face whose table directory starts at off into a
// new single-font file with every table on a 4-byte boundary.
func alignTables(data []byte, off int) ([]byte, error) {
	be := binary.BigEndian
	if off < 0 || off > len(data)-12 {
		return nil, fmt.Errorf("table directory at %d outside %d bytes", off, len(data))
	}
	version := be.Uint32(data[off:])
	switch version {
	case 0x00010000, 0x4f54544f, 0x74727565: // 1.0, "OTTO", "true"
	default:
		return nil, fmt.Errorf("sfnt version %#08x", version)
	}
	numTables := int(be.Uint16(data[off+4:]))
	if off+12+16*numTables > len(data) {
		return nil, fmt.Errorf("%d table records do not fit", numTables)
	}
	type table struct {
		tag  string
		data []byte
	}
	var keep []table
	for i := range numTables {
		rec := data[off+12+16*i:]
		tag := string(rec[:4])
		if !slices.Contains(alignedTables, tag) || slices.ContainsFunc(keep, func(t table) bool { return t.tag == tag }) {
			continue
		}
		o, n := uint64(be.Uint32(rec[8:])), uint64(be.Uint32(rec[12:]))
		if o+n > uint64(len(data)) {
			return nil, fmt.Errorf("table %q at %d+%d outside %d bytes", tag, o, n, len(data))
		}
		keep = append(keep, table{tag, data[o : o+n]})
	}
	var post [32]byte
	be.PutUint32(post[:], 0x00030000)
	keep = append(keep, table{"post", post[:]})
	// sfnt wants the records sorted by tag.
	slices.SortFunc(keep, func(a, b table) int { return strings.Compare(a.tag, b.tag) })

	size := 12 + 16*len(keep)
	for _, t := range keep {
		size += (len(t.data) + 3) &^ 3
	}
	if size > math.MaxInt32 {
		return nil, errors.New("font too large")
	}
	out := make([]byte, 12+16*len(keep), size)
	be.PutUint32(out, version)
	be.PutUint16(out[4:], uint16(len(keep)))
	// searchRange and friends are not read by sfnt; zero is fine.
	for i, t := range keep {
		rec := out[12+16*i:]
		copy(rec, t.tag)
		be.PutUint32(rec[8:], uint32(len(out)))
		be.PutUint32(rec[12:], uint32(len(t.data)))
		out = append(out, t.data...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	return out, nil
}
