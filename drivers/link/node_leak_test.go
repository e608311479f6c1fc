package link

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// Every way a node watch ends (its ctx, its directory going) closes the
// inotify descriptor: a driver re-watches on every reconnect, so a leak
// there would run the daemon out of descriptors over the months.
func TestWatchNodeLeavesNoDescriptorBehind(t *testing.T) {
	dir := t.TempDir()
	node := filepath.Join(dir, "ttyX")
	if err := os.WriteFile(node, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	wait := func(ch <-chan struct{}) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case _, open := <-ch:
				if !open {
					return
				}
			case <-deadline:
				t.Fatal("watch never closed")
			}
		}
	}
	for range 50 {
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := WatchNode(ctx, node)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		wait(ch)
	}
	for i := range 20 {
		sub := filepath.Join(dir, "gone", string(rune('a'+i)))
		if err := os.MkdirAll(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		ch, err := WatchNode(context.Background(), filepath.Join(sub, "ttyY"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(sub); err != nil {
			t.Fatal(err)
		}
		wait(ch)
	}
	time.Sleep(50 * time.Millisecond) // the watchers' deferred closes
	if after := openFDs(t); after > before {
		t.Fatalf("%d descriptors open after 70 watches ended, %d before", after, before)
	}
}
