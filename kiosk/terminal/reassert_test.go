package terminal

import (
	"path/filepath"
	"testing"
)

// TestReassertCashHandsTheAcceptorBackToTheResident: something outside the
// core (a technician's validator cycle) inhibits the acceptor while a
// resident is on the cash screen; reasserting enables it again, and on an
// idle terminal it inhibits.
func TestReassertCashHandsTheAcceptorBackToTheResident(t *testing.T) {
	r := start(t, filepath.Join(t.TempDir(), "j.db"), &fakePlatform{}, nil)
	defer r.crash()
	if r.term.ReassertCash() {
		t.Fatal("an idle terminal says it takes cash")
	}
	r.toCash()
	r.acc.Enable(nil) // the technician's cycle ends with an inhibit
	if !r.term.ReassertCash() {
		t.Fatal("the resident's cash screen is not taking cash")
	}
	r.acc.mu.Lock()
	enabled := len(r.acc.enabled)
	r.acc.mu.Unlock()
	if enabled == 0 {
		t.Fatal("the acceptor was left inhibited under the resident")
	}
}
