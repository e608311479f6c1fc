package codec

import (
	"bytes"
	"errors"
	"fmt"
)

// Decoding errors. Every *DecodeError wraps exactly one of these, so
// callers test with errors.Is.
var (
	// ErrIncomplete means no whole frame is buffered yet; Feed more bytes.
	// It is not a fault and is never wrapped in a DecodeError.
	ErrIncomplete = errors.New("idcard: incomplete frame")
	// ErrSync: bytes before a preamble were skipped (line noise, garbage).
	ErrSync = errors.New("idcard: bytes outside a frame")
	// ErrLength: a preamble was followed by an impossible LEN.
	ErrLength = errors.New("idcard: bad frame length")
	// ErrChecksum: a whole frame arrived but its XOR checksum is wrong.
	ErrChecksum = errors.New("idcard: frame checksum mismatch")
)

// DecodeError reports bytes the decoder threw away, and why.
type DecodeError struct {
	Err       error // ErrSync, ErrLength or ErrChecksum
	Discarded int   // bytes dropped from the stream
	Len       int   // the LEN field (ErrLength, ErrChecksum)
	Got, Want byte  // received and computed checksum (ErrChecksum)
}

func (e *DecodeError) Error() string {
	switch e.Err {
	case ErrChecksum:
		return fmt.Sprintf("%v: frame of %d bytes has checksum %02X, want %02X", e.Err, e.Len+HeaderLen, e.Got, e.Want)
	case ErrLength:
		return fmt.Sprintf("%v: LEN %d (want %d..%d)", e.Err, e.Len, MinLen, MaxLen)
	}
	return fmt.Sprintf("%v: skipped %d bytes", e.Err, e.Discarded)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Decoder turns a byte stream into frames and resynchronises on its own:
// garbage is skipped up to the next preamble; after a bad LEN or checksum
// only the first preamble byte is dropped, so a good frame hidden inside a
// corrupt one is still found. Each call to Next consumes at least one byte
// or returns ErrIncomplete, so a loop over Next always ends. The zero value
// is ready to use.
type Decoder struct {
	buf []byte
	off int // start of unconsumed bytes in buf
}

// Feed appends received bytes.
func (d *Decoder) Feed(p []byte) {
	if d.off > 0 && d.off == len(d.buf) {
		d.buf, d.off = d.buf[:0], 0 // the common case: all consumed, reuse
	}
	d.buf = append(d.buf, p...)
}

// Pending is the number of buffered bytes not yet returned or discarded.
func (d *Decoder) Pending() int { return len(d.buf) - d.off }

// Awaiting reports, when a frame has started (preamble and LEN buffered,
// LEN plausible), how many of its bytes are buffered and how long it is.
// A driver uses it to tell a truncated reply from no reply at all.
func (d *Decoder) Awaiting() (have, want int, ok bool) {
	b := d.buf[d.off:]
	if len(b) < HeaderLen || !bytes.Equal(b[:PreambleLen], preamble[:]) {
		return len(b), 0, false
	}
	n := int(b[5])<<8 | int(b[6])
	if n < MinLen || n > MaxLen {
		return len(b), 0, false
	}
	return min(len(b), n+HeaderLen), n + HeaderLen, true
}

// Reset drops everything buffered (after a timeout, before a new command).
func (d *Decoder) Reset() { d.buf, d.off = d.buf[:0], 0 }

// Next returns the next frame, a *DecodeError for discarded bytes, or
// ErrIncomplete when more input is needed. The frame's Payload is a copy
// and stays valid after later calls.
func (d *Decoder) Next() (Frame, error) {
	b := d.buf[d.off:]
	if len(b) == 0 {
		d.compact()
		return Frame{}, ErrIncomplete
	}
	i := bytes.Index(b, preamble[:])
	if i < 0 {
		// Keep a tail that may be the start of a preamble split across reads.
		keep := 0
		for k := min(len(b), PreambleLen-1); k > 0; k-- {
			if bytes.Equal(b[len(b)-k:], preamble[:k]) {
				keep = k
				break
			}
		}
		if n := len(b) - keep; n > 0 {
			d.off += n
			return Frame{}, &DecodeError{Err: ErrSync, Discarded: n}
		}
		d.compact()
		return Frame{}, ErrIncomplete
	}
	if i > 0 {
		d.off += i
		return Frame{}, &DecodeError{Err: ErrSync, Discarded: i}
	}
	if len(b) < HeaderLen {
		d.compact()
		return Frame{}, ErrIncomplete
	}
	n := int(b[5])<<8 | int(b[6])
	if n < MinLen || n > MaxLen {
		d.off++ // drop one preamble byte; what follows may be a real frame
		return Frame{}, &DecodeError{Err: ErrLength, Discarded: 1, Len: n}
	}
	total := n + HeaderLen
	if len(b) < total {
		d.compact()
		return Frame{}, ErrIncomplete
	}
	want := Checksum(b[PreambleLen : total-1])
	if got := b[total-1]; got != want {
		d.off++
		return Frame{}, &DecodeError{Err: ErrChecksum, Discarded: 1, Len: n, Got: got, Want: want}
	}
	f := Frame{Payload: append([]byte(nil), b[HeaderLen:total-1]...)}
	d.off += total
	return f, nil
}

// compact moves unconsumed bytes to the front so buf does not grow without
// bound on a long stream.
func (d *Decoder) compact() {
	if d.off == 0 {
		return
	}
	n := copy(d.buf, d.buf[d.off:])
	d.buf, d.off = d.buf[:n], 0
}
