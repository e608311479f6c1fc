package sim

import (
	"errors"
	"testing"
	"time"

	"tongban/drivers/ssp/codec"
)

// FuzzRespond drives the simulator with arbitrary host bytes: it must not
// panic, and everything it sends must be one well-formed frame carrying
// the request's sequence flag.
//
//	go test -run=^$ -fuzz=FuzzRespond -fuzztime=10s ./drivers/ssp/sim
func FuzzRespond(f *testing.F) {
	f.Add([]byte{0x7F, 0x80, 0x01, 0x11, 0x65, 0x82, 0x7F, 0x00, 0x01, 0x07, 0x11, 0x88})
	f.Add([]byte{0x7F, 0x80, 0x01, 0x0A, 0x3F, 0x82, 0x7F, 0x80, 0x03, 0x02, 0x7F, 0x7F, 0x00, 0x2E, 0x26})
	f.Add([]byte{0x7F, 0x00, 0x11, 0x7E, 0x70, 0x2F, 0xFE, 0x1D, 0x41, 0x19, 0x44, 0xAD, 0xDA, 0xD1, 0xDF, 0xD6, 0x77, 0xF5, 0x33, 0xCC, 0x63, 0x1D})
	f.Fuzz(func(t *testing.T, in []byte) {
		s := New(Config{EscrowTimeout: time.Millisecond})
		s.cfg.Delays = Delays{} // every step due at once
		s.mu.Lock()
		s.enabled, s.inhibits = true, 0xFFFF
		s.mu.Unlock()
		s.Insert(1000)
		s.Insert(2000)
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
			if out == nil {
				continue
			}
			var o codec.Decoder
			o.Feed(out)
			rf, err := o.Next()
			if err != nil || o.Pending() != 0 || rf.Seq != fr.Seq {
				t.Fatalf("answer % X to %v is not one frame with its flag: %v", out, fr, err)
			}
		}
		_ = s.State()
		_ = s.CashBox()
	})
}
