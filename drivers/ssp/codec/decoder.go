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
	ErrIncomplete = errors.New("ssp: incomplete frame")
	// ErrSync: bytes before a frame start (a lone STX) were skipped.
	ErrSync = errors.New("ssp: bad sync")
	// ErrLength: a frame announced zero data bytes.
	ErrLength = errors.New("ssp: bad length")
	// ErrStuffing: a single STX inside a frame, i.e. the frame was cut
	// short and another one starts.
	ErrStuffing = errors.New("ssp: unstuffed STX inside a frame")
	// ErrCRC: a frame's CRC did not match.
	ErrCRC = errors.New("ssp: bad crc")
)

// DecodeError reports bytes the decoder threw away, and why.
type DecodeError struct {
	Err       error  // ErrSync, ErrLength, ErrStuffing or ErrCRC
	Discarded int    // raw bytes dropped from the stream
	Got, Want uint16 // received and computed CRC (ErrCRC only)
	Length    byte   // the LEN byte seen (ErrLength, ErrCRC)
}

func (e *DecodeError) Error() string {
	switch e.Err {
	case ErrCRC:
		return fmt.Sprintf("%v: frame of %d data bytes has crc %04X, want %04X", e.Err, e.Length, e.Got, e.Want)
	case ErrLength:
		return fmt.Sprintf("%v: length byte %d", e.Err, e.Length)
	}
	return fmt.Sprintf("%v: skipped %d bytes", e.Err, e.Discarded)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Decoder turns a byte stream into frames, collapsing stuffed 7F 7F pairs.
// It resynchronises on its own: garbage before a frame start is skipped,
// and after a bad length, a cut-short frame or a bad CRC only the STX of
// the bad frame is dropped, so a good frame hidden behind a corrupt one is
// still found. A frame starts at a lone STX; in a run of STX bytes only the
// last can start one. Each call to Next consumes at least one byte or
// returns ErrIncomplete, so a loop over Next always ends. The zero value is
// ready to use.
type Decoder struct {
	buf     []byte
	off     int    // start of unconsumed bytes in buf
	scratch []byte // unstuffed bytes of the frame being parsed
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

// Reset drops everything buffered (after a timeout, before a retry).
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
	if b[0] != STX {
		n := 1
		for n < len(b) && b[n] != STX {
			n++
		}
		d.off += n
		return Frame{}, &DecodeError{Err: ErrSync, Discarded: n}
	}
	run := 1
	for run < len(b) && b[run] == STX {
		run++
	}
	if run == len(b) {
		d.compact()
		return Frame{}, ErrIncomplete // what follows decides
	}
	if run > 1 {
		// Stuffed pairs outside a frame, or a stray 7F just before a
		// start: only the last STX of the run can begin a frame.
		d.off += run - 1
		return Frame{}, &DecodeError{Err: ErrSync, Discarded: run - 1}
	}

	out := d.scratch[:0]
	need := 2 // SEQ/ID and LEN until LEN is known
	i := 1
	for len(out) < need {
		if i >= len(b) {
			d.scratch = out
			d.compact()
			return Frame{}, ErrIncomplete
		}
		c := b[i]
		if c == STX {
			if i+1 >= len(b) {
				d.scratch = out
				d.compact()
				return Frame{}, ErrIncomplete
			}
			if b[i+1] != STX {
				d.scratch = out
				d.off++
				return Frame{}, &DecodeError{Err: ErrStuffing, Discarded: 1}
			}
			i += 2
		} else {
			i++
		}
		out = append(out, c)
		if len(out) == 2 {
			if out[1] == 0 {
				d.scratch = out
				d.off++
				return Frame{}, &DecodeError{Err: ErrLength, Discarded: 1, Length: 0}
			}
			need = 4 + int(out[1])
		}
	}
	d.scratch = out
	n := len(out)
	want := CRC16(out[:n-2])
	got := uint16(out[n-2]) | uint16(out[n-1])<<8
	if got != want {
		d.off++
		return Frame{}, &DecodeError{Err: ErrCRC, Discarded: 1, Length: out[1], Got: got, Want: want}
	}
	f := Frame{Seq: out[0]&SeqFlag != 0, Addr: out[0] &^ SeqFlag, Data: append([]byte(nil), out[2:n-2]...)}
	d.off += i
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
