package codec

import (
	"errors"
	"fmt"
)

// ErrData is wrapped by the helpers below when a frame's data does not
// have the expected shape.
var ErrData = errors.New("id003: bad data")

// DenomMask builds the two data bytes of C0 (set denomination). Bit i
// stands for escrow code 0x61+i (byte 0 bit 0 = 0x61, byte 1 bit 0 = 0x69);
// 1 disables it. Codes not listed are disabled, so an unknown slot can
// never be accepted by accident. Codes outside 0x61..0x70 are ignored.
// The bit order is what TerminalClient's applyParTable and py-id003's
// DENOM_* constants use.
func DenomMask(enabled []byte) [2]byte {
	m := [2]byte{0xFF, 0xFF}
	for _, c := range enabled {
		if c < FirstDenomCode || c > LastDenomCode {
			continue
		}
		i := c - FirstDenomCode
		m[i/8] &^= 1 << (i % 8)
	}
	return m
}

// DenomEnabled reports whether a C0 mask (1 = disabled) lets code through.
// A short mask counts missing bits as 0 (enabled), as the device does for
// the unused second byte on 8-denomination firmware.
func DenomEnabled(mask []byte, code byte) bool {
	if code < FirstDenomCode || code > LastDenomCode {
		return false
	}
	i := int(code - FirstDenomCode)
	if i/8 >= len(mask) {
		return true
	}
	return mask[i/8]&(1<<(i%8)) == 0
}

// InhibitData is the data byte of C3: 00 accept enabled, 01 inhibited.
func InhibitData(inhibit bool) []byte {
	if inhibit {
		return []byte{0x01}
	}
	return []byte{0x00}
}

// ParseInhibit reads the data of C3 (or its 83 read-back).
func ParseInhibit(data []byte) (inhibit bool, err error) {
	if len(data) != 1 {
		return false, fmt.Errorf("%w: inhibit wants 1 byte, got %d", ErrData, len(data))
	}
	switch data[0] {
	case 0x00:
		return false, nil
	case 0x01:
		return true, nil
	}
	return false, fmt.Errorf("%w: inhibit byte %02X", ErrData, data[0])
}

// Currency table (reply to 8A).
//
// Layout, 4 bytes per denomination: escrow code, country code, base value,
// exponent; the note is worth base × 10^exponent major units. Source:
// AlexObukhoff/TerminalClient 3.0/src/modules/Hardware/CashAcceptors/src/
// ID003/ID003CashAcceptor.cpp loadParTable (NominalSize = 4 in
// ID003CashAcceptorConstants.h; nominal = data[2] * 10^data[3], country =
// data[1], escrow position = data[0]). The country byte is JCM's own
// numbering, not ISO 4217; CurrencySpecification.h in the same tree maps
// 0x2D to CNY (0x27 RUB, 0x01 USD, 0xE0 EUR). Only that one source was
// found for the layout, so the driver also accepts a static map from the
// hardware profile.

// CurrencyEntrySize is the size of one table entry.
const CurrencyEntrySize = 4

// JCM country codes seen in TerminalClient's CurrencySpecification.h.
const (
	CountryCNY = 0x2D
	CountryUSD = 0x01
	CountryRUB = 0x27
	CountryEUR = 0xE0
)

// CurrencyEntry is one denomination of the 8A table.
type CurrencyEntry struct {
	Code     byte // escrow code (0x61...)
	Country  byte // JCM country code, e.g. CountryCNY
	Base     byte
	Exponent byte
}

// maxExponent keeps base × 10^exp × 100 inside int64.
const maxExponent = 14

// Units is the note's value in major units (yuan), and false when the
// entry is empty (base 0) or its exponent is absurd.
func (e CurrencyEntry) Units() (int64, bool) {
	if e.Base == 0 || e.Exponent > maxExponent {
		return 0, false
	}
	v := int64(e.Base)
	for range e.Exponent {
		v *= 10
	}
	return v, true
}

// Fen is the value in 1/100 units (fen for CNY).
func (e CurrencyEntry) Fen() (int64, bool) {
	u, ok := e.Units()
	return u * 100, ok
}

// ParseCurrencyTable reads the data of an 8A reply.
func ParseCurrencyTable(data []byte) ([]CurrencyEntry, error) {
	if len(data)%CurrencyEntrySize != 0 {
		return nil, fmt.Errorf("%w: currency table of %d bytes is not a multiple of %d", ErrData, len(data), CurrencyEntrySize)
	}
	t := make([]CurrencyEntry, 0, len(data)/CurrencyEntrySize)
	for i := 0; i < len(data); i += CurrencyEntrySize {
		t = append(t, CurrencyEntry{Code: data[i], Country: data[i+1], Base: data[i+2], Exponent: data[i+3]})
	}
	return t, nil
}

// EncodeCurrencyTable is the inverse of ParseCurrencyTable (simulators).
func EncodeCurrencyTable(t []CurrencyEntry) []byte {
	b := make([]byte, 0, len(t)*CurrencyEntrySize)
	for _, e := range t {
		b = append(b, e.Code, e.Country, e.Base, e.Exponent)
	}
	return b
}

// CurrencyEntryFor makes an entry worth units major units, with the
// smallest base that fits a byte (100 → base 1, exponent 2).
func CurrencyEntryFor(code, country byte, units int64) (CurrencyEntry, error) {
	if units <= 0 {
		return CurrencyEntry{}, fmt.Errorf("%w: value %d", ErrData, units)
	}
	var exp byte
	for units%10 == 0 && exp < maxExponent {
		units /= 10
		exp++
	}
	if units > 255 {
		return CurrencyEntry{}, fmt.Errorf("%w: value does not fit base × 10^exp", ErrData)
	}
	return CurrencyEntry{Code: code, Country: country, Base: byte(units), Exponent: exp}, nil
}
