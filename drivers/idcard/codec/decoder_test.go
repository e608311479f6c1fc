package codec

import (
	"bytes"
	"errors"
	"testing"
)

type item struct {
	f   *Frame
	err error
}

// decodeAll feeds in as two chunks split at cut, checks that every byte is
// accounted for (in a frame, a DecodeError's count, or still pending) and
// that each frame matches the bytes it came from.
func decodeAll(t testing.TB, in []byte, cut int) []item {
	t.Helper()
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
				if de.Discarded < 1 || de.Error() == "" || errors.Unwrap(de) == nil {
					t.Fatalf("error %v: discarded %d", err, de.Discarded)
				}
				consumed += de.Discarded
				out = append(out, item{err: err})
				continue
			}
			w, err := AppendFrame(nil, f.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in[consumed:consumed+len(w)], w) {
				t.Fatalf("frame % X does not match the bytes it came from", f.Payload)
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

func TestDecoderResync(t *testing.T) {
	find := hexBytes(t, "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
	noCard := hexBytes(t, "AA AA AA 96 69 00 04 00 00 80 84")
	badSum := hexBytes(t, "AA AA AA 96 69 00 04 00 00 80 85")
	badLen := hexBytes(t, "AA AA AA 96 69 00 01 00")
	hugeLen := hexBytes(t, "AA AA AA 96 69 FF FF 00")
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name   string
		in     []byte
		frames int
		errs   []error
	}{
		{"two frames", cat(find, noCard), 2, nil},
		{"garbage first", cat([]byte{0x00, 0x13, 0xFF}, find), 1, []error{ErrSync}},
		{"preamble-like garbage", cat([]byte{0xAA, 0xAA, 0x96, 0xAA}, find), 1, []error{ErrSync}},
		{"extra AA before preamble", cat([]byte{0xAA}, find), 1, []error{ErrSync}},
		{"bad checksum then good", cat(badSum, find), 1, []error{ErrChecksum, ErrSync}},
		{"bad LEN then good", cat(badLen, noCard), 1, []error{ErrLength, ErrSync}},
		{"LEN over MaxLen", cat(hugeLen, noCard), 1, []error{ErrLength, ErrSync}},
		// A corrupt frame whose LEN swallows a good frame: the good one is
		// found inside it once the corrupt one fails its checksum.
		{"frame inside a corrupt one", cat(hexBytes(t, "AA AA AA 96 69 00 11 00"), find, []byte{0x01, 0x02}), 1, []error{ErrChecksum, ErrSync, ErrSync}},
		{"trailing garbage", cat(find, []byte{1, 2, 3}), 1, []error{ErrSync}},
	}
	for _, tc := range cases {
		for cut := 0; cut <= len(tc.in); cut++ {
			items := decodeAll(t, tc.in, cut)
			frames := 0
			var errs []error
			for _, it := range items {
				if it.f != nil {
					frames++
				} else {
					errs = append(errs, it.err)
				}
			}
			if frames != tc.frames {
				t.Fatalf("%s (cut %d): %d frames, want %d", tc.name, cut, frames, tc.frames)
			}
			if cut == len(tc.in) { // one chunk: the errors are exact
				if len(errs) != len(tc.errs) {
					t.Fatalf("%s: errors %v, want %v", tc.name, errs, tc.errs)
				}
				for i := range errs {
					if !errors.Is(errs[i], tc.errs[i]) {
						t.Fatalf("%s: error %d = %v, want %v", tc.name, i, errs[i], tc.errs[i])
					}
				}
			}
		}
	}
}

func TestDecoderByteAtATime(t *testing.T) {
	var all []byte
	for _, tc := range replies {
		all = append(all, hexBytes(t, tc.wire)...)
	}
	var d Decoder
	n := 0
	for _, b := range all {
		d.Feed([]byte{b})
		for {
			_, err := d.Next()
			if errors.Is(err, ErrIncomplete) {
				break
			}
			if err != nil {
				t.Fatalf("byte-at-a-time: %v", err)
			}
			n++
		}
	}
	if n != len(replies) || d.Pending() != 0 {
		t.Fatalf("%d frames, %d pending", n, d.Pending())
	}
}

func TestDecoderAwaiting(t *testing.T) {
	var d Decoder
	if _, _, ok := d.Awaiting(); ok {
		t.Fatal("empty decoder awaits a frame")
	}
	data, _ := EncodeReadData(Card{Text: Text{Type: TypeResident}, Photo: make([]byte, PhotoLen)}, false)
	wire, _ := Reply{Status: StatusSuccess, Data: data}.Encode()
	d.Feed(wire[:1200])
	if _, err := d.Next(); !errors.Is(err, ErrIncomplete) {
		t.Fatal(err)
	}
	if have, want, ok := d.Awaiting(); !ok || have != 1200 || want != 1295 {
		t.Fatalf("Awaiting = %d, %d, %v", have, want, ok)
	}
	d.Reset()
	if d.Pending() != 0 {
		t.Fatal("Reset left bytes")
	}
}

func TestShortPayloads(t *testing.T) {
	if _, err := (Frame{Payload: []byte{0x20}}).Request(); !errors.Is(err, ErrShort) {
		t.Errorf("1-byte request: %v", err)
	}
	if _, err := (Frame{Payload: []byte{0, 0}}).Reply(); !errors.Is(err, ErrShort) {
		t.Errorf("2-byte reply: %v", err)
	}
	if _, err := AppendFrame(nil, make([]byte, MaxLen)); !errors.Is(err, ErrTooLong) {
		t.Errorf("over-long frame: %v", err)
	}
}
