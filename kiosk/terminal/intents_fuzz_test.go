package terminal

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// FuzzIntents sends whatever a hostile or broken screen might: any
// command name from the list (or none), any payload bytes, several in a
// row. The core must not panic or hang, must refuse with a typed *Error,
// and must never create credit or a payment when no note went in.
func FuzzIntents(f *testing.F) {
	f.Add(uint8(0), []byte(`{"utility":"water"}`), uint8(4), []byte(`{"account":"100100100001"}`))
	f.Add(uint8(4), []byte(`{"account":"1e9"}`), uint8(6), []byte(`null`))
	f.Add(uint8(6), []byte(`{"utility":"water","extra":1}`), uint8(7), []byte(`{"voucherId":"V1","code":"x","payload":"tongban-voucher:"}`))
	f.Add(uint8(255), []byte(`[`), uint8(3), []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, c1 uint8, p1 []byte, c2 uint8, p2 []byte) {
		r := start(t, filepath.Join(t.TempDir(), "j.db"), &fakePlatform{}, nil)
		defer r.crash()
		for _, in := range []struct {
			cmd     uint8
			payload []byte
		}{{c1, p1}, {c2, p2}} {
			name := "No.Such"
			if int(in.cmd) < len(Commands) {
				name = Commands[in.cmd]
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			done := make(chan error, 1)
			go func() { _, err := r.term.Do(ctx, name, in.payload); done <- err }()
			select {
			case err := <-done:
				var e *Error
				if err != nil && !errors.As(err, &e) && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s(%q): an untyped refusal %T: %v", name, in.payload, err, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s(%q) hung", name, in.payload)
			}
			cancel()
		}
		if s := r.term.Snapshot(); s.Cash != nil && s.Cash.Credit != 0 {
			t.Fatalf("credit %d without a note", s.Cash.Credit)
		}
		if n := r.plat.count(); n != 0 {
			t.Fatalf("%d payments without a note", n)
		}
	})
}
