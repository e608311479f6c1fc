package codec

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecoder checks that no input panics or hangs the decoder, that no
// byte is dropped silently (every byte is in a returned frame, in a
// DecodeError's count, or still pending), that chunking does not change
// the frames found, that every frame re-encodes to the exact bytes it came
// from, and that a frame corrupted in one byte never decodes as itself.
//
//	go test -run=^$ -fuzz=FuzzDecoder -fuzztime=10s ./drivers/ssp/codec
func FuzzDecoder(f *testing.F) {
	var all []byte
	for _, tc := range verified {
		f.Add(tc.wire, uint16(0))
		all = append(all, tc.wire...)
	}
	f.Add(all, uint16(9))
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{0x7F}, uint16(0))
	f.Add([]byte{0x7F, 0x7F, 0x7F, 0x80, 0x01, 0x11, 0x65, 0x82}, uint16(2))
	f.Add([]byte{0x7F, 0x80, 0x00, 0x7F, 0x80, 0x09, 0x7F, 0x7F, 0x80}, uint16(3))
	f.Add(append([]byte{0x00, 0x7F, 0x80, 0x05, 0x01}, verified[5].wire...), uint16(0x2A05))

	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		one, two := frames(decodeAll(t, in, len(in))), frames(decodeAll(t, in, int(split)%(len(in)+1)))
		if len(one) != len(two) {
			t.Fatalf("chunking changed the frames: %v vs %v", one, two)
		}
		for i := range one {
			if one[i].SeqID() != two[i].SeqID() || !bytes.Equal(one[i].Data, two[i].Data) {
				t.Fatalf("chunking changed frame %d: %v vs %v", i, one[i], two[i])
			}
		}

		// Build a frame from the input, round-trip it, then corrupt one byte.
		if len(in) == 0 {
			return
		}
		fr := Frame{Seq: in[0]&1 == 1, Addr: in[0] >> 1 % (MaxAddr + 1), Data: in[:min(len(in), MaxData)]}
		wire := mustEncode(t, fr)
		var d Decoder
		d.Feed(wire)
		got, err := d.Next()
		if err != nil || got.SeqID() != fr.SeqID() || !bytes.Equal(got.Data, fr.Data) || d.Pending() != 0 {
			t.Fatalf("round trip of %v: got %v %v pending %d", fr, got, err, d.Pending())
		}
		pos := int(split) % len(wire)
		bad := append([]byte(nil), wire...)
		bad[pos] ^= byte(split>>8) | 1 // never zero: the byte really changes
		var errs int
		for _, it := range decodeAll(t, bad, len(bad)) {
			if it.f != nil && bytes.Equal(mustEncode(t, *it.f), wire) {
				t.Fatalf("byte %d corrupted (% X) still decoded as the original", pos, bad)
			}
			if it.err != nil {
				errs++
			}
		}
		d.Reset()
		d.Feed(bad)
		if errs == 0 {
			if _, err := d.Next(); !errors.Is(err, ErrIncomplete) {
				t.Fatalf("corruption of byte %d neither reported nor pending: % X", pos, bad)
			}
		}
	})
}

type item struct {
	f   *Frame
	err error
}

func mustEncode(t *testing.T, f Frame) []byte {
	t.Helper()
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
					t.Fatalf("error %v discarded nothing or has no cause", err)
				}
				consumed += de.Discarded
				out = append(out, item{err: err})
				continue
			}
			w := mustEncode(t, f)
			if consumed+len(w) > len(in) || !bytes.Equal(in[consumed:consumed+len(w)], w) {
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

// FuzzOpen feeds arbitrary encrypted DATA to the decrypt path: no panic,
// every failure is one of the documented errors, and what Seal produces
// opens to the same count and data.
//
//	go test -run=^$ -fuzz=FuzzOpen -fuzztime=10s ./drivers/ssp/codec
func FuzzOpen(f *testing.F) {
	f.Add(verified[9].f.Data, uint64(0x6595), uint32(0))
	f.Add([]byte{0x7E}, uint64(0), uint32(1))
	f.Add([]byte{0x7E, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, uint64(1), uint32(7))
	f.Add([]byte{0xF0, 0xEE, 0x03}, uint64(42), uint32(0xFFFFFFFF))
	f.Fuzz(func(t *testing.T, data []byte, negotiated uint64, count uint32) {
		k := NewKey(DefaultFixedKey, negotiated)
		c, inner, err := k.Open(data)
		if err != nil {
			if !errors.Is(err, ErrNotEncrypted) && !errors.Is(err, ErrCipherLength) && !errors.Is(err, ErrECRC) && !errors.Is(err, ErrELength) {
				t.Fatalf("undocumented error %v", err)
			}
		} else if len(inner) > len(data) {
			t.Fatalf("count %d, %d inner bytes from %d", c, len(inner), len(data))
		}
		if len(data) == 0 || len(data) > MaxSealed {
			return
		}
		sealed, err := k.Seal(count, data, func(p []byte) { copy(p, data) })
		if err != nil {
			t.Fatal(err)
		}
		c, inner, err = k.Open(sealed)
		if err != nil || c != count || !bytes.Equal(inner, data) {
			t.Fatalf("round trip: %d % X %v", c, inner, err)
		}
		if err := CheckCount(c, count+1); !errors.Is(err, ErrCount) {
			t.Fatalf("count check: %v", err)
		}
		if _, err := Encode(Frame{Data: sealed}); err != nil {
			t.Fatalf("sealed data does not fit a frame: %v", err)
		}
	})
}

// FuzzParse feeds arbitrary reply data to the reply parsers: no panic, and
// every parse either succeeds or says why.
//
//	go test -run=^$ -fuzz=FuzzParse -fuzztime=10s ./drivers/ssp/codec
func FuzzParse(f *testing.F) {
	f.Add([]byte{0xF0, 0xEE, 0x03, 0xEB})
	f.Add(append([]byte{0xF0}, cnySetup(6).Append(nil)...))
	f.Add(append([]byte{0xF0}, cnySetup(4).Append(nil)...))
	f.Add([]byte{0xF0, 0xC9, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReply(data)
		if err != nil {
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrUnknownResponse) {
				t.Fatal(err)
			}
			return
		}
		evs, err := ParsePoll(r.Data)
		if err != nil {
			var ee *EventError
			if !errors.As(err, &ee) || ee.Offset >= len(r.Data) {
				t.Fatalf("poll error %v", err)
			}
		} else if !bytes.Equal(AppendEvents(nil, evs...), r.Data) {
			t.Fatalf("events %v do not re-encode to % X", evs, r.Data)
		}
		if s, err := ParseSetup(r.Data); err == nil {
			for i := range s.Channels {
				_ = s.MinorValue(i)
			}
		} else if !errors.Is(err, ErrSetup) {
			t.Fatal(err)
		}
		_, _ = ParseChannelValues(r.Data, 6)
		_, _ = ParseChannelValues(r.Data, 4)
	})
}
