package terminal

import (
	"path/filepath"
	"testing"
	"time"
)

// A platform's shorter idle timeout brings the "need more time?" question
// along: with the default lead of the old timeout (30 s of 90 s) kept, a
// 15 s timeout asked at once, on every touch.
func TestPlatformIdleTimeoutMovesTheIdleQuestion(t *testing.T) {
	r := start(t, filepath.Join(t.TempDir(), "j.db"), &fakePlatform{}, nil) // 90 s, asked 30 s before
	defer r.crash()
	if err := r.term.ApplySettings(Settings{IdleTimeout: 15 * time.Second}); err != nil {
		t.Fatal(err)
	}
	r.must("Session.Start", map[string]string{"utility": "water"})
	time.Sleep(200 * time.Millisecond)
	s := r.term.Snapshot()
	if s.Idle == nil || s.Idle.Warning {
		t.Fatalf("right after a touch the screen asks for more time: %+v", s.Idle)
	}
	r.term.mu.Lock()
	w := r.term.cfg.IdleWarning
	r.term.mu.Unlock()
	if w != 5*time.Second {
		t.Fatalf("idle question %v before a 15 s timeout, want 5 s", w)
	}
}
