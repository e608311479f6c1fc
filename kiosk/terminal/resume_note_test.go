package terminal

import (
	"path/filepath"
	"testing"
	"time"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/kiosk/journal"
)

// Found by the crash test (make crashtest): the daemon was killed with a
// note held in escrow after its stack order was journaled. The acceptor
// still held it at the restart and escrowed it again; the acceptor's
// "online, note in transport" report then settled it as a note of unknown
// fate (credited), and its vend valid credited it a second time. The
// platform got one 10-yuan note paid twice.

// resumeRig leaves a session with 10 yuan credited and a 50 ordered
// stacked when the daemon dies, and starts the next life.
func resumeRig(t *testing.T) (*rig, string) {
	path := filepath.Join(t.TempDir(), "j.db")
	plat := &fakePlatform{}
	r := start(t, path, plat, nil)
	r.toCash()
	r.acc.note(t, 1000)
	if d := r.acc.send(cash.Event{Kind: cash.Escrowed, Value: 5000}); d != cash.Stack {
		t.Fatal("the 50 was not ordered stacked")
	}
	r.crash()
	return start(t, path, plat, nil), path
}

// acceptorSays sets the acceptor's health and waits until the core has
// taken it in (health reaches the core on its own goroutine).
func (r *rig) acceptorSays(detail string) {
	r.t.Helper()
	r.acc.mon.Set(device.Online, detail)
	r.until("acceptor "+detail, func(s Snapshot) bool {
		h, ok := s.Devices["billValidator"]
		return ok && h.State == device.Online && h.Detail == detail
	})
}

func creditsOf(t *testing.T, path string, session string) (n int64) {
	for _, rec := range kinds(t, path) {
		if rec.Kind == journal.NoteCredited && rec.Session == session {
			n += rec.Amount
		}
	}
	return n
}

func TestNoteEscrowedAgainAfterRestartIsCreditedOnce(t *testing.T) {
	for _, order := range []string{"escrow first", "health first"} {
		t.Run(order, func(t *testing.T) {
			r, path := resumeRig(t)
			if s := r.term.Snapshot(); s.Cash == nil || s.Cash.Credit != 1000 || !s.Cash.InFlight {
				t.Fatalf("restored cash %+v", s.Cash)
			}
			sid := r.term.sess.id
			// The acceptor still holds the 50: it reports it in escrow again
			// and itself online with a note in transport, in either order.
			if order == "health first" {
				r.acceptorSays("note in transport")
			}
			if d := r.acc.send(cash.Event{Kind: cash.Escrowed, Value: 5000}); d != cash.Stack {
				t.Fatal("the 50 escrowed again was not stacked")
			}
			if order == "escrow first" {
				r.acceptorSays("note in transport")
			}
			r.acc.send(cash.Event{Kind: cash.Credited, Value: 5000})
			r.acc.send(cash.Event{Kind: cash.Stacked, Value: 5000})
			r.acceptorSays("accepting notes")
			time.Sleep(20 * time.Millisecond)
			if c := r.term.Snapshot().Cash.Credit; c != 6000 {
				t.Fatalf("credit %d, want 6000 (the 10 and the 50, each once)", c)
			}
			r.crash()
			if c := creditsOf(t, path, sid); c != 6000 {
				t.Fatalf("journal credits %d to the session, want 6000", c)
			}
			// The next life agrees: 60 yuan of credit, nothing in flight.
			r = start(t, path, &fakePlatform{}, nil)
			if s := r.term.Snapshot(); s.Cash == nil || s.Cash.Credit != 6000 || s.Cash.InFlight {
				t.Fatalf("restored again: %+v", s.Cash)
			}
			r.crash()
		})
	}
}

// A note of unknown fate whose acceptor goes idle without a word about it
// is still credited to the resident once (the settle the fix must keep).
func TestNoteOfUnknownFateIsCreditedWhenTheAcceptorIsIdle(t *testing.T) {
	r, path := resumeRig(t)
	sid := r.term.sess.id
	r.acceptorSays("note in transport")
	time.Sleep(20 * time.Millisecond)
	if s := r.term.Snapshot(); s.Cash.Credit != 1000 || !s.Cash.InFlight {
		t.Fatalf("settled while a note was in transport: %+v", s.Cash)
	}
	r.acceptorSays("accepting notes")
	r.until("settled", func(s Snapshot) bool { return s.Cash != nil && s.Cash.Credit == 6000 && !s.Cash.InFlight })
	r.crash()
	if c := creditsOf(t, path, sid); c != 6000 {
		t.Fatalf("journal credits %d to the session, want 6000", c)
	}
}
