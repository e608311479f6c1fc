package codec

import (
	"errors"
	"fmt"
)

// Decoding errors. Every *DecodeError wraps exactly one of these, so
// callers test with errors.Is.
var (
	// ErrIncomplete means no whole frame is buffered yet; Feed more bytes.
	// It is not a fault and is never wrapped in a DecodeError.
	ErrIncomplete = errors.New("id003: incomplete frame")
	// ErrSync: bytes that do not start with SYNC were skipped.
	ErrSync = errors.New("id003: bad sync")
	// ErrLength: a SYNC was followed by an impossible length byte.
	ErrLength = errors.New("id003: bad length")
	// ErrCRC: a frame's CRC did not match.
	ErrCRC = errors.New("id003: bad crc")
)

// DecodeError reports bytes the decoder threw away, and why.
type DecodeError struct {
	Err       error  // ErrSync, ErrLength or ErrCRC
	Discarded int    // bytes dropped from the stream
	Got, Want uint16 // the received and computed CRC (ErrCRC only)
	Length    byte   // the LNG byte seen (ErrLength, ErrCRC)
}

func (e *DecodeError) Error() string {
	switch e.Err {
	case ErrCRC:
		return fmt.Sprintf("%v: frame of %d bytes has crc %04X, want %04X", e.Err, e.Length, e.Got, e.Want)
	case ErrLength:
		return fmt.Sprintf("%v: length byte %d (want %d..%d)", e.Err, e.Length, Overhead, MaxFrameLen)
	}
	return fmt.Sprintf("%v: skipped %d bytes", e.Err, e.Discarded)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Decoder turns a byte stream into frames. It resynchronises on its own:
// after a bad SYNC, length or CRC it drops as little as possible (garbage
// up to the next SYNC, or just the SYNC byte of a bad frame, so a good
// frame hidden behind a corrupt one is still found). Each call to Next
// consumes at least one byte or returns ErrIncomplete, so a loop over Next
// always ends. The zero value is ready to use.
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

// Reset drops everything buffered (after a timeout, before a new command).
func (d *Decoder) Reset() { d.buf, d.off = d.buf[:0], 0 }

// Next returns the next frame, a *DecodeError for discarded bytes, or
// ErrIncomplete when more input is needed. The frame's Data is a copy and
// stays valid after later calls.
func (d *Decoder) Next() (Frame, error) {
	b := d.buf[d.off:]
	if len(b) == 0 {
		d.compact()
		return Frame{}, ErrIncomplete
	}
	if b[0] != Sync {
		n := 1
		for n < len(b) && b[n] != Sync {
			n++
		}
		d.off += n
		return Frame{}, &DecodeError{Err: ErrSync, Discarded: n}
	}
	if len(b) < 2 {
		return Frame{}, ErrIncomplete
	}
	l := int(b[1])
	if l < Overhead {
		d.off++ // drop the SYNC only; what follows may be a real frame
		return Frame{}, &DecodeError{Err: ErrLength, Discarded: 1, Length: b[1]}
	}
	if len(b) < l {
		d.compact()
		return Frame{}, ErrIncomplete
	}
	want := CRC16(b[:l-2])
	got := uint16(b[l-2]) | uint16(b[l-1])<<8
	if got != want {
		d.off++
		return Frame{}, &DecodeError{Err: ErrCRC, Discarded: 1, Length: b[1], Got: got, Want: want}
	}
	f := Frame{Cmd: b[2]}
	if l > Overhead {
		f.Data = append([]byte(nil), b[3:l-2]...)
	}
	d.off += l
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
