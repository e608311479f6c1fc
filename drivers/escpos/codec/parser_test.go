package codec

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParserCommands(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Command
	}{
		{"init", "1b40", []Command{Initialize{}}},
		{"text lf", "41420a", []Command{Text{Data: []byte("AB")}, LineFeed{}}},
		{"cr ht", "0d09", []Command{CarriageReturn{}, Tab{}}},
		{"align", "1b6101 1b6132", []Command{Justify{N: 1}, Justify{N: 50}}},
		{"bold", "1b4501 1b4500", []Command{Emphasize{N: 1}, Emphasize{N: 0}}},
		{"underline", "1b2d02", []Command{UnderlineMode{N: 2}}},
		{"print mode", "1b2138", []Command{PrintMode{N: 0x38}}},
		{"feed", "1b6403", []Command{FeedLines{N: 3}}},
		{"size", "1d2111", []Command{CharSize{N: 0x11}}},
		{"cut 0", "1d5600", []Command{CutPaper{M: 0}}},
		{"cut 1", "1d5601", []Command{CutPaper{M: 1}}},
		{"cut 48 49", "1d5630 1d5631", []Command{CutPaper{M: 48}, CutPaper{M: 49}}},
		{"cut 65 66", "1d564105 1d564200", []Command{CutPaper{M: 65, N: 5, HasN: true}, CutPaper{M: 66, HasN: true}}},
		{"cut 97 98 103 104", "1d566101 1d566202 1d566703 1d566804", []Command{
			CutPaper{M: 97, N: 1, HasN: true}, CutPaper{M: 98, N: 2, HasN: true},
			CutPaper{M: 103, N: 3, HasN: true}, CutPaper{M: 104, N: 4, HasN: true}}},
		{"qr store ABC", "1d286b0600315030414243", []Command{Symbol{CN: 49, FN: 80, Params: []byte("0ABC")}}},
		{"qr print", "1d286b0300315130", []Command{Symbol{CN: 49, FN: 81, Params: []byte{48}}}},
		{"other GS ( L", "1d284c020030 45", []Command{Other{Name: "GS ( L", Raw: unhex(t, "1d284c02003045")}}},
		{"raster", "1d7630 00 0200 0200 80000040", []Command{RasterImage{Raster: Raster{WidthBytes: 2, Height: 2, Data: []byte{0x80, 0, 0, 0x40}}}}},
		{"kanji", "1c26 bdf0b6ee 1c2e 41", []Command{KanjiOn{}, Text{Data: unhex(t, "bdf0b6ee"), Kanji: true}, KanjiOff{}, Text{Data: []byte("A")}}},
		{"kanji quad", "1c5701", []Command{KanjiQuad{N: 1}}},
		{"dle eot", "100401 100402 100403 100404", []Command{RealTimeStatus{N: 1}, RealTimeStatus{N: 2}, RealTimeStatus{N: 3}, RealTimeStatus{N: 4}}},
		{"asb", "1d610f", []Command{AutoStatusBack{N: 0x0f}}},
		{"line spacing", "1b3318 1b32", []Command{Other{Name: `ESC '3'`, Raw: unhex(t, "1b3318")}, Other{Name: `ESC '2'`, Raw: unhex(t, "1b32")}}},
		{"drawer kick", "1b70001932", []Command{Other{Name: `ESC 'p'`, Raw: unhex(t, "1b70001932")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := unhex(t, tt.in)
			got, errs := Parse(in)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %v\nwant %v", got, tt.want)
			}
			var re []byte
			for _, c := range got {
				re = append(re, c.Bytes()...)
			}
			if !reflect.DeepEqual(re, in) {
				t.Errorf("re-encoded % x, want % x", re, in)
			}
			// Fed one byte at a time, the parser waits and gives the same
			// commands (texts may come in pieces).
			if got1 := parseBytewise(t, in); !reflect.DeepEqual(mergeText(got1), mergeText(tt.want)) {
				t.Errorf("bytewise got %v", got1)
			}
		})
	}
}

func parseBytewise(t *testing.T, in []byte) []Command {
	t.Helper()
	p := NewParser()
	var out []Command
	for i := range in {
		p.Write(in[i : i+1])
		for {
			c, err := p.Next()
			if errors.Is(err, ErrNeedMore) {
				break
			}
			if err != nil {
				t.Fatalf("byte %d: %v", i, err)
			}
			out = append(out, c)
		}
	}
	if p.Buffered() != 0 {
		t.Fatalf("%d bytes left over", p.Buffered())
	}
	return out
}

func mergeText(cmds []Command) []Command {
	var out []Command
	for _, c := range cmds {
		if t, ok := c.(Text); ok && len(out) > 0 {
			if prev, ok := out[len(out)-1].(Text); ok && prev.Kanji == t.Kanji {
				prev.Data = append(append([]byte(nil), prev.Data...), t.Data...)
				out[len(out)-1] = prev
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

func TestParserWaitsForPartialInput(t *testing.T) {
	p := NewParser()
	store := unhex(t, "1d286b0600315030414243")
	p.Write(store[:6])
	if c, err := p.Next(); !errors.Is(err, ErrNeedMore) {
		t.Fatalf("partial GS ( k: %v %v", c, err)
	}
	p.Write(store[6:])
	c, err := p.Next()
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := c.(Symbol).QRPayload(); !ok || s != "ABC" {
		t.Fatalf("payload %q %v", s, ok)
	}

	// A 2-byte glyph split across writes stays whole.
	p = NewParser()
	p.Write([]byte{FS, '&', 0xbd})
	if c, _ := p.Next(); c != (KanjiOn{}) {
		t.Fatalf("got %v", c)
	}
	if _, err := p.Next(); !errors.Is(err, ErrNeedMore) {
		t.Fatalf("lone lead byte: %v", err)
	}
	p.Write([]byte{0xf0})
	c, err = p.Next()
	if err != nil || !reflect.DeepEqual(c, Text{Data: []byte{0xbd, 0xf0}, Kanji: true}) {
		t.Fatalf("got %v %v", c, err)
	}
}

func TestParserGarbage(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Command
		errs    int
		mention string
	}{
		{"stray controls", "00 01 02 41", []Command{Text{Data: []byte("A")}}, 1, "stray control"},
		{"unknown ESC", "1b7a 41", []Command{Text{Data: []byte("A")}}, 1, "unknown command ESC 'z'"},
		{"unknown GS", "1d01 41", []Command{Text{Data: []byte("A")}}, 1, "unknown command GS"},
		{"unknown FS", "1c7a 41", []Command{Text{Data: []byte("A")}}, 1, "unknown command FS"},
		{"unknown DLE", "10 1b40", []Command{Initialize{}}, 1, "DLE 0x1b"},
		{"bad cut", "1d5605 1b40", []Command{Initialize{}}, 1, "GS V 5"},
		{"bad align", "1b6107", nil, 1, "ESC a 7"},
		{"bad size", "1d2188", nil, 1, "GS ! 0x88"},
		{"bad dle eot", "100409", nil, 1, "DLE EOT 9"},
		{"raster zero width", "1d7630 00 0000 0100", nil, 1, "width 0"},
		{"raster too tall", "1d7630 00 0100 0009", nil, 1, "height 2304"},
		{"raster bad mode", "1d7630 07 0100 0100 ff", []Command{Text{Data: []byte{0xff}}}, 1, "mode 7"},
		{"GS ( k too short", "1d286b0100 31 1b40", []Command{Text{Data: []byte("1")}, Initialize{}}, 1, "length 1"},
		{"GS ( non-letter", "1d2821", []Command{Text{Data: []byte("!")}}, 1, "GS ( 0x21"},
		{"truncated at end", "1b40 1d286b0600315030", []Command{Initialize{}, Text{Data: []byte("1P0")}}, 1, "truncated GS ( k"},
		{"huge length then valid", "1d286bffff 1b40", []Command{Initialize{}}, 1, "truncated"},
		{"lone ESC at end", "41 1b", []Command{Text{Data: []byte("A")}}, 1, "truncated ESC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := unhex(t, tt.in)
			got, errs := Parse(in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("commands %v, want %v", got, tt.want)
			}
			if len(errs) != tt.errs {
				t.Fatalf("errors %v, want %d", errs, tt.errs)
			}
			var se *SyntaxError
			if !errors.As(errs[0], &se) || len(se.Skipped) == 0 {
				t.Fatalf("error %v is not a SyntaxError with skipped bytes", errs[0])
			}
			if !strings.Contains(errs[0].Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", errs[0], tt.mention)
			}
		})
	}
}

func TestParserOffsetsAndClose(t *testing.T) {
	p := NewParser()
	p.Write([]byte("AB\x00"))
	p.Next()
	_, err := p.Next()
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 2 {
		t.Fatalf("err %v", err)
	}
	p.Close()
	if _, err := p.Write([]byte("x")); !errors.Is(err, ErrParserClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if _, err := p.Next(); !errors.Is(err, ErrNeedMore) {
		t.Fatalf("exhausted: %v", err)
	}
}

// A long stream must not keep consumed bytes around.
func TestParserCompacts(t *testing.T) {
	p := NewParser()
	chunk := []byte(strings.Repeat("x", 1000) + "\n")
	for i := 0; i < 1000; i++ {
		p.Write(chunk)
		for {
			if _, err := p.Next(); errors.Is(err, ErrNeedMore) {
				break
			}
		}
	}
	if cap(p.buf) > 64*1024 {
		t.Errorf("buffer grew to %d bytes", cap(p.buf))
	}
}
