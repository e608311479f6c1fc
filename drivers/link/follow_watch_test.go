package link

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"tongban/drivers/serialport"
)

// followed runs a session that waits for its ctx through followLink on
// link and returns its end.
func followed(ctx context.Context, link string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := followLink(link, func(ctx context.Context, _ serialport.Port) (bool, error) {
			<-ctx.Done()
			return true, ctx.Err()
		})(ctx, nil)
		done <- err
	}()
	return done
}

// repoint replaces link the way kioskd's relink does: a new link renamed
// over the old one.
func repoint(t *testing.T, link, to string) {
	t.Helper()
	tmp := link + ".new"
	if err := os.Symlink(to, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
}

func wantMoved(t *testing.T, done <-chan error, from, to string, within time.Duration) {
	t.Helper()
	start := time.Now()
	select {
	case err := <-done:
		var me *MovedError
		if !errors.As(err, &me) || me.From != from || me.To != to {
			t.Fatalf("session ended with %v, want moved %s -> %s", err, from, to)
		}
		t.Logf("re-pointing %s -> %s noticed in %v", from, to, time.Since(start).Round(time.Millisecond))
	case <-time.After(within):
		t.Fatalf("session not ended %v after its link was re-pointed to %s", within, to)
	}
}

// TestFollowLinkIsEventDriven: the kernel tells followLink of a re-pointed
// link, so it ends the session at once (far within the 1 s a poll would
// take), whether the link is renamed over or removed and made again; a
// sibling link re-pointed in the same folder leaves the session alone.
func TestFollowLinkIsEventDriven(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "printer")
	other := filepath.Join(dir, "scanner")
	if err := os.Symlink("/dev/pts/a", link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/pts/s", other); err != nil {
		t.Fatal(err)
	}
	const quick = 300 * time.Millisecond // a 1 s poll misses this most times; three times in a row, nearly always

	done := followed(t.Context(), link)
	time.Sleep(50 * time.Millisecond)
	repoint(t, other, "/dev/pts/s2") // not ours
	select {
	case err := <-done:
		t.Fatalf("a sibling's re-pointing ended the session: %v", err)
	case <-time.After(2 * linkCheck):
	}
	repoint(t, link, "/dev/pts/b")
	wantMoved(t, done, "/dev/pts/a", "/dev/pts/b", quick)

	done = followed(t.Context(), link)
	time.Sleep(50 * time.Millisecond)
	// ln -sf: removed, then made again.
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := os.Symlink("/dev/pts/c", link); err != nil {
		t.Fatal(err)
	}
	wantMoved(t, done, "/dev/pts/b", "/dev/pts/c", quick)

	done = followed(t.Context(), link)
	time.Sleep(50 * time.Millisecond)
	repoint(t, link, "/dev/pts/d")
	wantMoved(t, done, "/dev/pts/c", "/dev/pts/d", quick)
}

// TestFollowLinkOutlivesItsFolder: when the links' folder itself is
// removed the watch goes with it; the session keeps running and a link
// made again in a new folder of that name, pointing elsewhere, still ends
// it (read once a second from then on).
func TestFollowLinkOutlivesItsFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "printer")
	if err := os.Symlink("/dev/pts/a", link); err != nil {
		t.Fatal(err)
	}
	done := followed(t.Context(), link)
	time.Sleep(50 * time.Millisecond)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("session ended when its folder went: %v", err)
	case <-time.After(1500 * time.Millisecond):
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/pts/b", link); err != nil {
		t.Fatal(err)
	}
	wantMoved(t, done, "/dev/pts/a", "/dev/pts/b", 3*linkCheck)
}

// TestFollowLinkLeavesNoDescriptor: every session's watch is closed by
// the time the session returns, however it ended (a port kept for months
// is reopened many times).
func TestFollowLinkLeavesNoDescriptor(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "printer")
	if err := os.Symlink("/dev/pts/a", link); err != nil {
		t.Fatal(err)
	}
	fds := func() int {
		es, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	before := fds()
	lost := errors.New("port lost")
	for i := range 50 {
		if i%2 == 0 { // the port fails
			_, err := followLink(link, func(context.Context, serialport.Port) (bool, error) { return true, lost })(t.Context(), nil)
			if !errors.Is(err, lost) {
				t.Fatalf("session %d: %v", i, err)
			}
			continue
		}
		ctx, cancel := context.WithCancel(t.Context()) // the daemon stops
		done := followed(ctx, link)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("session %d: %v", i, err)
		}
	}
	if after := fds(); after > before {
		t.Fatalf("%d descriptors before 50 sessions, %d after", before, after)
	}
}

// TestLinkEvents decodes batches as the kernel writes them.
func TestLinkEvents(t *testing.T) {
	ev := func(mask uint32, name string) []byte {
		n := 0
		if name != "" {
			n = (len(name) + 1 + 15) / 16 * 16 // NUL-padded
		}
		b := make([]byte, syscall.SizeofInotifyEvent+n)
		binary.NativeEndian.PutUint32(b[0:], 1)
		binary.NativeEndian.PutUint32(b[4:], mask)
		binary.NativeEndian.PutUint32(b[12:], uint32(n))
		copy(b[syscall.SizeofInotifyEvent:], name)
		return b
	}
	cat := func(bs ...[]byte) (out []byte) {
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	name := []byte("printer")
	for _, c := range []struct {
		what        string
		batch       []byte
		check, gone bool
	}{
		{"a sibling's temp link", cat(ev(syscall.IN_CREATE, "scanner.new"), ev(syscall.IN_MOVED_FROM, "scanner.new"), ev(syscall.IN_MOVED_TO, "scanner")), false, false},
		{"ours renamed over", cat(ev(syscall.IN_CREATE, "printer.new"), ev(syscall.IN_MOVED_FROM, "printer.new"), ev(syscall.IN_MOVED_TO, "printer")), true, false},
		{"a longer name sharing the prefix", ev(syscall.IN_CREATE, "printer2"), false, false},
		{"ours removed", ev(syscall.IN_DELETE, "printer"), true, false},
		{"events lost", ev(syscall.IN_Q_OVERFLOW, ""), true, false},
		{"folder removed", cat(ev(syscall.IN_DELETE_SELF, ""), ev(syscall.IN_IGNORED, "")), true, true},
	} {
		check, gone := linkEvents(c.batch, name)
		if check != c.check || gone != c.gone {
			t.Errorf("%s: check %v gone %v, want %v %v", c.what, check, gone, c.check, c.gone)
		}
	}
}
