// Package codec is the Innovative Technology SSP / eSSP wire format used by
// the NV9, NV10 and NV200 bill validators: framing with byte stuffing and
// CRC, the generic responses, the commands and their reply layouts, the poll
// events and the eSSP encryption layer (protocols.md §3b, §6.2, §6.3).
//
// A frame is STX(7F) SEQ/ID LEN DATA... CRCL CRCH. SEQ/ID is the slave id
// (bits 0-6) OR'ed with the sequence flag (bit 7); LEN counts DATA; the CRC
// is CRC-16 poly 0x8005, seed 0xFFFF, MSB-first (CRC-16/CMS) over
// SEQ/ID..DATA, sent low byte first. After the CRC is computed every 7F in
// SEQ/ID..CRCH is sent twice.
//
// The package is pure: no I/O, no goroutines, no mutable package state.
package codec

import (
	"errors"
	"fmt"
)

// Framing constants.
const (
	STX     = 0x7F // first byte of every frame; doubled when it occurs inside one
	SeqFlag = 0x80 // sequence flag in the SEQ/ID byte
	// MaxAddr is the highest slave id. Ids are 7 bits, but SEQ/ID 7F
	// (id 7F, flag clear) would make a frame begin 7F 7F 7F, which a
	// receiver cannot tell from a stuffed pair before a frame start.
	MaxAddr = 0x7E
	MaxData = 255 // LEN is one byte
	// AddrValidator is the slave id of a note validator (brief §3b).
	AddrValidator = 0x00
)

// Frame is one decoded frame. Data is the command (host to slave) or the
// reply (slave to host), before any eSSP decryption.
type Frame struct {
	Seq  bool // the sequence flag
	Addr byte // slave id, 0..0x7F
	Data []byte
}

// SeqID is the frame's SEQ/ID byte.
func (f Frame) SeqID() byte {
	b := f.Addr & 0x7F
	if f.Seq {
		b |= SeqFlag
	}
	return b
}

func (f Frame) String() string {
	s := 0
	if f.Seq {
		s = 1
	}
	return fmt.Sprintf("id %02X seq %d: % X", f.Addr, s, f.Data)
}

// Encoding errors.
var (
	ErrEmpty   = errors.New("ssp: frame without data")
	ErrTooLong = errors.New("ssp: frame data too long")
	ErrAddr    = errors.New("ssp: slave id above 0x7E")
)

// crcTable is the byte-wise table for the MSB-first polynomial 0x8005. It
// is computed once and never written again.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x8005
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 is SSP's CRC: polynomial 0x8005, initial value 0xFFFF, no
// reflection, no final XOR (CRC-16/CMS). CRC16([]byte("123456789")) == 0xAEE7.
func CRC16(p []byte) uint16 {
	c := uint16(0xFFFF)
	for _, b := range p {
		c = c<<8 ^ crcTable[byte(c>>8)^b]
	}
	return c
}

// Encode returns the wire bytes of f.
func Encode(f Frame) ([]byte, error) {
	return AppendFrame(make([]byte, 0, 8+len(f.Data)), f)
}

// AppendFrame appends the wire bytes of f to dst, so a poll loop can reuse
// one buffer. On error dst is returned unchanged.
func AppendFrame(dst []byte, f Frame) ([]byte, error) {
	switch {
	case len(f.Data) == 0:
		return dst, ErrEmpty
	case len(f.Data) > MaxData:
		return dst, fmt.Errorf("%w: %d data bytes, max %d", ErrTooLong, len(f.Data), MaxData)
	case f.Addr > MaxAddr:
		return dst, fmt.Errorf("%w: %#02x", ErrAddr, f.Addr)
	}
	// The CRC is over the unstuffed bytes, so compute it first.
	c := uint16(0xFFFF)
	head := [2]byte{f.SeqID(), byte(len(f.Data))}
	for _, b := range head {
		c = c<<8 ^ crcTable[byte(c>>8)^b]
	}
	for _, b := range f.Data {
		c = c<<8 ^ crcTable[byte(c>>8)^b]
	}
	dst = append(dst, STX)
	dst = appendStuffed(dst, head[:]...)
	dst = appendStuffed(dst, f.Data...)
	return appendStuffed(dst, byte(c), byte(c>>8)), nil
}

func appendStuffed(dst []byte, p ...byte) []byte {
	for _, b := range p {
		dst = append(dst, b)
		if b == STX {
			dst = append(dst, STX)
		}
	}
	return dst
}
