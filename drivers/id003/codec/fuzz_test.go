package codec

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecoder checks that no input panics or hangs the decoder, that no
// byte is dropped silently (every byte is in a returned frame, in a
// DecodeError's count, or still pending), that chunking does not change
// the result, and that a frame corrupted in one byte is reported as an
// error and never decoded as the original.
//
//	go test -run=^$ -fuzz=FuzzDecoder -fuzztime=10s ./drivers/id003/codec
func FuzzDecoder(f *testing.F) {
	for _, tc := range verified {
		f.Add(tc.wire, uint16(0))
	}
	var all []byte
	for _, tc := range verified {
		all = append(all, tc.wire...)
	}
	f.Add(all, uint16(7))
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{0xFC}, uint16(0))
	f.Add([]byte{0xFC, 0xFC, 0xFC, 0x05}, uint16(2))
	f.Add([]byte{0xFC, 0x00, 0xFC, 0x04, 0xFC, 0xFF}, uint16(3))
	f.Add([]byte{0x00, 0x11, 0xFC, 0x05, 0x11, 0x27, 0x57, 0xFC, 0x05, 0x11, 0x27, 0x56}, uint16(5))
	f.Add(append([]byte{0xFC, 0x0A, 0x13}, verified[0].wire...), uint16(1))

	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		// Chunking may split one run of garbage into two errors, but the
		// frames found must not change.
		one, two := frames(decodeAll(t, in, len(in))), frames(decodeAll(t, in, int(split)%(len(in)+1)))
		if len(one) != len(two) {
			t.Fatalf("chunking changed the frames: %v vs %v", one, two)
		}
		for i := range one {
			if one[i].Cmd != two[i].Cmd || !bytes.Equal(one[i].Data, two[i].Data) {
				t.Fatalf("chunking changed frame %d: %v vs %v", i, one[i], two[i])
			}
		}

		// Build a frame from the input, round-trip it, then corrupt one byte.
		if len(in) == 0 {
			return
		}
		fr := Frame{Cmd: in[0], Data: in[1:min(len(in), 1+MaxDataLen)]}
		wire, err := Encode(fr)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		var d Decoder
		d.Feed(wire)
		got, err := d.Next()
		if err != nil || got.Cmd != fr.Cmd || !bytes.Equal(got.Data, fr.Data) || d.Pending() != 0 {
			t.Fatalf("round trip of %v: got %v %v pending %d", fr, got, err, d.Pending())
		}
		pos := int(split) % len(wire)
		mask := byte(split>>8) | 1 // never zero: the byte really changes
		bad := append([]byte(nil), wire...)
		bad[pos] ^= mask
		d.Reset()
		d.Feed(bad)
		_, err = d.Next()
		switch {
		case pos == 0:
			if !errors.Is(err, ErrSync) {
				t.Fatalf("corrupt SYNC: got %v, want ErrSync", err)
			}
		case pos == 1 && bad[1] < Overhead:
			if !errors.Is(err, ErrLength) {
				t.Fatalf("corrupt LNG %d: got %v, want ErrLength", bad[1], err)
			}
		case pos == 1:
			// A different length: either an error, or (by CRC coincidence
			// over data the input chose) some other frame; never the original.
			items := decodeAll(t, bad, len(bad))
			if len(items) == 1 && items[0].f != nil && bytes.Equal(mustEncode(t, *items[0].f), wire) {
				t.Fatalf("corrupt length decoded as the original frame")
			}
		default:
			// SYNC and length intact: CRC-16 catches every single-byte error.
			if !errors.Is(err, ErrCRC) {
				t.Fatalf("corrupt byte %d of % X: got %v, want ErrCRC", pos, bad, err)
			}
		}
	})
}

func mustEncode(t *testing.T, f Frame) []byte {
	b, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
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

// decodeAll feeds in as two chunks split at cut and checks the accounting.
func decodeAll(t *testing.T, in []byte, cut int) []item {
	var d Decoder
	var out []item
	consumed := 0
	for _, chunk := range [][]byte{in[:cut], in[cut:]} {
		d.Feed(chunk)
		for steps := 0; ; steps++ {
			if steps > len(in)+1 {
				t.Fatalf("no progress after %d steps on % X", steps, in)
			}
			f, err := d.Next()
			if errors.Is(err, ErrIncomplete) {
				break
			}
			if err != nil {
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("error %v is not a *DecodeError", err)
				}
				if de.Discarded < 1 {
					t.Fatalf("error %v discarded nothing", err)
				}
				if de.Error() == "" || errors.Unwrap(de) == nil {
					t.Fatal("error without text or cause")
				}
				consumed += de.Discarded
				out = append(out, item{err: err})
				continue
			}
			w := mustEncode(t, f)
			if !bytes.Equal(in[consumed:consumed+len(w)], w) {
				t.Fatalf("frame %v does not match the bytes it came from", f)
			}
			consumed += len(w)
			out = append(out, item{f: &f})
		}
	}
	if consumed+d.Pending() != len(in) {
		t.Fatalf("accounting: consumed %d + pending %d != %d", consumed, d.Pending(), len(in))
	}
	return out
}
