package link

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func wantSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: watch closed instead of signalling", what)
		}
	case <-time.After(time.Second):
		t.Fatalf("%s: no signal within 1s", what)
	}
}

func wantQuiet(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s: signalled", what)
	case <-time.After(100 * time.Millisecond):
	}
}

// WatchNode signals when any hop of a device link chain, or the node at
// its end, is removed or replaced, and not for other entries nearby.
func TestWatchNodeSeesEveryHop(t *testing.T) {
	devDir, simDir, kioskDir := t.TempDir(), t.TempDir(), t.TempDir()
	node := filepath.Join(devDir, "ttyUSB0")
	if err := os.WriteFile(node, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	simLink := filepath.Join(simDir, "idCardReader")
	if err := os.Symlink(node, simLink); err != nil {
		t.Fatal(err)
	}
	kioskLink := filepath.Join(kioskDir, "idCardReader")
	if err := os.Symlink("../"+filepath.Base(simDir)+"/idCardReader", kioskLink); err != nil { // relative hop
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := WatchNode(ctx, kioskLink)
	if err != nil {
		t.Fatal(err)
	}
	// Unrelated entries in the same directories: no signal.
	for _, p := range []string{filepath.Join(devDir, "ttyUSB1"), filepath.Join(simDir, "printer"), filepath.Join(kioskDir, "scanner")} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	wantQuiet(t, ch, "unrelated entries")

	if err := os.Remove(node); err != nil { // the adapter unplugged
		t.Fatal(err)
	}
	wantSignal(t, ch, "node removed")
	if err := os.WriteFile(node, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantSignal(t, ch, "node back")
	if err := os.Remove(simLink); err != nil { // the simulator's unplug
		t.Fatal(err)
	}
	wantSignal(t, ch, "middle link removed")
	tmp := kioskLink + ".new"
	if err := os.Symlink(node, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, kioskLink); err != nil { // re-pointed
		t.Fatal(err)
	}
	wantSignal(t, ch, "first link renamed over")

	cancel()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(time.Second):
		t.Fatal("watch not closed after ctx ended")
	}
}

// A watched directory going away closes the channel: the caller checks
// the node and polls from then on.
func TestWatchNodeClosesWhenItsDirectoryGoes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	node := filepath.Join(dir, "tty")
	if err := os.WriteFile(node, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ch, err := WatchNode(t.Context(), node)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch not closed after its directory was removed")
		}
	}
}

func TestWatchNodeFailsWithoutADirectory(t *testing.T) {
	if _, err := WatchNode(t.Context(), filepath.Join(t.TempDir(), "no", "such", "tty")); err == nil {
		t.Fatal("watch set up on a missing directory")
	}
}
