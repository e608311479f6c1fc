// Package codec is the pure part of the serial barcode/QR scanner driver:
// framing of decoded reads (protocols.md §4: data followed by a
// configurable suffix, optional prefix and AIM symbology identifier),
// Honeywell and Newland trigger commands and Newland replies, and the
// classification of what was read (payment codes, receipt and enrollment
// QR codes, utility bill barcodes). No I/O, no goroutines, no clock.
package codec

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Suffix is how the scanner ends each read.
type Suffix int

const (
	// SuffixAuto accepts CR, LF or CR LF (the LF after a CR is swallowed).
	// It is the default: it works whatever the scanner is set to, as long
	// as codes themselves hold no line breaks.
	SuffixAuto Suffix = iota
	SuffixCR
	SuffixLF
	SuffixCRLF
	// SuffixNone: the scanner sends no suffix; a read ends when the line
	// goes idle (the driver calls Flush).
	SuffixNone
)

var suffixNames = []string{"auto", "cr", "lf", "crlf", "none"}

func (s Suffix) String() string {
	if s >= 0 && int(s) < len(suffixNames) {
		return suffixNames[s]
	}
	return fmt.Sprintf("suffix(%d)", int(s))
}

// ParseSuffix reads a profile setting: auto, cr, lf, crlf or none.
func ParseSuffix(s string) (Suffix, error) {
	for i, n := range suffixNames {
		if strings.EqualFold(s, n) || (s == "" && i == 0) {
			return Suffix(i), nil
		}
	}
	return 0, fmt.Errorf("suffix %q: want auto, cr, lf, crlf or none", s)
}

// DefaultMaxLen bounds one read. An enrollment QR is a few hundred bytes;
// a QR code holds at most 2953 bytes of binary data.
const DefaultMaxLen = 3000

// FramerConfig is the scanner's output format, as set in its menu.
type FramerConfig struct {
	Suffix   Suffix
	Prefix   string // removed from the start of a read when present
	StripAIM bool   // a leading AIM identifier ("]" + code + modifier, e.g. "]Q1") is moved to Read.AIM
	MaxLen   int    // longest read in bytes (prefix and AIM included); 0: DefaultMaxLen
}

// Frame is one item from the scanner: a Read or a Reply.
type Frame interface {
	// Wire is the exact bytes the frame was read from.
	Wire() []byte
}

// Read is one decoded barcode or QR code.
type Read struct {
	Data string // the code, prefix, AIM identifier and suffix removed
	AIM  string // e.g. "]Q1" when StripAIM found one
	Raw  []byte
}

func (r Read) Wire() []byte { return r.Raw }

// Reply is a Newland command reply that arrived in the read stream.
type Reply struct {
	NewlandReply
	Raw []byte
}

func (r Reply) Wire() []byte { return r.Raw }

// Framing errors, matched with errors.Is on a *FrameError.
var (
	ErrNeedMore   = errors.New("scanner: need more bytes")
	ErrTooLong    = errors.New("scanner: read longer than the limit")
	ErrGarbage    = errors.New("scanner: control bytes or invalid text in a read")
	ErrIncomplete = errors.New("scanner: read without its suffix")
	ErrBadReply   = errors.New("scanner: malformed Newland reply")
)

// FrameError reports bytes that were skipped. Skipped is never empty.
type FrameError struct {
	Err     error
	Skipped []byte
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("%v (%d bytes skipped)", e.Err, len(e.Skipped))
}

func (e *FrameError) Unwrap() error { return e.Err }

const (
	cr  = '\r'
	lf  = '\n'
	stx = 0x02
)

// Framer splits the scanner's byte stream into reads and Newland replies.
// Feed it with Write, take frames with Next until ErrNeedMore, and call
// Flush when the line has been idle (a read whose suffix was lost, or any
// read with SuffixNone). Every byte ends up in a frame, in a FrameError, as
// a blank line (Blank) or still buffered (Pending).
type Framer struct {
	cfg      FramerConfig
	buf      []byte
	afterCR  bool // auto mode: the last frame ended with CR, so a leading LF belongs to it
	overlong bool // discarding the rest of a read that passed MaxLen
	cutReply bool // discarding the rest of a reply that passed maxReplyBody, up to a line break or STX
	blank    int
}

// NewFramer makes a framer.
func NewFramer(cfg FramerConfig) *Framer {
	if cfg.MaxLen <= 0 {
		cfg.MaxLen = DefaultMaxLen
	}
	return &Framer{cfg: cfg}
}

// Write appends bytes from the line.
func (f *Framer) Write(b []byte) { f.buf = append(f.buf, b...) }

// Pending is the number of bytes waiting for more.
func (f *Framer) Pending() int { return len(f.buf) }

// Blank is the number of bytes consumed as empty lines (suffixes with no
// data, such as the LF of a CR LF in auto mode).
func (f *Framer) Blank() int { return f.blank }

func (f *Framer) take(n int) []byte {
	b := bytes.Clone(f.buf[:n])
	f.buf = f.buf[n:]
	if len(f.buf) == 0 {
		f.buf = nil // let a large buffer go
	}
	return b
}

func skip(err error, b []byte) (Frame, error) { return nil, &FrameError{Err: err, Skipped: b} }

// terminator finds the first suffix in b: its index and length, or -1.
func (f *Framer) terminator(b []byte) (int, int) {
	switch f.cfg.Suffix {
	case SuffixCR:
		return bytes.IndexByte(b, cr), 1
	case SuffixLF:
		return bytes.IndexByte(b, lf), 1
	case SuffixCRLF:
		return bytes.Index(b, []byte{cr, lf}), 2
	case SuffixNone:
		return -1, 0
	}
	i := bytes.IndexAny(b, "\r\n")
	return i, 1
}

// Next returns the next frame, a *FrameError for skipped bytes, or
// ErrNeedMore.
func (f *Framer) Next() (Frame, error) {
	for {
		if len(f.buf) == 0 {
			return nil, ErrNeedMore
		}
		if f.afterCR {
			f.afterCR = false
			if f.buf[0] == lf {
				f.take(1)
				f.blank++
				continue
			}
		}
		if f.cutReply {
			// The same bytes are dropped however they arrived: up to the
			// break that would have cut the reply had it come in one piece.
			i := bytes.IndexAny(f.buf, "\r\n\x02")
			if i < 0 {
				return skip(ErrBadReply, f.take(len(f.buf)))
			}
			f.cutReply = false
			if i > 0 {
				return skip(ErrBadReply, f.take(i))
			}
			continue
		}
		if f.overlong {
			return f.discard()
		}
		if f.buf[0] == stx {
			return f.reply()
		}
		end, tl := f.terminator(f.buf)
		s := bytes.IndexByte(f.buf, stx)
		if s >= 0 && (end < 0 || s < end) {
			// A reply starts before this read ended: the read lost its suffix.
			if f.cfg.Suffix == SuffixNone {
				return f.read(f.take(s), s)
			}
			return skip(ErrIncomplete, f.take(s))
		}
		if end < 0 {
			if len(f.buf) > f.cfg.MaxLen+f.halfSuffix() {
				f.overlong = true
				return skip(ErrTooLong, f.take(len(f.buf)-f.halfSuffix()))
			}
			return nil, ErrNeedMore
		}
		if end == 0 {
			t := f.take(tl)
			f.blank += tl
			f.afterCR = f.cfg.Suffix == SuffixAuto && t[0] == cr
			continue
		}
		f.afterCR = f.cfg.Suffix == SuffixAuto && f.buf[end] == cr
		return f.read(f.take(end+tl), end)
	}
}

// discard drops the rest of an overlong read, up to and including its
// suffix (or up to a reply), reporting it as ErrTooLong.
func (f *Framer) discard() (Frame, error) {
	end, tl := f.terminator(f.buf)
	s := bytes.IndexByte(f.buf, stx)
	switch {
	case s >= 0 && (end < 0 || s < end):
		f.overlong = false
		if s == 0 {
			return f.Next()
		}
		return skip(ErrTooLong, f.take(s))
	case end >= 0:
		f.overlong = false
		f.afterCR = f.cfg.Suffix == SuffixAuto && f.buf[end] == cr
		return skip(ErrTooLong, f.take(end+tl))
	case len(f.buf) > f.cfg.MaxLen+f.halfSuffix():
		return skip(ErrTooLong, f.take(len(f.buf)-f.halfSuffix()))
	}
	return nil, ErrNeedMore
}

// halfSuffix is 1 when the buffer ends in a CR that may be the first half
// of a CR LF suffix still on its way: it must not be judged (or dropped)
// before its LF arrives, or the way the bytes were chunked would change
// what is read.
func (f *Framer) halfSuffix() int {
	if f.cfg.Suffix == SuffixCRLF && len(f.buf) > 0 && f.buf[len(f.buf)-1] == cr {
		return 1
	}
	return 0
}

// read checks and strips one read: raw is its wire bytes, n the data length.
func (f *Framer) read(raw []byte, n int) (Frame, error) {
	data := raw[:n]
	if n > f.cfg.MaxLen {
		return skip(ErrTooLong, raw)
	}
	if !utf8.Valid(data) {
		return skip(ErrGarbage, raw)
	}
	for _, c := range data {
		// Tab and GS (the GS1 FNC1 separator) occur in real codes.
		if (c < 0x20 && c != '\t' && c != 0x1D) || c == 0x7F {
			return skip(ErrGarbage, raw)
		}
	}
	s := string(data)
	if f.cfg.Prefix != "" {
		s = strings.TrimPrefix(s, f.cfg.Prefix)
	}
	r := Read{Raw: raw}
	if f.cfg.StripAIM && len(s) >= 3 && s[0] == ']' && s[1] > 0x20 && s[1] < 0x7F && s[2] > 0x20 && s[2] < 0x7F {
		r.AIM, s = s[:3], s[3:]
	}
	if s == "" {
		return skip(ErrGarbage, raw)
	}
	r.Data = s
	return r, nil
}

// replyPrefix starts every Newland reply: STX SOH "0000".
var replyPrefix = []byte{stx, 0x01, '0', '0', '0', '0'}

// reply takes a Newland reply from the head of the buffer (which starts
// with STX).
func (f *Framer) reply() (Frame, error) {
	n := min(len(f.buf), len(replyPrefix))
	if !bytes.Equal(f.buf[:n], replyPrefix[:n]) {
		return skip(ErrBadReply, f.take(1))
	}
	if n < len(replyPrefix) {
		return nil, ErrNeedMore
	}
	body := f.buf[len(replyPrefix):]
	end := bytes.Index(body, []byte{';', 0x03})
	brk := bytes.IndexAny(body, "\r\n\x02")
	if brk >= 0 && (end < 0 || brk < end) {
		// A line break or a new STX inside: this reply is cut short.
		return skip(ErrBadReply, f.take(len(replyPrefix)+brk))
	}
	if end < 0 || end > maxReplyBody {
		if len(body) > maxReplyBody {
			// Too long to be a reply: cut at the same byte whether it came
			// in one piece or many, and drop the rest up to a break.
			f.cutReply = true
			return skip(ErrBadReply, f.take(len(replyPrefix)+maxReplyBody+1))
		}
		return nil, ErrNeedMore
	}
	raw := f.take(len(replyPrefix) + end + 2)
	rep, err := ParseNewlandReply(raw)
	if err != nil {
		return skip(fmt.Errorf("%w: %w", ErrBadReply, err), raw)
	}
	return Reply{NewlandReply: rep, Raw: raw}, nil
}

// Flush ends whatever is buffered, as the driver does when the line has
// been idle: with SuffixNone it is a read; otherwise it is a read that lost
// its suffix (ErrIncomplete) or a cut reply (ErrBadReply). Call Next
// first; Flush returns ErrNeedMore when nothing is pending.
func (f *Framer) Flush() (Frame, error) {
	f.afterCR, f.cutReply = false, false
	if len(f.buf) == 0 {
		f.overlong = false
		return nil, ErrNeedMore
	}
	if f.overlong {
		f.overlong = false
		return skip(ErrTooLong, f.take(len(f.buf)))
	}
	if f.buf[0] == stx {
		return skip(ErrBadReply, f.take(len(f.buf)))
	}
	if f.cfg.Suffix == SuffixNone {
		n := len(f.buf)
		return f.read(f.take(n), n)
	}
	return skip(ErrIncomplete, f.take(len(f.buf)))
}
