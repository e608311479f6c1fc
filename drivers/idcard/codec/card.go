package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
)

// ErrLayout means a reply's data does not have the layout its command
// promises (§1.6, §1.11).
var ErrLayout = errors.New("idcard: bad reply layout")

// Card is everything a SAM reads from one card. It holds personal data:
// String, GoString and LogValue print only the masked form.
type Card struct {
	Text Text
	// Photo is the WLT-compressed photo (1024 bytes), passed through
	// untouched: no open decoder exists (§1.9).
	Photo []byte
	// Fingerprint is the data of 30 10 (1024 bytes), nil when not read or
	// when the card has none.
	Fingerprint []byte
	// AppendedAddress is 30 03's new address (住址变更), "" when none.
	AppendedAddress string
}

func (c Card) String() string { return c.Text.String() }

// GoString prints the masked form (%#v).
func (c Card) GoString() string { return "codec.Card{" + c.Text.Masked().String() + "}" }

// LogValue logs the masked form only.
func (c Card) LogValue() slog.Value { return c.Text.LogValue() }

// DecodeReadData decodes the data of a successful 30 01 reply (fingerprint
// false) or 30 10 reply (fingerprint true): big-endian lengths of text,
// photo (and fingerprint), then the blocks (§1.6). The text must be 256
// bytes; the photo and fingerprint are taken at the lengths given.
func DecodeReadData(data []byte, fingerprint bool) (Card, error) {
	hdr := 4
	if fingerprint {
		hdr = 6
	}
	if len(data) < hdr {
		return Card{}, fmt.Errorf("%w: %d data bytes, need the %d-byte length header", ErrLayout, len(data), hdr)
	}
	textLen := int(binary.BigEndian.Uint16(data[0:]))
	photoLen := int(binary.BigEndian.Uint16(data[2:]))
	fpLen := 0
	if fingerprint {
		fpLen = int(binary.BigEndian.Uint16(data[4:]))
	}
	if want := hdr + textLen + photoLen + fpLen; want != len(data) {
		return Card{}, fmt.Errorf("%w: lengths text %d + photo %d + fingerprint %d need %d data bytes, got %d",
			ErrLayout, textLen, photoLen, fpLen, want, len(data))
	}
	if textLen != TextLen {
		return Card{}, fmt.Errorf("%w: text of %d bytes, want %d", ErrLayout, textLen, TextLen)
	}
	body := data[hdr:]
	t, err := DecodeText(body[:TextLen])
	if err != nil {
		return Card{}, err
	}
	c := Card{Text: t, Photo: append([]byte(nil), body[TextLen:TextLen+photoLen]...)}
	if fpLen > 0 {
		c.Fingerprint = append([]byte(nil), body[TextLen+photoLen:]...)
	}
	return c, nil
}

// EncodeReadData builds the data of a 30 01 (or, with fingerprint, 30 10)
// reply for c (for simulators and tests).
func EncodeReadData(c Card, fingerprint bool) ([]byte, error) {
	text, err := EncodeText(c.Text)
	if err != nil {
		return nil, err
	}
	if len(c.Photo) > 0xFFFF || len(c.Fingerprint) > 0xFFFF {
		return nil, fmt.Errorf("%w: photo or fingerprint too long", ErrLayout)
	}
	if !fingerprint && len(c.Fingerprint) > 0 {
		return nil, fmt.Errorf("%w: 30 01 carries no fingerprint", ErrLayout)
	}
	b := binary.BigEndian.AppendUint16(nil, TextLen)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.Photo)))
	if fingerprint {
		b = binary.BigEndian.AppendUint16(b, uint16(len(c.Fingerprint)))
	}
	b = append(b, text...)
	b = append(b, c.Photo...)
	return append(b, c.Fingerprint...), nil
}

// DecodeAppendedAddress decodes the 70-byte UCS-2 address of a 30 03 reply.
func DecodeAppendedAddress(data []byte) (string, error) {
	if len(data) != AddressLen {
		return "", fmt.Errorf("%w: appended address of %d bytes, want %d", ErrLayout, len(data), AddressLen)
	}
	return field(data, span{0, AddressLen}), nil
}

// EncodeAppendedAddress builds the 70 bytes of a 30 03 reply.
func EncodeAppendedAddress(s string) ([]byte, error) {
	b := make([]byte, AddressLen)
	if err := put(b, span{0, AddressLen}, s, "appended address"); err != nil {
		return nil, err
	}
	return b, nil
}

// SAMIDLen is the data length of a 12 FF reply (§1.11).
const SAMIDLen = 16

// SAMID is the 16 data bytes of a 12 FF reply, the SAM's management
// number (安全模块号).
type SAMID [SAMIDLen]byte

// DecodeSAMID takes the data of a 12 FF reply.
func DecodeSAMID(data []byte) (SAMID, error) {
	if len(data) != SAMIDLen {
		return SAMID{}, fmt.Errorf("%w: SAM id of %d bytes, want %d", ErrLayout, len(data), SAMIDLen)
	}
	return SAMID(data), nil
}

// NewSAMID builds an id from the parts String prints (for simulators).
func NewSAMID(a, b byte, c, d, e uint32) SAMID {
	var id SAMID
	id[0], id[2] = a, b
	binary.LittleEndian.PutUint32(id[4:], c)
	binary.LittleEndian.PutUint32(id[8:], d)
	binary.LittleEndian.PutUint32(id[12:], e)
	return id
}

// String formats the id as HslCommunication does (§1.11): data byte 0 and
// byte 2 as two digits, then three little-endian uint32s at 4, 8 and 12,
// the last two zero-padded to 9 digits: "05.01-20261126-000000001-000000042".
// Vendor tools differ in that padding (YinanSoft pads to 10), so compare
// ids as bytes, not strings.
func (id SAMID) String() string {
	le := binary.LittleEndian
	return fmt.Sprintf("%02d.%02d-%d-%09d-%09d", id[0], id[2], le.Uint32(id[4:]), le.Uint32(id[8:]), le.Uint32(id[12:]))
}
