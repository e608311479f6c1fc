package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Command is the first data byte of a host → slave frame (brief §3b).
type Command byte

const (
	CmdReset               Command = 0x01
	CmdSetInhibits         Command = 0x02 // 2 bytes LE bitmask, LSB = channel 1, 1 = enabled
	CmdDisplayOn           Command = 0x03
	CmdDisplayOff          Command = 0x04
	CmdSetupRequest        Command = 0x05 // reply: see Setup
	CmdHostProtocolVersion Command = 0x06 // 1 byte; F0, or F8 if unsupported
	CmdPoll                Command = 0x07 // reply: F0 + events
	CmdReject              Command = 0x08 // hand back the note in escrow
	CmdDisable             Command = 0x09
	CmdEnable              Command = 0x0A
	CmdSerialNumber        Command = 0x0C // reply: 4 bytes BE
	CmdUnitData            Command = 0x0D
	CmdChannelValues       Command = 0x0E // reply: see ChannelValues
	CmdChannelSecurity     Command = 0x0F
	CmdSync                Command = 0x11 // resets the slave's sequence flag
	CmdLastRejectCode      Command = 0x17 // reply: 1 byte reason
	CmdHold                Command = 0x18 // keep the note in escrow; F5 if none
	CmdFirmwareVersion     Command = 0x20 // reply: ASCII
	CmdDatasetVersion      Command = 0x21 // reply: ASCII
	CmdSetGenerator        Command = 0x4A // 8 bytes LE prime
	CmdSetModulus          Command = 0x4B // 8 bytes LE prime
	CmdRequestKeyExchange  Command = 0x4C // 8 bytes LE host intermediate; reply F0 + 8 bytes
	CmdSetBaudRate         Command = 0x4D // 00 9600, 01 38400, 02 115200
	CmdPollWithAck         Command = 0x56 // events repeat until CmdEventAck
	CmdEventAck            Command = 0x57
	CmdSetFixedKey         Command = 0x60 // 8 bytes LE, encrypted only
)

// Baud rate codes of CmdSetBaudRate.
const (
	Baud9600   = 0x00
	Baud38400  = 0x01
	Baud115200 = 0x02
)

var commandNames = map[Command]string{
	CmdReset: "reset", CmdSetInhibits: "set channel inhibits", CmdDisplayOn: "display on",
	CmdDisplayOff: "display off", CmdSetupRequest: "setup request", CmdHostProtocolVersion: "host protocol version",
	CmdPoll: "poll", CmdReject: "reject banknote", CmdDisable: "disable", CmdEnable: "enable",
	CmdSerialNumber: "serial number", CmdUnitData: "unit data", CmdChannelValues: "channel value request",
	CmdChannelSecurity: "channel security", CmdSync: "sync", CmdLastRejectCode: "last reject code",
	CmdHold: "hold", CmdFirmwareVersion: "firmware version", CmdDatasetVersion: "dataset version",
	CmdSetGenerator: "set generator", CmdSetModulus: "set modulus", CmdRequestKeyExchange: "request key exchange",
	CmdSetBaudRate: "set baud rate", CmdPollWithAck: "poll with ack", CmdEventAck: "event ack",
	CmdSetFixedKey: "set fixed encryption key",
}

func (c Command) String() string {
	if n, ok := commandNames[c]; ok {
		return n
	}
	return fmt.Sprintf("command %02X", byte(c))
}

// Known reports whether c is one of the commands above.
func (c Command) Known() bool { _, ok := commandNames[c]; return ok }

// ArgLen is the number of data bytes that follow the command code.
// SetBaudRate takes 1 (the brief's form) or 2 bytes; ArgLen gives 1.
func (c Command) ArgLen() int {
	switch c {
	case CmdSetInhibits:
		return 2
	case CmdHostProtocolVersion, CmdSetBaudRate:
		return 1
	case CmdSetGenerator, CmdSetModulus, CmdRequestKeyExchange, CmdSetFixedKey:
		return 8
	}
	return 0
}

// ValidArgs reports whether n argument bytes are right for c.
func (c Command) ValidArgs(n int) bool {
	if c == CmdSetBaudRate {
		return n == 1 || n == 2
	}
	return n == c.ArgLen()
}

// PlainOnly reports whether eSSP sends c unencrypted: SYNC and the key
// exchange happen before (or without) a key.
func (c Command) PlainOnly() bool {
	switch c {
	case CmdSync, CmdSetGenerator, CmdSetModulus, CmdRequestKeyExchange:
		return true
	}
	return false
}

// Build returns the command's data bytes: code then args.
func Build(c Command, args ...byte) []byte {
	return append([]byte{byte(c)}, args...)
}

// SetInhibits is CmdSetInhibits with the enabled-channel mask (bit 0 =
// channel 1, 1 = enabled; everything is inhibited at power-up).
func SetInhibits(mask uint16) []byte {
	return []byte{byte(CmdSetInhibits), byte(mask), byte(mask >> 8)}
}

// HostProtocolVersion asks the slave to speak protocol version v.
func HostProtocolVersion(v byte) []byte { return []byte{byte(CmdHostProtocolVersion), v} }

// SetGenerator, SetModulus and RequestKeyExchange carry a 64-bit value,
// little-endian.
func SetGenerator(g uint64) []byte       { return build64(CmdSetGenerator, g) }
func SetModulus(p uint64) []byte         { return build64(CmdSetModulus, p) }
func RequestKeyExchange(v uint64) []byte { return build64(CmdRequestKeyExchange, v) }
func SetFixedKey(k uint64) []byte        { return build64(CmdSetFixedKey, k) }

func build64(c Command, v uint64) []byte {
	return binary.LittleEndian.AppendUint64([]byte{byte(c)}, v)
}

// Arg64 reads the 64-bit little-endian argument of a 4A/4B/4C/60 command
// (data includes the command code).
func Arg64(data []byte) (uint64, error) {
	if len(data) != 9 {
		return 0, fmt.Errorf("%w: %d bytes, want code + 8", ErrShort, len(data))
	}
	return binary.LittleEndian.Uint64(data[1:]), nil
}

// Response is the first data byte of every reply: a generic response.
type Response byte

const (
	OK             Response = 0xF0
	UnknownCommand Response = 0xF2
	WrongParams    Response = 0xF3
	OutOfRange     Response = 0xF4
	CannotProcess  Response = 0xF5 // may be followed by an error byte
	SoftwareError  Response = 0xF6
	Fail           Response = 0xF8
	KeyNotSet      Response = 0xFA // encryption expected
)

func (r Response) String() string {
	switch r {
	case OK:
		return "ok"
	case UnknownCommand:
		return "command not known"
	case WrongParams:
		return "wrong number of parameters"
	case OutOfRange:
		return "parameter out of range"
	case CannotProcess:
		return "command cannot be processed"
	case SoftwareError:
		return "software error"
	case Fail:
		return "fail"
	case KeyNotSet:
		return "key not set"
	}
	return fmt.Sprintf("response %02X", byte(r))
}

// Known reports whether r is a generic response code.
func (r Response) Known() bool {
	switch r {
	case OK, UnknownCommand, WrongParams, OutOfRange, CannotProcess, SoftwareError, Fail, KeyNotSet:
		return true
	}
	return false
}

// Reply errors.
var (
	ErrShort           = errors.New("ssp: data too short")
	ErrUnknownResponse = errors.New("ssp: unknown generic response")
	// ErrRefused is wrapped by *ReplyError: the slave answered, not OK.
	ErrRefused = errors.New("ssp: command refused")
)

// Reply is a slave's answer: the generic response and what follows it.
type Reply struct {
	Code Response
	Data []byte // after the code (aliases the parsed slice)
}

// ParseReply splits a reply's data (after any decryption).
func ParseReply(data []byte) (Reply, error) {
	if len(data) == 0 {
		return Reply{}, fmt.Errorf("%w: empty reply", ErrShort)
	}
	r := Reply{Code: Response(data[0]), Data: data[1:]}
	if !r.Code.Known() {
		return r, fmt.Errorf("%w: %02X", ErrUnknownResponse, data[0])
	}
	return r, nil
}

// Err is nil for OK and a *ReplyError otherwise.
func (r Reply) Err() error {
	if r.Code == OK {
		return nil
	}
	e := &ReplyError{Code: r.Code}
	if r.Code == CannotProcess && len(r.Data) > 0 {
		e.Detail, e.HasDetail = r.Data[0], true
	}
	return e
}

// ReplyError is a non-OK generic response.
type ReplyError struct {
	Code      Response
	Detail    byte // F5's error byte, if any
	HasDetail bool
}

func (e *ReplyError) Error() string {
	if e.HasDetail {
		return fmt.Sprintf("%v: %v (error %02X)", ErrRefused, e.Code, e.Detail)
	}
	return fmt.Sprintf("%v: %v", ErrRefused, e.Code)
}

func (e *ReplyError) Unwrap() error { return ErrRefused }

// ParseSerial reads a serial number reply (4 bytes big-endian, after F0).
func ParseSerial(data []byte) (uint32, error) {
	if len(data) < 4 {
		return 0, fmt.Errorf("serial number: %w: %d bytes", ErrShort, len(data))
	}
	return binary.BigEndian.Uint32(data), nil
}

// ParseKeyExchange reads the slave's intermediate key from the reply to
// CmdRequestKeyExchange (8 bytes little-endian, after F0).
func ParseKeyExchange(data []byte) (uint64, error) {
	if len(data) < 8 {
		return 0, fmt.Errorf("key exchange: %w: %d bytes", ErrShort, len(data))
	}
	return binary.LittleEndian.Uint64(data), nil
}
