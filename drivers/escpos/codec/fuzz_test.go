package codec

import (
	"bytes"
	"errors"
	"testing"
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
