package link

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tongban/drivers/serialport"
)

// TestFollowLinkEndsTheSessionWhenRepointed: a session on a port opened
// through a symlink ends once the link points elsewhere, with MovedError;
// through a plain path it runs until its ctx ends.
func TestFollowLinkEndsTheSessionWhenRepointed(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "printer")
	if err := os.Symlink("/dev/pts/old", link); err != nil {
		t.Fatal(err)
	}
	wait := func(ctx context.Context, _ serialport.Port) (bool, error) {
		<-ctx.Done()
		return true, ctx.Err()
	}
	done := make(chan error, 1)
	go func() {
		_, err := followLink(link, wait)(context.Background(), nil)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	tmp := link + ".new"
	if err := os.Symlink("/dev/pts/new", tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var me *MovedError
		if !errors.As(err, &me) || me.From != "/dev/pts/old" || me.To != "/dev/pts/new" {
			t.Fatalf("session ended with %v", err)
		}
	case <-time.After(3 * linkCheck):
		t.Fatal("session not ended after the link was re-pointed")
	}

	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := followLink(plain, wait)(ctx, nil); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < time.Second {
		t.Fatalf("plain path: %v after %v", err, time.Since(start))
	}
}
