package codec

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecoder checks that no input panics or hangs the decoder, that no
// byte is dropped silently (every byte is in a frame, a DecodeError's
// count, or still pending), that chunking does not change the frames
// found, and that a frame with one corrupted byte is reported as an error
// and never decoded as the original.
//
//	go test -run=^$ -fuzz=FuzzDecoder -fuzztime=10s ./drivers/idcard/codec
func FuzzDecoder(f *testing.F) {
	var all []byte
	for _, tc := range requests {
		w := hexBytes(f, tc.wire)
		f.Add(w, uint16(3))
		all = append(all, w...)
	}
	for _, tc := range replies {
		w := hexBytes(f, tc.wire)
		f.Add(w, uint16(9))
		all = append(all, w...)
	}
	f.Add(all, uint16(77))
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69}, uint16(2))
	f.Add([]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0xFF, 0xFF, 0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x80, 0x84}, uint16(0x0107))
	f.Add(hexBytes(f, "AA AA AA 96 69 00 03 20 01 21 AA AA AA 96 69 00 03 20 01 22"), uint16(0x2005))

	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		one, two := frames(decodeAll(t, in, len(in))), frames(decodeAll(t, in, int(split)%(len(in)+1)))
		if len(one) != len(two) {
			t.Fatalf("chunking changed the frames: %d vs %d", len(one), len(two))
		}
		for i := range one {
			if !bytes.Equal(one[i].Payload, two[i].Payload) {
				t.Fatalf("chunking changed frame %d", i)
			}
		}
		for _, fr := range one {
			// Whatever decodes must also read as a request or a reply, or
			// say why not.
			if _, err := fr.Request(); err != nil && !errors.Is(err, ErrShort) {
				t.Fatalf("Request: %v", err)
			}
			if r, err := fr.Reply(); err == nil {
				_ = r.Err()
				_ = OpReadText.Expects(r)
			} else if !errors.Is(err, ErrShort) {
				t.Fatalf("Reply: %v", err)
			}
		}

		// Frame the input, round-trip it, then corrupt one byte.
		if len(in) == 0 {
			return
		}
		payload := in[:min(len(in), MaxLen-1)]
		wire, err := AppendFrame(nil, payload)
		if err != nil {
			t.Fatalf("AppendFrame: %v", err)
		}
		var d Decoder
		d.Feed(wire)
		got, err := d.Next()
		if len(payload)+1 < MinLen {
			if !errors.Is(err, ErrLength) {
				t.Fatalf("LEN %d: got %v, want ErrLength", len(payload)+1, err)
			}
			return
		}
		if err != nil || !bytes.Equal(got.Payload, payload) || d.Pending() != 0 {
			t.Fatalf("round trip: %v pending %d", err, d.Pending())
		}
		pos := int(split) % len(wire)
		mask := byte(split>>8) | 1 // never zero: the byte really changes
		bad := append([]byte(nil), wire...)
		bad[pos] ^= mask
		d.Reset()
		d.Feed(bad)
		_, err = d.Next()
		switch {
		case pos < HeaderLen:
			// A broken preamble or a different LEN: an error, a wait for
			// more bytes, or (by XOR coincidence over input-chosen data)
			// some shorter frame inside; never the original.
			for _, it := range decodeAll(t, bad, len(bad)) {
				if it.f != nil && bytes.Equal(it.f.Payload, payload) {
					t.Fatalf("corrupt byte %d decoded as the original frame", pos)
				}
			}
		default:
			// Preamble and LEN intact: XOR catches every single-byte error.
			if !errors.Is(err, ErrChecksum) {
				t.Fatalf("corrupt byte %d: got %v, want ErrChecksum", pos, err)
			}
		}
	})
}

func frames(items []item) []Frame {
	var fs []Frame
	for _, it := range items {
		if it.f != nil {
			fs = append(fs, *it.f)
		}
	}
	return fs
}

// FuzzDecodeText feeds arbitrary 256-byte blocks (and read-reply data) to
// the parsers: no panic, every error is ErrText or ErrLayout, and whatever
// decodes re-encodes to a block that decodes to the same Text.
//
//	go test -run=^$ -fuzz=FuzzDecodeText -fuzztime=10s ./drivers/idcard/codec
func FuzzDecodeText(f *testing.F) {
	for _, tc := range textCases {
		f.Add(block(tc.fields))
	}
	f.Add(make([]byte, TextLen))
	f.Add(bytes.Repeat([]byte{0x00, 0xD8}, TextLen/2)) // lone surrogates
	f.Add(block(map[int]string{204: "长期", 248: "J"}))

	f.Fuzz(func(t *testing.T, in []byte) {
		b := make([]byte, TextLen)
		copy(b, in)
		tx, err := DecodeText(b)
		if err != nil {
			if !errors.Is(err, ErrText) {
				t.Fatalf("error %v is not ErrText", err)
			}
		} else {
			enc, err := EncodeText(tx)
			if err != nil {
				t.Fatalf("EncodeText of a decoded block: %v", err)
			}
			again, err := DecodeText(enc)
			if err != nil || again != tx {
				t.Fatalf("round trip: %v\n%+v\n%+v", err, fields(tx), fields(again))
			}
			_ = tx.Masked()
			_, _ = tx.NationName()
		}
		// The same bytes as 30 01 / 30 10 reply data and as an address.
		for _, fp := range []bool{false, true} {
			if _, err := DecodeReadData(in, fp); err != nil && !errors.Is(err, ErrLayout) && !errors.Is(err, ErrText) {
				t.Fatalf("DecodeReadData: %v", err)
			}
		}
		if _, err := DecodeAppendedAddress(in); err != nil && !errors.Is(err, ErrLayout) {
			t.Fatalf("DecodeAppendedAddress: %v", err)
		}
	})
}
