package codec

import (
	"fmt"
	"strings"
)

// Control bytes that start ESC/POS commands.
const (
	HT  = 0x09
	LF  = 0x0A
	CR  = 0x0D
	DLE = 0x10
	EOT = 0x04
	ESC = 0x1B
	FS  = 0x1C
	GS  = 0x1D
)

// Command is one parsed ESC/POS command. Bytes re-encodes it exactly as it
// appeared in the stream, so a parsed job can be reassembled byte for byte.
type Command interface {
	Bytes() []byte
	String() string
}

// Text is a run of printable bytes. Kanji says whether Chinese mode (FS &)
// was on, that is whether bytes from 0x81 pair up into GB18030 glyphs.
type Text struct {
	Data  []byte
	Kanji bool
}

func (c Text) Bytes() []byte { return append([]byte(nil), c.Data...) }
func (c Text) String() string {
	if c.Kanji {
		return fmt.Sprintf("text(kanji) % x", c.Data)
	}
	return fmt.Sprintf("text %q", c.Data)
}

// LineFeed is LF: print the buffer and feed one line.
type LineFeed struct{}

func (LineFeed) Bytes() []byte  { return []byte{LF} }
func (LineFeed) String() string { return "LF" }

// CarriageReturn is CR, which most printers ignore (auto line feed off).
type CarriageReturn struct{}

func (CarriageReturn) Bytes() []byte  { return []byte{CR} }
func (CarriageReturn) String() string { return "CR" }

// Tab is HT: move to the next tab stop (every 8 columns by default).
type Tab struct{}

func (Tab) Bytes() []byte  { return []byte{HT} }
func (Tab) String() string { return "HT" }

// Initialize is ESC @: clear the buffer, reset modes.
type Initialize struct{}

func (Initialize) Bytes() []byte  { return []byte{ESC, '@'} }
func (Initialize) String() string { return "ESC @" }

// Justify is ESC a n: 0/48 left, 1/49 centre, 2/50 right.
type Justify struct{ N byte }

func (c Justify) Bytes() []byte  { return []byte{ESC, 'a', c.N} }
func (c Justify) String() string { return fmt.Sprintf("ESC a %d", c.N) }

// Alignment is the justification it selects.
func (c Justify) Alignment() Alignment { return Alignment(c.N % 48) }

// Emphasize is ESC E n: bold on when the LSB of n is 1.
type Emphasize struct{ N byte }

func (c Emphasize) Bytes() []byte  { return []byte{ESC, 'E', c.N} }
func (c Emphasize) String() string { return fmt.Sprintf("ESC E %d", c.N) }

// On reports whether bold is switched on.
func (c Emphasize) On() bool { return c.N&1 == 1 }

// UnderlineMode is ESC - n: 0/48 off, 1/49 one dot, 2/50 two dots.
type UnderlineMode struct{ N byte }

func (c UnderlineMode) Bytes() []byte  { return []byte{ESC, '-', c.N} }
func (c UnderlineMode) String() string { return fmt.Sprintf("ESC - %d", c.N) }

// PrintMode is ESC ! n: bit 3 bold, 4 double height, 5 double width, 7 underline.
type PrintMode struct{ N byte }

func (c PrintMode) Bytes() []byte  { return []byte{ESC, '!', c.N} }
func (c PrintMode) String() string { return fmt.Sprintf("ESC ! %#02x", c.N) }

// FeedLines is ESC d n: print the buffer and feed n lines.
type FeedLines struct{ N byte }

func (c FeedLines) Bytes() []byte  { return []byte{ESC, 'd', c.N} }
func (c FeedLines) String() string { return fmt.Sprintf("ESC d %d", c.N) }

// CharSize is GS ! n: bits 4–6 width−1, bits 0–2 height−1.
type CharSize struct{ N byte }

func (c CharSize) Bytes() []byte { return []byte{GS, '!', c.N} }
func (c CharSize) String() string {
	return fmt.Sprintf("GS ! %#02x (%dx%d)", c.N, c.Width(), c.Height())
}

// Width is the width multiplier, 1..8.
func (c CharSize) Width() int { return int(c.N>>4&7) + 1 }

// Height is the height multiplier, 1..8.
func (c CharSize) Height() int { return int(c.N&7) + 1 }

// CutPaper is GS V m (m = 0, 1, 48, 49) or GS V m n (m = 65, 66, 97, 98,
// 103, 104: feed by n units, then cut).
type CutPaper struct {
	M    byte
	N    byte
	HasN bool
}

func (c CutPaper) Bytes() []byte {
	if c.HasN {
		return []byte{GS, 'V', c.M, c.N}
	}
	return []byte{GS, 'V', c.M}
}

func (c CutPaper) String() string {
	if c.HasN {
		return fmt.Sprintf("GS V %d %d", c.M, c.N)
	}
	return fmt.Sprintf("GS V %d", c.M)
}

// cutTakesN reports whether GS V m is followed by an n byte.
func cutTakesN(m byte) (takesN, known bool) {
	switch m {
	case 0, 1, 48, 49:
		return false, true
	case 65, 66, 97, 98, 103, 104:
		return true, true
	}
	return false, false
}

// Symbol is GS ( k pL pH cn fn [params]: the 2-D symbol functions. For QR
// codes cn is 49; Params is everything after fn.
type Symbol struct {
	CN, FN byte
	Params []byte
}

func (c Symbol) Bytes() []byte {
	n := len(c.Params) + 2
	out := []byte{GS, '(', 'k', byte(n), byte(n >> 8), c.CN, c.FN}
	return append(out, c.Params...)
}

func (c Symbol) String() string {
	if p, ok := c.QRPayload(); ok {
		return fmt.Sprintf("GS ( k cn=%d fn=%d store %q", c.CN, c.FN, p)
	}
	return fmt.Sprintf("GS ( k cn=%d fn=%d % x", c.CN, c.FN, c.Params)
}

// QRPayload returns the data of a QR "store data" function (cn 49, fn 80,
// m 48).
func (c Symbol) QRPayload() (string, bool) {
	if c.CN != 49 || c.FN != 80 || len(c.Params) < 1 || c.Params[0] != 48 {
		return "", false
	}
	return string(c.Params[1:]), true
}

// RasterImage is GS v 0 m xL xH yL yH d1…dk.
type RasterImage struct{ Raster Raster }

func (c RasterImage) Bytes() []byte {
	r := c.Raster
	out := []byte{GS, 'v', '0', r.Mode, byte(r.WidthBytes), byte(r.WidthBytes >> 8), byte(r.Height), byte(r.Height >> 8)}
	return append(out, r.Data...)
}

func (c RasterImage) String() string {
	return fmt.Sprintf("GS v 0 m=%d %dx%d dots", c.Raster.Mode, c.Raster.Width(), c.Raster.Height)
}

// KanjiOn is FS &: Chinese mode on.
type KanjiOn struct{}

func (KanjiOn) Bytes() []byte  { return []byte{FS, '&'} }
func (KanjiOn) String() string { return "FS &" }

// KanjiOff is FS .: Chinese mode off.
type KanjiOff struct{}

func (KanjiOff) Bytes() []byte  { return []byte{FS, '.'} }
func (KanjiOff) String() string { return "FS ." }

// KanjiQuad is FS W n: Chinese glyphs double width and height when the LSB is 1.
type KanjiQuad struct{ N byte }

func (c KanjiQuad) Bytes() []byte  { return []byte{FS, 'W', c.N} }
func (c KanjiQuad) String() string { return fmt.Sprintf("FS W %d", c.N) }

// RealTimeStatus is DLE EOT n (n = 1..4): the printer answers one status
// byte at once, even while busy or offline.
type RealTimeStatus struct{ N byte }

func (c RealTimeStatus) Bytes() []byte  { return []byte{DLE, EOT, c.N} }
func (c RealTimeStatus) String() string { return fmt.Sprintf("DLE EOT %d", c.N) }

// AutoStatusBack is GS a n: enable (n ≠ 0) or disable Automatic Status Back.
type AutoStatusBack struct{ N byte }

func (c AutoStatusBack) Bytes() []byte  { return []byte{GS, 'a', c.N} }
func (c AutoStatusBack) String() string { return fmt.Sprintf("GS a %#02x", c.N) }

// Other is a command the parser knows the length of but does not model
// (line spacing, code page, drawer kick, other GS ( functions …).
type Other struct {
	Name string
	Raw  []byte
}

func (c Other) Bytes() []byte { return append([]byte(nil), c.Raw...) }
func (c Other) String() string {
	return strings.TrimSpace(fmt.Sprintf("%s % x", c.Name, c.Raw))
}
