// Package codec is the JCM ID003 wire format: framing, CRC, command and
// status codes and the data layouts of the setting and table commands.
//
// A frame is SYNC(FC) LNG CMD [DATA...] CRCL CRCH. LNG is the total length
// including SYNC and the two CRC bytes (5 + len(DATA)); the CRC is
// CRC-16/KERMIT over SYNC..DATA, sent low byte first (brief §3a, §6.2).
//
// The package is pure: no I/O, no goroutines, no mutable package state.
package codec

import (
	"errors"
	"fmt"
)

// Framing constants.
const (
	Sync = 0xFC // first byte of every frame

	// Overhead is SYNC + LNG + CMD + 2 CRC bytes.
	Overhead = 5
	// MaxFrameLen is the largest frame LNG (one byte) can describe.
	MaxFrameLen = 255
	// MaxDataLen is the most data one frame can carry.
	MaxDataLen = MaxFrameLen - Overhead
)

// Frame is one decoded frame. Cmd is a Command when the host sends it and a
// Status when the acceptor sends it; the two share one code space.
type Frame struct {
	Cmd  byte
	Data []byte
}

func (f Frame) String() string {
	if len(f.Data) == 0 {
		return fmt.Sprintf("%02X", f.Cmd)
	}
	return fmt.Sprintf("%02X % X", f.Cmd, f.Data)
}

// ErrTooLong is returned by Encode for data that does not fit LNG.
var ErrTooLong = errors.New("id003: frame data too long")

// crcTable is the byte-wise table for the reflected polynomial 0x8408. It
// is computed once and never written again.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0x8408
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 is CRC-16/KERMIT: reflected polynomial 0x8408 (x^16+x^12+x^5+1),
// initial value 0, no final XOR. CRC16([]byte("123456789")) == 0x2189.
func CRC16(p []byte) uint16 {
	var c uint16
	for _, b := range p {
		c = c>>8 ^ crcTable[byte(c)^b]
	}
	return c
}

// Encode returns the wire bytes of f.
func Encode(f Frame) ([]byte, error) {
	return AppendFrame(make([]byte, 0, Overhead+len(f.Data)), f)
}

// AppendFrame appends the wire bytes of f to dst, so a poll loop can reuse
// one buffer.
func AppendFrame(dst []byte, f Frame) ([]byte, error) {
	if len(f.Data) > MaxDataLen {
		return dst, fmt.Errorf("%w: %d data bytes, max %d", ErrTooLong, len(f.Data), MaxDataLen)
	}
	start := len(dst)
	dst = append(dst, Sync, byte(Overhead+len(f.Data)), f.Cmd)
	dst = append(dst, f.Data...)
	c := CRC16(dst[start:])
	return append(dst, byte(c), byte(c>>8)), nil
}
