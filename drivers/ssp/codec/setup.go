package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ExpandedProtocol is the first protocol version whose setup request and
// channel value replies carry per-channel country codes and 4-byte values.
const ExpandedProtocol = 6

// Channel is one note channel as a setup request reports it.
type Channel struct {
	Value    byte   // channel value (whole currency units × ValueMultiplier)
	Security byte   // channel security
	Country  string // 3 ASCII letters (protocol ≥ 6), else ""
	Full     uint32 // full value (protocol ≥ 6), else 0
}

// Setup is the reply to CmdSetupRequest for a note validator (brief §3b):
// unit type(1), firmware(4 ASCII), country(3 ASCII), value multiplier(3
// BE), n(1), n channel values, n channel securities, real value
// multiplier(3 BE), protocol version(1); protocol ≥ 6 appends n×3 ASCII
// country codes and n×4 LE full values.
type Setup struct {
	UnitType            byte
	Firmware            string // 4 characters
	Country             string // 3 characters
	ValueMultiplier     uint32 // 24 bits
	Channels            []Channel
	RealValueMultiplier uint32 // 24 bits: value × this = minor units (fen)
	Protocol            byte
}

// Setup parsing errors (wrapped with detail).
var ErrSetup = errors.New("ssp: bad setup request reply")

// ParseSetup reads the data after F0. A protocol ≥ 6 reply without the
// expanded part is accepted (values then come from the 1-byte table).
func ParseSetup(data []byte) (Setup, error) {
	const fixed = 1 + 4 + 3 + 3 + 1
	if len(data) < fixed {
		return Setup{}, fmt.Errorf("%w: %d bytes, need at least %d", ErrSetup, len(data), fixed)
	}
	s := Setup{
		UnitType:        data[0],
		Firmware:        string(data[1:5]),
		Country:         string(data[5:8]),
		ValueMultiplier: be24(data[8:11]),
	}
	n := int(data[11])
	p := data[fixed:]
	if len(p) < 2*n+4 {
		return Setup{}, fmt.Errorf("%w: %d channels need %d more bytes, have %d", ErrSetup, n, 2*n+4, len(p))
	}
	s.Channels = make([]Channel, n)
	for i := range n {
		s.Channels[i].Value = p[i]
		s.Channels[i].Security = p[n+i]
	}
	p = p[2*n:]
	s.RealValueMultiplier = be24(p[:3])
	s.Protocol = p[3]
	p = p[4:]
	if s.Protocol >= ExpandedProtocol && len(p) > 0 {
		if len(p) < 7*n {
			return Setup{}, fmt.Errorf("%w: protocol %d expanded part has %d bytes, want %d", ErrSetup, s.Protocol, len(p), 7*n)
		}
		for i := range n {
			s.Channels[i].Country = string(p[3*i : 3*i+3])
			s.Channels[i].Full = binary.LittleEndian.Uint32(p[3*n+4*i:])
		}
	}
	return s, nil
}

// Append appends the reply layout (without F0) to dst.
func (s Setup) Append(dst []byte) []byte {
	dst = append(dst, s.UnitType)
	dst = append(dst, fixedASCII(s.Firmware, 4)...)
	dst = append(dst, fixedASCII(s.Country, 3)...)
	dst = appendBE24(dst, s.ValueMultiplier)
	dst = append(dst, byte(len(s.Channels)))
	for _, c := range s.Channels {
		dst = append(dst, c.Value)
	}
	for _, c := range s.Channels {
		dst = append(dst, c.Security)
	}
	dst = appendBE24(dst, s.RealValueMultiplier)
	dst = append(dst, s.Protocol)
	if s.Protocol >= ExpandedProtocol {
		for _, c := range s.Channels {
			dst = append(dst, fixedASCII(c.Country, 3)...)
		}
		for _, c := range s.Channels {
			dst = binary.LittleEndian.AppendUint32(dst, c.Full)
		}
	}
	return dst
}

// MinorValue is channel i's (0-based) value in minor units (fen for CNY):
// the full value when the reply has one, else the channel value times the
// value multiplier, times the real value multiplier. It is 0 for a channel
// that does not exist or has no value.
func (s Setup) MinorValue(i int) int64 {
	if i < 0 || i >= len(s.Channels) {
		return 0
	}
	c := s.Channels[i]
	v := uint64(c.Full)
	if v == 0 {
		v = uint64(c.Value) * uint64(max(s.ValueMultiplier, 1))
	}
	return int64(v * uint64(s.RealValueMultiplier))
}

// ChannelValues is the reply to CmdChannelValues: n(1), n values; for
// protocol ≥ 6 also n×3 country codes and n×4 LE full values.
type ChannelValues struct {
	Values    []byte
	Countries []string
	Full      []uint32
}

// ParseChannelValues reads the data after F0 for a slave speaking protocol.
func ParseChannelValues(data []byte, protocol byte) (ChannelValues, error) {
	if len(data) < 1 {
		return ChannelValues{}, fmt.Errorf("channel values: %w", ErrShort)
	}
	n := int(data[0])
	want := 1 + n
	if protocol >= ExpandedProtocol {
		want += 7 * n
	}
	if len(data) < want {
		return ChannelValues{}, fmt.Errorf("channel values: %w: %d bytes, want %d", ErrShort, len(data), want)
	}
	cv := ChannelValues{Values: append([]byte(nil), data[1:1+n]...)}
	if protocol >= ExpandedProtocol {
		p := data[1+n:]
		for i := range n {
			cv.Countries = append(cv.Countries, string(p[3*i:3*i+3]))
			cv.Full = append(cv.Full, binary.LittleEndian.Uint32(p[3*n+4*i:]))
		}
	}
	return cv, nil
}

// Append appends the reply layout (without F0) for protocol to dst.
func (cv ChannelValues) Append(dst []byte, protocol byte) []byte {
	dst = append(dst, byte(len(cv.Values)))
	dst = append(dst, cv.Values...)
	if protocol >= ExpandedProtocol {
		for i := range cv.Values {
			c := ""
			if i < len(cv.Countries) {
				c = cv.Countries[i]
			}
			dst = append(dst, fixedASCII(c, 3)...)
		}
		for i := range cv.Values {
			var v uint32
			if i < len(cv.Full) {
				v = cv.Full[i]
			}
			dst = binary.LittleEndian.AppendUint32(dst, v)
		}
	}
	return dst
}

func be24(p []byte) uint32 { return uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2]) }

func appendBE24(dst []byte, v uint32) []byte { return append(dst, byte(v>>16), byte(v>>8), byte(v)) }

// fixedASCII pads or cuts s to n bytes (spaces).
func fixedASCII(s string, n int) []byte {
	b := []byte(s)
	for len(b) < n {
		b = append(b, ' ')
	}
	return b[:n]
}
