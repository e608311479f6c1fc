package link

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
)

// maxHops bounds the chain of symbolic links WatchNode follows (the
// kernel's own limit is 40; device links are one to three deep).
const maxHops = 16

// WatchNode tells, without a timer, when the device node at path may have
// vanished or changed, so a driver checks its port then instead of every
// second: an unplugged USB adapter takes its node away (devtmpfs), udev
// and the simulators remove their links. It watches the directory of
// every hop of path's chain of symbolic links and of the node at its end,
// and sends on the returned channel (coalesced: capacity one) when an
// entry on that chain is created, removed or renamed over. The channel is
// closed when ctx ends, or earlier when the kernel drops a watch (a
// directory went): the caller then checks the node now and polls from
// there on. It fails only if no watch can be set up.
func WatchNode(ctx context.Context, path string) (<-chan struct{}, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	const mask = syscall.IN_CREATE | syscall.IN_MOVED_TO | syscall.IN_DELETE | syscall.IN_MOVED_FROM |
		syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF | syscall.IN_ONLYDIR
	names := map[int32]map[string]bool{} // watch → entries of the chain in its directory
	byDir := map[string]int32{}
	for _, hop := range chain(path) {
		dir, name := filepath.Dir(hop), filepath.Base(hop)
		wd, ok := byDir[dir]
		if !ok {
			w, err := syscall.InotifyAddWatch(fd, dir, mask)
			if err != nil {
				syscall.Close(fd)
				return nil, os.NewSyscallError("inotify_add_watch "+dir, err)
			}
			wd = int32(w)
			byDir[dir], names[wd] = wd, map[string]bool{}
		}
		names[wd][name] = true
	}
	// Non-blocking, so the Read parks in the netpoller, not on a thread;
	// closing the file is what ends it when ctx ends.
	f := os.NewFile(uintptr(fd), "inotify "+path)
	stop := context.AfterFunc(ctx, func() { f.Close() })
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		defer func() {
			if stop() {
				f.Close()
			}
		}()
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return // ctx ended (closed), or the watch failed: the caller polls
			}
			hit, gone := nodeEvents(buf[:n], names)
			if hit {
				select {
				case out <- struct{}{}:
				default: // one is pending: the check it causes sees this change too
				}
			}
			if gone {
				return
			}
		}
	}()
	return out, nil
}

// chain is path and every path its symbolic links lead to, in order.
func chain(path string) []string {
	hops := []string{filepath.Clean(path)}
	for p := path; len(hops) < maxHops; {
		t, err := os.Readlink(p)
		if err != nil {
			break // the node itself (or nothing yet)
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(p), t)
		}
		p = filepath.Clean(t)
		hops = append(hops, p)
	}
	return hops
}

// nodeEvents reads a batch of inotify events: hit says one concerns an
// entry of the chain, a watched directory itself, or events were lost;
// gone says a watch was removed (its directory went).
func nodeEvents(b []byte, names map[int32]map[string]bool) (hit, gone bool) {
	return inotifyEvents(b, func(wd int32, n []byte) bool { return names[wd][string(n)] })
}
