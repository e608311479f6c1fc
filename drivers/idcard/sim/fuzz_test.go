package sim

import (
	"errors"
	"testing"

	"tongban/drivers/idcard/codec"
)

// FuzzRespond drives the simulator with arbitrary host bytes: it must not
// panic, and everything it sends must be one well-formed reply that the
// command it answers expects.
//
//	go test -run=^$ -fuzz=FuzzRespond -fuzztime=10s ./drivers/idcard/sim
func FuzzRespond(f *testing.F) {
	var seq []byte
	for _, o := range []codec.Op{codec.OpSAMStatus, codec.OpFindCard, codec.OpSelectCard, codec.OpReadText,
		codec.OpReadAppended, codec.OpReadFingerprint, codec.OpSAMID, codec.OpReset} {
		w, _ := codec.Request{Op: o}.Encode()
		f.Add(w)
		seq = append(seq, w...)
	}
	f.Add(seq)
	f.Add([]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x01, 0x21})
	f.Fuzz(func(t *testing.T, in []byte) {
		s := New(Config{Fast: true})
		s.PlaceCard(SampleRareName())
		var d codec.Decoder
		d.Feed(in)
		for {
			fr, err := d.Next()
			if errors.Is(err, codec.ErrIncomplete) {
				break
			}
			if err != nil {
				continue
			}
			out := s.Respond(fr)
			req, rerr := fr.Request()
			if rerr != nil {
				if out != nil {
					t.Fatal("answered a frame that is no request")
				}
				continue
			}
			var rd codec.Decoder
			rd.Feed(out)
			rf, err := rd.Next()
			if err != nil || rd.Pending() != 0 {
				t.Fatalf("%v: reply % X: %v, %d left", req, out, err, rd.Pending())
			}
			rep, err := rf.Reply()
			if err != nil || rep.SW1 != 0 || rep.SW2 != 0 {
				t.Fatalf("%v: %v %v", req, rep, err)
			}
			if req.Op.DataLen() == len(req.Data) && !req.Op.Expects(rep) {
				t.Fatalf("%v: reply %v is not what the op expects", req, rep)
			}
		}
	})
}
