package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/image/font/gofont/goregular"
)

// FuzzParser checks that any input, fed in chunks of any size, is parsed
// without panics or hangs into commands and skipped bytes that together
// are exactly the input, and that Render accepts the result.
func FuzzParser(f *testing.F) {
	job, _ := NewBuilder(Paper58).Init().Align(AlignCenter).Bold(true).Size(2, 2).Line("通办终端 ¥").
		Bold(false).Size(1, 1).TwoColumn("金额", "20.00 元").QR("https://example.com/?a=1", 6, QRLevelM).
		Feed(3).Cut().Bytes()
	raster, _ := NewBuilder(Paper58).QRRaster("ABC", 2).Cut().Bytes()
	for _, seed := range [][]byte{
		job, raster, nil,
		[]byte("plain text\n"),
		{0x10, 0x04, 0x01, 0x10, 0x04, 0x04, 0x10, 0x04, 0x09},
		{0x1d, 0x28, 0x6b, 0xff, 0xff, 0x31},
		{0x1d, 0x76, 0x30, 0x00, 0xff, 0x00, 0xff, 0x08},
		{0x1c, 0x26, 0xbd, 0x1b, 0x40, 0xf0},
		{0x00, 0x01, 0x1b, 0x7a, 0x1d, 0x56, 0x05, 0x1b},
		{0x1d, 0x56, 0x42},
	} {
		f.Add(seed, uint8(0))
		f.Add(seed, uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		chunk := int(split%16) + 1
		p := NewParser()
		var out []byte
		var cmds []Command
		steps := 0
		drain := func() {
			for {
				steps++
				if steps > 2*len(in)+4 {
					t.Fatalf("no progress after %d steps on %d bytes", steps, len(in))
				}
				c, err := p.Next()
				var se *SyntaxError
				switch {
				case errors.Is(err, ErrNeedMore):
					return
				case errors.As(err, &se):
					if len(se.Skipped) == 0 {
						t.Fatalf("syntax error skipping nothing: %v", err)
					}
					out = append(out, se.Skipped...)
				case err != nil:
					t.Fatalf("unexpected error type %T: %v", err, err)
				default:
					out = append(out, c.Bytes()...)
					cmds = append(cmds, c)
				}
			}
		}
		for i := 0; i < len(in); i += chunk {
			p.Write(in[i:min(i+chunk, len(in))])
			drain()
		}
		p.Close()
		drain()
		if !bytes.Equal(out, in) {
			t.Fatalf("commands and skipped bytes\n% x\ndo not add up to the input\n% x", out, in)
		}
		_ = Paper58.Render(cmds)
	})
}

// Garbage must be reported, never silently swallowed.
func TestGarbageYieldsErrors(t *testing.T) {
	for _, in := range [][]byte{
		{0x00}, {0x07, 0x08}, {0x1b, 0xff}, {0x1d, 0x00}, {0x1c, 0x00}, {0x10, 0x00},
		{0x1d, 0x56, 0x07}, {0x10, 0x04, 0x00}, {0x1b},
	} {
		if _, errs := Parse(in); len(errs) == 0 {
			t.Errorf("% x parsed without error", in)
		}
	}
}

// FuzzFont checks that no font file, however broken, makes ParseFont or
// drawing with the result panic or hang: a bad file costs a '?' on the
// receipt, never the daemon.
func FuzzFont(f *testing.F) {
	f.Add(tinyFont())
	f.Add(misalignedTTC(f, tinyFont()))
	f.Add(goregular.TTF[:1024])
	f.Add([]byte("ttcf\x00\x01\x00\x00\x00\x00\x00\x01\x00\x00\x00\x10"))
	f.Add([]byte("OTTO\x00\x01\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		font, err := ParseFont(data)
		if err != nil {
			if !errors.Is(err, ErrFont) {
				t.Fatalf("error %v does not wrap ErrFont", err)
			}
			return
		}
		b := NewBuilder(Paper58, WithFont(font)).Bold(true).Size(2, 3).Line("ø王 Ag?")
		job, err := b.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if _, errs := Parse(job); len(errs) > 0 {
			t.Fatalf("job does not parse: %v", errs)
		}
	})
}

// FuzzBuilderText checks that any text, with a font that draws some
// characters the printer cannot print, builds a job that parses back with
// no skipped bytes, and that every substitution points into the job.
func FuzzBuilderText(f *testing.F) {
	font, err := ParseFont(goregular.TTF)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "金额 20.00 元", "Bjørn ¥ 😀\n王䶮\r\n", "\x1b@\x00\x10\x04\x01", strings.Repeat("ø", 100), "a\nø\n\n"} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(0xff))
	}
	f.Fuzz(func(t *testing.T, s string, flags uint8) {
		paper := Paper58
		if flags&1 != 0 {
			paper = Paper80
		}
		var opts []Option
		if flags&2 != 0 {
			opts = append(opts, WithFont(font))
		}
		if flags&4 != 0 {
			opts = append(opts, WithCharset(CharsetGB2312))
		}
		b := NewBuilder(paper, opts...).Align(Alignment(flags>>3%3)).Size(int(flags>>5)%8+1, 1).Text(s).TwoColumn(s, s).Text(s)
		job, err := b.Bytes()
		if err != nil {
			if len(s) == 0 {
				return
			}
			t.Fatal(err)
		}
		cmds, errs := Parse(job)
		if len(errs) > 0 {
			t.Fatalf("job does not parse: %v", errs)
		}
		for _, sub := range b.Substitutions() {
			if sub.Offset < 0 || sub.Offset >= len(job) {
				t.Fatalf("substitution %+v outside the %d-byte job", sub, len(job))
			}
		}
		for _, rl := range b.RasterLines() {
			if !bytes.HasPrefix(job[rl.Offset:], []byte{GS, 'v', '0'}) || rl.Width != paper.Dots() {
				t.Fatalf("raster line %+v", rl)
			}
		}
		_ = paper.Render(cmds)
	})
}
