package link

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"tongban/drivers/serialport"
)

// linkCheck is how often a link is read again when the kernel cannot tell
// us it changed (no inotify instance to be had, or its directory went): a
// readlink per second, so a re-pointed device still moves within a second.
const linkCheck = time.Second

// followLink wraps a session so that, when path is a symbolic link (the
// daemon's device links, which a technician's saved profile re-points to
// a device on another port), the session ends as soon as the link points
// elsewhere, even if the old port still answers or something else now
// sits on it; Run then opens the new target. A path that is not a link
// costs one readlink per open.
//
// The kernel tells us when the link's directory changes (inotify), so a
// port that stays open for months costs no ticker, no readlink and no
// wakeup while nothing moves.
func followLink(path string, s Session) Session {
	return func(ctx context.Context, port serialport.Port) (bool, error) {
		target, err := os.Readlink(path)
		if err != nil {
			return s(ctx, port) // not a link: nothing to follow
		}
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// cancel ends the session at once: sessions end when their ctx does.
		moved, err := watchLink(sctx, path, target, cancel)
		if err != nil {
			out := make(chan string, 1)
			go func() {
				defer close(out)
				pollLink(sctx, path, target, linkCheck, out, cancel)
			}()
			moved = out
		}
		answered, err := s(sctx, port)
		cancel()
		// The watcher is gone (its inotify descriptor closed) once moved is
		// closed, so Run reopens with nothing left behind.
		if now, ok := <-moved; ok {
			err = &MovedError{Path: path, From: target, To: now}
		}
		return answered, err
	}
}

// watchLink watches path's directory and, once path points elsewhere than
// target, sends the new target, calls moved and closes the channel; it
// closes it without a value when ctx ends. It fails only if the watch
// cannot be set up.
func watchLink(ctx context.Context, path, target string, moved func()) (<-chan string, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	// Every way of replacing a link shows in its directory: renamed over
	// it (kioskd's relink), removed and made again (ln -sf), the
	// directory itself moved or removed.
	const mask = syscall.IN_CREATE | syscall.IN_MOVED_TO | syscall.IN_DELETE | syscall.IN_MOVED_FROM |
		syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF | syscall.IN_ONLYDIR
	dir := filepath.Dir(path)
	if _, err := syscall.InotifyAddWatch(fd, dir, mask); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("inotify_add_watch "+dir, err)
	}
	// Non-blocking, so a Read parks in the netpoller, not on a thread;
	// closing the file is what ends that Read when ctx ends.
	f := os.NewFile(uintptr(fd), "inotify "+dir)
	stop := context.AfterFunc(ctx, func() { f.Close() })
	out := make(chan string, 1)
	go func() {
		defer close(out)
		defer func() {
			if stop() {
				f.Close()
			}
		}()
		name := []byte(filepath.Base(path))
		buf := make([]byte, 4096) // room for many events: a relink makes two
		for {
			// Checked before each wait: the link may have moved before the watch began.
			if now, err := os.Readlink(path); err == nil && now != target {
				out <- now
				moved()
				return
			}
			check, gone := false, false
			for !check {
				n, err := f.Read(buf)
				if err != nil {
					if ctx.Err() == nil { // the kernel took the watch away: read the link now and then instead
						pollLink(ctx, path, target, linkCheck, out, moved)
					}
					return
				}
				check, gone = linkEvents(buf[:n], name)
			}
			if gone {
				pollLink(ctx, path, target, linkCheck, out, moved)
				return
			}
		}
	}()
	return out, nil
}

// linkEvents reads a batch of inotify events: check says one concerns the
// entry called name, the directory itself, or events were lost; gone says
// the watch was removed (its directory went), so no event will follow.
func linkEvents(b, name []byte) (check, gone bool) {
	return inotifyEvents(b, func(_ int32, n []byte) bool { return bytes.Equal(n, name) })
}

// inotifyEvents reads a batch of inotify events: hit says one is about an
// entry that match accepts (by watch descriptor and name), a watched
// directory itself, or events were lost; gone says a watch was removed
// (its directory went).
func inotifyEvents(b []byte, match func(wd int32, name []byte) bool) (hit, gone bool) {
	const hdr = syscall.SizeofInotifyEvent // wd, mask, cookie, len, then len bytes of NUL-padded name
	for len(b) >= hdr {
		wd := int32(binary.NativeEndian.Uint32(b[0:4]))
		mask := binary.NativeEndian.Uint32(b[4:8])
		end := hdr + int(binary.NativeEndian.Uint32(b[12:16]))
		if end > len(b) {
			return true, gone // torn batch (never from the kernel): look anyway
		}
		switch {
		case mask&syscall.IN_IGNORED != 0:
			hit, gone = true, true
		case mask&(syscall.IN_Q_OVERFLOW|syscall.IN_DELETE_SELF|syscall.IN_MOVE_SELF) != 0:
			hit = true
		case match(wd, bytes.TrimRight(b[hdr:end], "\x00")):
			hit = true
		}
		b = b[end:]
	}
	return hit, gone
}

// pollLink reads the link every interval until it no longer points at
// target (it sends the new target and calls moved) or ctx ends.
func pollLink(ctx context.Context, path, target string, every time.Duration, out chan<- string, moved func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if now, err := os.Readlink(path); err == nil && now != target {
				out <- now
				moved()
				return
			}
		}
	}
}

// MovedError ends a session whose link was re-pointed.
type MovedError struct{ Path, From, To string }

func (e *MovedError) Error() string {
	return e.Path + " re-pointed from " + e.From + " to " + e.To + ": reopening"
}
