package sim

import (
	"errors"
	"testing"
	"time"

	"tongban/drivers/id003/codec"
)

// FuzzRespond drives the simulator with arbitrary host bytes: it must not
// panic, and everything it sends must be one well-formed frame.
//
//	go test -run=^$ -fuzz=FuzzRespond -fuzztime=10s ./drivers/id003/sim
func FuzzRespond(f *testing.F) {
	f.Add([]byte{0xFC, 0x05, 0x11, 0x27, 0x56})
	f.Add([]byte{0xFC, 0x05, 0x40, 0x2B, 0x15, 0xFC, 0x06, 0xC3, 0x00, 0x04, 0xD6, 0xFC, 0x05, 0x11, 0x27, 0x56})
	f.Add([]byte{0x00, 0xFC, 0x02, 0xFC, 0x06, 0x13, 0x63, 0xA2, 0xD8})
	f.Fuzz(func(t *testing.T, in []byte) {
		s := New(Config{EscrowTimeout: time.Millisecond})
		s.cfg.Delays = Delays{} // every step due at once
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
			if _, err := o.Next(); err != nil || o.Pending() != 0 {
				t.Fatalf("answer % X to %v is not one frame: %v", out, fr, err)
			}
		}
		_ = s.Status()
		_ = s.CashBox()
	})
}
