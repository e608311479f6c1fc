package codec

import (
	"encoding/binary"
	"os"
	"sort"
	"testing"

	"golang.org/x/image/font/sfnt"
)

func repackZZ(data []byte, off int) []byte {
	be := binary.BigEndian
	n := int(be.Uint16(data[off+4:]))
	type rec struct{ tag, o, l uint32 }
	var recs []rec
	for i := 0; i < n; i++ {
		r := data[off+12+16*i:]
		recs = append(recs, rec{be.Uint32(r), be.Uint32(r[8:]), be.Uint32(r[12:])})
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].tag < recs[j].tag })
	out := make([]byte, 12+16*n)
	copy(out, data[off:off+12])
	for i, r := range recs {
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
		h := out[12+16*i:]
		be.PutUint32(h, r.tag)
		be.PutUint32(h[8:], uint32(len(out)))
		be.PutUint32(h[12:], r.l)
		out = append(out, data[r.o:r.o+r.l]...)
	}
	return out
}

func TestZZScratch(t *testing.T) {
	data, _ := os.ReadFile("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
	be := binary.BigEndian
	nf := int(be.Uint32(data[8:]))
	for i := 0; i < nf; i++ {
		off := int(be.Uint32(data[12+4*i:]))
		n := int(be.Uint16(data[off+4:]))
		for k := 0; k < n; k++ {
			r := data[off+12+16*k:]
			t.Logf("face %d table %q off %d len %d", i, r[:4], be.Uint32(r[8:]), be.Uint32(r[12:]))
		}
		f, err := sfnt.Parse(repackZZ(data, off))
		if err != nil {
			t.Fatal(err)
		}
		var b sfnt.Buffer
		name, _ := f.Name(&b, sfnt.NameIDFull)
		m, _ := f.Metrics(&b, 24*64, 0)
		t.Logf("#%d %q upem=%d glyphs=%d metrics %+v", i, name, f.UnitsPerEm(), f.NumGlyphs(), m)
		for _, r := range "王䶮𠮷A喆镕堃?□😀é" {
			x, err := f.GlyphIndex(&b, r)
			adv, _ := f.GlyphAdvance(&b, x, 24*64, 0)
			t.Logf("  %c U+%04X -> %d %v adv %v", r, r, x, err, adv)
		}
	}
}

func TestZZCoverage(t *testing.T) {
	for _, p := range []string{"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"} {
		data, _ := os.ReadFile(p)
		be := binary.BigEndian
		off := 0
		if string(data[:4]) == "ttcf" {
			off = int(be.Uint32(data[12:]))
		}
		f, err := sfnt.Parse(repackZZ(data, off))
		if err != nil {
			t.Fatal(err)
		}
		var b sfnt.Buffer
		g := newGlyphs()
		var rare []rune
		counts := map[string]int{}
		for r := rune(0x80); r < 0x30000; r++ {
			x, _ := f.GlyphIndex(&b, r)
			if x == 0 {
				continue
			}
			_, _, _, k := g.classify(r)
			if k == glyphSubASCII {
				rare = append(rare, r)
				switch {
				case r >= 0x3400 && r <= 0x4DBF:
					counts["extA"]++
				case r >= 0x20000:
					counts["extB+"]++
				case r >= 0x4E00 && r <= 0x9FFF:
					counts["URO"]++
				default:
					counts["other"]++
				}
			}
		}
		t.Logf("%s: %d unprintable-but-drawable %v", p, len(rare), counts)
		var cjk []rune
		for _, r := range rare {
			if r >= 0x3400 && r <= 0x9FFF || r >= 0x20000 {
				cjk = append(cjk, r)
			}
		}
		if len(cjk) > 40 {
			cjk = cjk[:40]
		}
		t.Logf("  cjk sample %q", string(cjk))
	}
}
