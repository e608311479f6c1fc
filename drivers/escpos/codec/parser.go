package codec

import (
	"errors"
	"fmt"
)

// ErrNeedMore is what Parser.Next returns when the buffered bytes do not
// hold a complete command yet (after Close: when the stream is exhausted).
var ErrNeedMore = errors.New("escpos parser: need more bytes")

// ErrParserClosed is returned by Write after Close.
var ErrParserClosed = errors.New("escpos parser: closed")

// SyntaxError reports bytes the parser skipped: unknown commands, invalid
// parameters, stray control bytes, or a command cut off at the end of the
// stream.
type SyntaxError struct {
	Offset  int64  // stream offset of the first skipped byte
	Skipped []byte // the bytes skipped
	Reason  string
}

func (e *SyntaxError) Error() string {
	show := e.Skipped
	more := ""
	if len(show) > 16 {
		show, more = show[:16], fmt.Sprintf(" … (%d bytes)", len(e.Skipped))
	}
	return fmt.Sprintf("escpos: offset %d: %s: skipped % x%s", e.Offset, e.Reason, show, more)
}

// Parser splits an ESC/POS byte stream into Commands. Feed it with Write in
// chunks of any size, then call Next until it returns ErrNeedMore. It never
// panics and never blocks: an incomplete command waits for more bytes, and
// anything it cannot make sense of is skipped and reported as a
// *SyntaxError. A Parser is not safe for concurrent use.
//
// The parser tracks Chinese mode (FS & / FS .) so each Text says how its
// bytes are to be read, and it does not split a 2-byte glyph between two
// Texts. ESC @ leaves Chinese mode as it is: Chinese models power up in it
// and do not agree on whether ESC @ cancels it.
type Parser struct {
	buf    []byte
	pos    int   // first unconsumed byte in buf
	off    int64 // stream offset of buf[0]
	kanji  bool
	closed bool
}

// NewParser returns an empty parser, Chinese mode off.
func NewParser() *Parser { return &Parser{} }

// Write buffers p. It always takes all of p unless the parser is closed.
func (p *Parser) Write(b []byte) (int, error) {
	if p.closed {
		return 0, ErrParserClosed
	}
	p.buf = append(p.buf, b...)
	return len(b), nil
}

// Close marks the end of the stream: from now on an incomplete command at
// the end is reported as a SyntaxError instead of waiting.
func (p *Parser) Close() { p.closed = true }

// Buffered is the number of bytes received but not yet returned.
func (p *Parser) Buffered() int { return len(p.buf) - p.pos }

// Kanji reports whether Chinese mode is on at the current position.
func (p *Parser) Kanji() bool { return p.kanji }

// Next returns the next command, a *SyntaxError for skipped bytes, or
// ErrNeedMore.
func (p *Parser) Next() (Command, error) {
	b := p.buf[p.pos:]
	if len(b) == 0 {
		p.compact()
		return nil, ErrNeedMore
	}
	s := p.step(b)
	switch {
	case s.cmd != nil:
		p.pos += s.n
		switch s.cmd.(type) {
		case KanjiOn:
			p.kanji = true
		case KanjiOff:
			p.kanji = false
		}
		p.compact()
		return s.cmd, nil
	case s.bad > 0:
		return nil, p.skip(s.bad, s.why)
	case !p.closed:
		return nil, ErrNeedMore
	}
	n := max(1, min(s.hdr, len(b)))
	return nil, p.skip(n, "truncated "+s.why)
}

func (p *Parser) skip(n int, why string) error {
	e := &SyntaxError{Offset: p.off + int64(p.pos), Skipped: append([]byte(nil), p.buf[p.pos:p.pos+n]...), Reason: why}
	p.pos += n
	p.compact()
	return e
}

// compact drops consumed bytes once they are the larger part of the buffer,
// so a long-running stream does not grow memory.
func (p *Parser) compact() {
	if p.pos == len(p.buf) {
		p.off += int64(p.pos)
		p.buf, p.pos = p.buf[:0], 0
		return
	}
	if p.pos > 4096 && p.pos*2 > len(p.buf) {
		n := copy(p.buf, p.buf[p.pos:])
		p.off += int64(p.pos)
		p.buf, p.pos = p.buf[:n], 0
	}
}

// step is the outcome of looking at the front of the buffer: a command of n
// bytes, or bad bytes to skip, or a need for more (hdr = how much to skip
// if the stream ends there).
type step struct {
	cmd  Command
	n    int
	bad  int
	need bool
	hdr  int
	why  string
}

func emit(c Command, n int) step     { return step{cmd: c, n: n} }
func bad(n int, why string) step     { return step{bad: n, why: why} }
func short(hdr int, why string) step { return step{need: true, hdr: hdr, why: why} }
func fixed(b []byte, n int, why string) (step, bool) {
	if len(b) < n {
		return short(n, why), false
	}
	return step{}, true
}

func (p *Parser) step(b []byte) step {
	c := b[0]
	switch {
	case c >= 0x20:
		return p.text(b)
	case c == LF:
		return emit(LineFeed{}, 1)
	case c == CR:
		return emit(CarriageReturn{}, 1)
	case c == HT:
		return emit(Tab{}, 1)
	case c == ESC:
		return p.esc(b)
	case c == GS:
		return p.gs(b)
	case c == FS:
		return p.fs(b)
	case c == DLE:
		return p.dle(b)
	}
	n := 1
	for n < len(b) && strayControl(b[n]) {
		n++
	}
	return bad(n, "stray control bytes")
}

func strayControl(c byte) bool {
	switch c {
	case HT, LF, CR, DLE, ESC, FS, GS:
		return false
	}
	return c < 0x20
}

// text takes a run of printable bytes. In Chinese mode a lead byte
// (0x81..0xFE) and its trail byte stay together.
func (p *Parser) text(b []byte) step {
	i := 0
	for i < len(b) && b[i] >= 0x20 {
		if p.kanji && b[i] >= 0x81 && b[i] <= 0xFE {
			if i+1 == len(b) && !p.closed {
				break // wait for the trail byte
			}
			if i+1 < len(b) && b[i+1] >= 0x20 {
				i += 2
				continue
			}
		}
		i++
	}
	if i == 0 {
		return short(1, "2-byte character")
	}
	return emit(Text{Data: append([]byte(nil), b[:i]...), Kanji: p.kanji}, i)
}

func (p *Parser) esc(b []byte) step {
	if len(b) < 2 {
		return short(1, "ESC")
	}
	name := fmt.Sprintf("ESC %q", b[1])
	n := 0
	switch b[1] {
	case '@':
		return emit(Initialize{}, 2)
	case 'a', 'E', '-', '!', 'd':
		if s, ok := fixed(b, 3, name); !ok {
			return s
		}
	case '2':
		n = 2
	case '3', 'J', 'M', 't', 'R', '{', 'V', ' ', 'G', 'U', '=', 'e':
		n = 3
	case 'c':
		n = 4
	case 'p':
		n = 5
	default:
		return bad(2, "unknown command "+name)
	}
	if n > 0 {
		if s, ok := fixed(b, n, name); !ok {
			return s
		}
		return emit(Other{Name: name, Raw: append([]byte(nil), b[:n]...)}, n)
	}
	v := b[2]
	switch b[1] {
	case 'a':
		if !(v <= 2 || v >= 48 && v <= 50) {
			return bad(3, fmt.Sprintf("ESC a %d: want 0..2 or 48..50", v))
		}
		return emit(Justify{N: v}, 3)
	case 'E':
		return emit(Emphasize{N: v}, 3)
	case '-':
		if !(v <= 2 || v >= 48 && v <= 50) {
			return bad(3, fmt.Sprintf("ESC - %d: want 0..2 or 48..50", v))
		}
		return emit(UnderlineMode{N: v}, 3)
	case '!':
		return emit(PrintMode{N: v}, 3)
	default: // 'd'
		return emit(FeedLines{N: v}, 3)
	}
}

func (p *Parser) gs(b []byte) step {
	if len(b) < 2 {
		return short(1, "GS")
	}
	name := fmt.Sprintf("GS %q", b[1])
	n := 0
	switch b[1] {
	case '!':
		if s, ok := fixed(b, 3, name); !ok {
			return s
		}
		if b[2]&0x88 != 0 {
			return bad(3, fmt.Sprintf("GS ! %#02x: multipliers must be 1..8", b[2]))
		}
		return emit(CharSize{N: b[2]}, 3)
	case 'a':
		if s, ok := fixed(b, 3, name); !ok {
			return s
		}
		return emit(AutoStatusBack{N: b[2]}, 3)
	case 'V':
		return gsV(b)
	case '(':
		return gsParen(b)
	case 'v':
		return gsRaster(b)
	case 'B', 'H', 'f', 'h', 'w', 'b', 'r', 'I':
		n = 3
	case 'L', 'W':
		n = 4
	default:
		return bad(2, "unknown command "+name)
	}
	if s, ok := fixed(b, n, name); !ok {
		return s
	}
	return emit(Other{Name: name, Raw: append([]byte(nil), b[:n]...)}, n)
}

func gsV(b []byte) step {
	if len(b) < 3 {
		return short(3, "GS V")
	}
	takesN, known := cutTakesN(b[2])
	if !known {
		return bad(3, fmt.Sprintf("GS V %d: unknown cut function", b[2]))
	}
	if !takesN {
		return emit(CutPaper{M: b[2]}, 3)
	}
	if len(b) < 4 {
		return short(4, "GS V")
	}
	return emit(CutPaper{M: b[2], N: b[3], HasN: true}, 4)
}

// gsParen is GS ( x pL pH …: every GS ( function carries its own length,
// so even the ones not modelled can be skipped exactly.
func gsParen(b []byte) step {
	if len(b) < 3 {
		return short(3, "GS (")
	}
	x := b[2]
	if !(x >= 'A' && x <= 'Z' || x >= 'a' && x <= 'z') {
		return bad(2, fmt.Sprintf("GS ( %#02x: unknown function", x))
	}
	if len(b) < 5 {
		return short(5, "GS (")
	}
	l := int(b[3]) | int(b[4])<<8
	if len(b) < 5+l {
		return short(5, fmt.Sprintf("GS ( %c (%d bytes)", x, l))
	}
	if x != 'k' {
		return emit(Other{Name: fmt.Sprintf("GS ( %c", x), Raw: append([]byte(nil), b[:5+l]...)}, 5+l)
	}
	if l < 2 {
		return bad(5, fmt.Sprintf("GS ( k length %d: want at least 2", l))
	}
	return emit(Symbol{CN: b[5], FN: b[6], Params: append([]byte(nil), b[7:5+l]...)}, 5+l)
}

func gsRaster(b []byte) step {
	if len(b) < 3 {
		return short(3, "GS v")
	}
	if b[2] != '0' {
		return bad(3, fmt.Sprintf("GS v %#02x: unknown function", b[2]))
	}
	if len(b) < 8 {
		return short(8, "GS v 0")
	}
	r := Raster{Mode: b[3], WidthBytes: int(b[4]) | int(b[5])<<8, Height: int(b[6]) | int(b[7])<<8}
	switch {
	case r.Mode > 3 && (r.Mode < 48 || r.Mode > 51):
		return bad(8, fmt.Sprintf("GS v 0 mode %d: want 0..3 or 48..51", r.Mode))
	case r.WidthBytes < 1 || r.WidthBytes > MaxRasterWidthBytes:
		return bad(8, fmt.Sprintf("GS v 0 width %d bytes: want 1..%d", r.WidthBytes, MaxRasterWidthBytes))
	case r.Height < 1 || r.Height > MaxRasterHeight:
		return bad(8, fmt.Sprintf("GS v 0 height %d: want 1..%d", r.Height, MaxRasterHeight))
	}
	n := 8 + r.WidthBytes*r.Height
	if len(b) < n {
		return short(8, fmt.Sprintf("GS v 0 image (%d bytes)", n))
	}
	r.Data = append([]byte(nil), b[8:n]...)
	return emit(RasterImage{Raster: r}, n)
}

func (p *Parser) fs(b []byte) step {
	if len(b) < 2 {
		return short(1, "FS")
	}
	name := fmt.Sprintf("FS %q", b[1])
	switch b[1] {
	case '&':
		return emit(KanjiOn{}, 2)
	case '.':
		return emit(KanjiOff{}, 2)
	case 'W', '!', '-', 'C':
		if s, ok := fixed(b, 3, name); !ok {
			return s
		}
		if b[1] == 'W' {
			return emit(KanjiQuad{N: b[2]}, 3)
		}
		return emit(Other{Name: name, Raw: append([]byte(nil), b[:3]...)}, 3)
	case 'S':
		if s, ok := fixed(b, 4, name); !ok {
			return s
		}
		return emit(Other{Name: name, Raw: append([]byte(nil), b[:4]...)}, 4)
	}
	return bad(2, "unknown command "+name)
}

func (p *Parser) dle(b []byte) step {
	if len(b) < 2 {
		return short(1, "DLE")
	}
	switch b[1] {
	case EOT:
		if len(b) < 3 {
			return short(3, "DLE EOT")
		}
		if b[2] < 1 || b[2] > 4 {
			return bad(3, fmt.Sprintf("DLE EOT %d: want 1..4", b[2]))
		}
		return emit(RealTimeStatus{N: b[2]}, 3)
	case 0x05: // DLE ENQ n: real-time request (recover from error, clear buffer)
		if len(b) < 3 {
			return short(3, "DLE ENQ")
		}
		return emit(Other{Name: "DLE ENQ", Raw: append([]byte(nil), b[:3]...)}, 3)
	}
	// Skip only the DLE: the next byte may start a valid command.
	return bad(1, fmt.Sprintf("unknown command DLE %#02x", b[1]))
}

// Parse parses a complete stream and returns its commands and the errors
// for skipped bytes, both in stream order.
func Parse(b []byte) ([]Command, []error) {
	p := NewParser()
	p.Write(b)
	p.Close()
	var cmds []Command
	var errs []error
	for {
		c, err := p.Next()
		switch {
		case errors.Is(err, ErrNeedMore):
			return cmds, errs
		case err != nil:
			errs = append(errs, err)
		default:
			cmds = append(cmds, c)
		}
	}
}
