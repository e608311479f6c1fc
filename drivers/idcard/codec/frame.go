// Package codec is the wire format of the resident ID card reader's SAM
// module (GA/T 467, brief protocols.md §1): framing with its XOR checksum,
// the commands and SW3 status codes, and the layouts of what the SAM reads
// from a card (the 256-byte text block of four card types, the WLT photo,
// the fingerprint, the appended address) and of its own SAM id.
//
// Both directions use one frame shape:
//
//	AA AA AA 96 69 | LEN1 LEN2 | payload | CHK
//
// LEN is big-endian and counts payload + CHK; CHK is the XOR of LEN1..the
// last payload byte. A host request's payload is CMD PARA [DATA]; a SAM
// reply's is SW1 SW2 SW3 [DATA]. A frame is LEN + 7 bytes long.
//
// The package is pure: no I/O, no goroutines, no mutable package state.
package codec

import (
	"errors"
	"fmt"
)

// Framing constants.
const (
	PreambleLen = 5 // AA AA AA 96 69
	HeaderLen   = 7 // preamble + LEN
	// MinLen is the smallest LEN a frame can have: CMD PARA CHK. A reply
	// needs one more (SW1 SW2 SW3 CHK).
	MinLen = 3
	// MaxLen bounds LEN. The largest reply in the brief is 30 10's 2314
	// (§1.6); a bound keeps a corrupt LEN from making a reader wait for
	// 64 KiB that will never come.
	MaxLen = 4096
)

// preamble is read-only.
var preamble = [PreambleLen]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69}

// Preamble returns the five bytes that start every frame.
func Preamble() [PreambleLen]byte { return preamble }

// Errors of frame building and payload parsing.
var (
	ErrTooLong = errors.New("idcard: frame too long")
	ErrShort   = errors.New("idcard: payload too short")
)

// Checksum is the XOR of b: the frame checksum when b is LEN1..DATA (§6.2).
func Checksum(b []byte) byte {
	var c byte
	for _, x := range b {
		c ^= x
	}
	return c
}

// AppendFrame appends a frame carrying payload to dst.
func AppendFrame(dst, payload []byte) ([]byte, error) {
	n := len(payload) + 1
	if n > MaxLen {
		return dst, fmt.Errorf("%w: LEN %d, max %d", ErrTooLong, n, MaxLen)
	}
	start := len(dst)
	dst = append(dst, preamble[:]...)
	dst = append(dst, byte(n>>8), byte(n))
	dst = append(dst, payload...)
	return append(dst, Checksum(dst[start+PreambleLen:])), nil
}

// Op is a command and its parameter byte, CMD<<8 | PARA (§1.3).
type Op uint16

// The commands of §1.3.
const (
	OpReset           Op = 0x10FF // SAM reset (复位)
	OpSAMStatus       Op = 0x11FF // SAM status check (状态检测)
	OpSAMID           Op = 0x12FF // read SAM management info / SAM id
	OpFindCard        Op = 0x2001 // find card (寻找证/卡)
	OpSelectCard      Op = 0x2002 // select card (选取证/卡)
	OpReadText        Op = 0x3001 // read text + photo (读基本信息)
	OpReadAppended    Op = 0x3003 // read appended address (读追加住址)
	OpReadFingerprint Op = 0x3010 // read text + photo + fingerprint
	OpSetMaxRFByte    Op = 0x61FF // set max RF frame bytes; 1 data byte
)

// DefaultMaxRFByte is the value hev-idcard-reader sends with 61 FF.
const DefaultMaxRFByte = 0x50

// Cmd is the CMD byte.
func (o Op) Cmd() byte { return byte(o >> 8) }

// Para is the PARA byte.
func (o Op) Para() byte { return byte(o) }

// MakeOp builds an Op from its two bytes.
func MakeOp(cmd, para byte) Op { return Op(cmd)<<8 | Op(para) }

func (o Op) String() string {
	var name string
	switch o {
	case OpReset:
		name = "SAM reset"
	case OpSAMStatus:
		name = "SAM status"
	case OpSAMID:
		name = "read SAM id"
	case OpFindCard:
		name = "find card"
	case OpSelectCard:
		name = "select card"
	case OpReadText:
		name = "read text+photo"
	case OpReadAppended:
		name = "read appended address"
	case OpReadFingerprint:
		name = "read text+photo+fingerprint"
	case OpSetMaxRFByte:
		name = "set max RF byte"
	default:
		return fmt.Sprintf("command %02X %02X", o.Cmd(), o.Para())
	}
	return fmt.Sprintf("%s (%02X %02X)", name, o.Cmd(), o.Para())
}

// DataLen is the number of DATA bytes a request for o carries, or -1 for
// commands this package does not know.
func (o Op) DataLen() int {
	switch o {
	case OpReset, OpSAMStatus, OpSAMID, OpFindCard, OpSelectCard, OpReadText, OpReadAppended, OpReadFingerprint:
		return 0
	case OpSetMaxRFByte:
		return 1
	}
	return -1
}

// ReplyLen is the length of the whole frame a SAM sends when o succeeds,
// or 0 when the brief does not fix it. For 30 01 and 30 10 it is the
// length with a 256-byte text, a 1024-byte photo and (30 10) a 1024-byte
// fingerprint. Drivers use it to size timeouts by wire time.
func (o Op) ReplyLen() int {
	const reply = HeaderLen + 4 // SW1 SW2 SW3 CHK
	switch o {
	case OpSAMStatus, OpSetMaxRFByte, OpReset:
		return reply
	case OpSAMID:
		return reply + SAMIDLen
	case OpFindCard:
		return reply + 4
	case OpSelectCard:
		return reply + 8
	case OpReadText:
		return reply + 4 + TextLen + PhotoLen
	case OpReadFingerprint:
		return reply + 6 + TextLen + PhotoLen + FingerprintLen
	case OpReadAppended:
		return reply + AddressLen
	}
	return 0
}

// Expects reports whether r can be the SAM's answer to o. Error statuses
// carry no data; a success carries the data o's reply has (§1.3, §1.6,
// §1.11). A driver uses it to skip a late reply to an earlier command
// that timed out: SAM replies do not name the command they answer.
func (o Op) Expects(r Reply) bool {
	switch r.Status {
	case StatusSuccess, StatusCardFound, StatusNoContent:
	default:
		return len(r.Data) == 0
	}
	switch o {
	case OpFindCard:
		return r.Status == StatusCardFound && len(r.Data) == 4
	case OpReadAppended:
		if r.Status == StatusNoContent {
			return len(r.Data) == 0
		}
		return r.Status == StatusSuccess && len(r.Data) == AddressLen
	case OpReadText, OpReadFingerprint:
		// 91 could mean an item is absent on the card (§1.4).
		if r.Status == StatusNoContent {
			return len(r.Data) == 0
		}
		hdr := 4
		if o == OpReadFingerprint {
			hdr = 6
		}
		return r.Status == StatusSuccess && len(r.Data) >= hdr+TextLen
	}
	if r.Status != StatusSuccess {
		return false
	}
	switch o {
	case OpSAMStatus:
		return len(r.Data) == 0
	case OpSAMID:
		return len(r.Data) == SAMIDLen
	case OpSelectCard:
		return len(r.Data) == 8
	}
	return true // reset, set max RF byte, unknown: not fixed by the brief
}

// Request is a host → SAM frame.
type Request struct {
	Op   Op
	Data []byte
}

// Append appends the request's wire bytes to dst.
func (r Request) Append(dst []byte) ([]byte, error) {
	p := make([]byte, 0, 2+len(r.Data))
	p = append(p, r.Op.Cmd(), r.Op.Para())
	return AppendFrame(dst, append(p, r.Data...))
}

// Encode returns the request's wire bytes.
func (r Request) Encode() ([]byte, error) { return r.Append(nil) }

func (r Request) String() string {
	if len(r.Data) == 0 {
		return r.Op.String()
	}
	return fmt.Sprintf("%v % X", r.Op, r.Data)
}

// Reply is a SAM → host frame. In every reply seen SW1 = SW2 = 00 and the
// status is SW3 (§1.2).
type Reply struct {
	SW1, SW2 byte
	Status   Status // SW3
	Data     []byte
}

// Append appends the reply's wire bytes to dst.
func (r Reply) Append(dst []byte) ([]byte, error) {
	p := make([]byte, 0, 3+len(r.Data))
	p = append(p, r.SW1, r.SW2, byte(r.Status))
	return AppendFrame(dst, append(p, r.Data...))
}

// Encode returns the reply's wire bytes.
func (r Reply) Encode() ([]byte, error) { return r.Append(nil) }

// Err is nil for success (90) and card found (9F), else a *StatusError
// that matches the status's sentinel (ErrNoCard, ErrNoContent, ...).
func (r Reply) Err() error { return r.Status.Err() }

func (r Reply) String() string {
	return fmt.Sprintf("SW %02X %02X %02X, %d data bytes", r.SW1, r.SW2, byte(r.Status), len(r.Data))
}

// Frame is one decoded frame: the bytes between LEN and CHK.
type Frame struct {
	Payload []byte
}

// Request reads the frame as a host request.
func (f Frame) Request() (Request, error) {
	if len(f.Payload) < 2 {
		return Request{}, fmt.Errorf("%w: request of %d bytes, need CMD PARA", ErrShort, len(f.Payload))
	}
	r := Request{Op: MakeOp(f.Payload[0], f.Payload[1])}
	if len(f.Payload) > 2 {
		r.Data = f.Payload[2:]
	}
	return r, nil
}

// Reply reads the frame as a SAM reply.
func (f Frame) Reply() (Reply, error) {
	if len(f.Payload) < 3 {
		return Reply{}, fmt.Errorf("%w: reply of %d bytes, need SW1 SW2 SW3", ErrShort, len(f.Payload))
	}
	r := Reply{SW1: f.Payload[0], SW2: f.Payload[1], Status: Status(f.Payload[2])}
	if len(f.Payload) > 3 {
		r.Data = f.Payload[3:]
	}
	return r, nil
}
