// Package simport gives a device simulator the device's end of a pseudo
// terminal. The daemon opens the other end through the kernel's tty layer
// exactly as it would open a real UART, so one driver code path serves the
// demo, the tests and the field.
package simport

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"tongban/drivers/serialport"
)

// ErrUnplugged is returned by Read and Write while the simulated cable is out.
var ErrUnplugged = errors.New("simport: unplugged")

// Endpoint is the device side of a pty pair. Reads and writes go to the
// pty leader; the follower path (or the stable link to it) is what a
// hardware profile names.
type Endpoint struct {
	link string
	line serialport.Line

	mu       sync.Mutex
	leader   *os.File
	follower *os.File // held open so the leader never reads EIO while the daemon is away
	path     string
	plugged  chan struct{} // closed while plugged in
}

// Open makes a new pty pair with the line settings applied to the follower
// and, if link is not empty, points the symlink link at it.
func Open(link string, line serialport.Line) (*Endpoint, error) {
	e := &Endpoint{link: link, line: line}
	if err := e.plug(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Endpoint) plug() error {
	blocking, f, err := pty.Open()
	if err != nil {
		return fmt.Errorf("simport: open pty: %w", err)
	}
	leader, err := pollable(blocking)
	if err != nil {
		f.Close()
		return err
	}
	path := f.Name()
	f.Close()
	follower, err := openRaw(path)
	if err != nil {
		leader.Close()
		return fmt.Errorf("simport: %w", err)
	}
	if e.link != "" {
		if err := os.MkdirAll(filepath.Dir(e.link), 0o755); err != nil {
			leader.Close()
			follower.Close()
			return fmt.Errorf("simport: %w", err)
		}
		tmp := e.link + ".new"
		os.Remove(tmp)
		if err := os.Symlink(path, tmp); err != nil {
			leader.Close()
			follower.Close()
			return fmt.Errorf("simport: link %s: %w", e.link, err)
		}
		if err := os.Rename(tmp, e.link); err != nil {
			leader.Close()
			follower.Close()
			return fmt.Errorf("simport: link %s: %w", e.link, err)
		}
	}
	e.mu.Lock()
	e.leader, e.follower, e.path = leader, follower, path
	if e.plugged == nil {
		e.plugged = make(chan struct{})
	}
	select {
	case <-e.plugged:
	default:
		close(e.plugged)
	}
	e.mu.Unlock()
	return nil
}

// Path is the follower's device path, e.g. /dev/pts/7.
func (e *Endpoint) Path() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.path
}

// Link is the stable symlink, or "" if none was asked for.
func (e *Endpoint) Link() string { return e.link }

// Name is the path a profile should use: the link if there is one.
func (e *Endpoint) Name() string {
	if e.link != "" {
		return e.link
	}
	return e.Path()
}

func (e *Endpoint) current() (*os.File, chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leader, e.plugged
}

// Read reads what the host sent. While unplugged it waits for the replug.
func (e *Endpoint) Read(p []byte) (int, error) {
	for {
		l, plugged := e.current()
		if l == nil {
			if plugged == nil {
				return 0, io.EOF
			}
			<-plugged
			continue
		}
		n, err := l.Read(p)
		if err != nil {
			if l2, _ := e.current(); l2 != l {
				continue // unplugged or replugged under us
			}
			return n, fmt.Errorf("simport read: %w", err)
		}
		return n, nil
	}
}

// Write sends bytes to the host. Bytes written while unplugged are lost, as
// on a real cable.
func (e *Endpoint) Write(p []byte) (int, error) {
	l, _ := e.current()
	if l == nil {
		return 0, ErrUnplugged
	}
	n, err := l.Write(p)
	if err != nil {
		return n, fmt.Errorf("simport write: %w", err)
	}
	return n, nil
}

// Unplug pulls the cable: the host's reads fail with a closed port and the
// link disappears until Replug.
func (e *Endpoint) Unplug() {
	e.mu.Lock()
	l, f := e.leader, e.follower
	e.leader, e.follower = nil, nil
	e.plugged = make(chan struct{})
	e.mu.Unlock()
	if e.link != "" {
		os.Remove(e.link)
	}
	if f != nil {
		f.Close()
	}
	if l != nil {
		l.Close()
	}
}

// Replug puts the cable back on a new pty (the kernel picks a new number,
// as a USB adapter often gets a new ttyUSB index); the link follows it.
func (e *Endpoint) Replug() error {
	e.mu.Lock()
	on := e.leader != nil
	e.mu.Unlock()
	if on {
		return nil
	}
	return e.plug()
}

// Close shuts the endpoint for good.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	l, f, plugged := e.leader, e.follower, e.plugged
	e.leader, e.follower, e.plugged = nil, nil, nil
	e.mu.Unlock()
	if plugged != nil {
		select {
		case <-plugged:
		default:
			close(plugged) // wake readers waiting for a replug
		}
	}
	if e.link != "" {
		os.Remove(e.link)
	}
	if f != nil {
		f.Close()
	}
	if l != nil {
		return l.Close()
	}
	return nil
}

// openRaw opens the follower and puts the tty in raw mode before any byte
// flows, so nothing is echoed or translated even before the daemon opens
// it. Unlike a serial.Open it takes no exclusive lock (TIOCEXCL), so a
// daemon that is not root can still open the port.
func openRaw(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("termios %s: %w", path, err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		f.Close()
		return nil, fmt.Errorf("termios %s: %w", path, err)
	}
	return f, nil
}

// pollable re-opens the pty leader in non-blocking mode so Go's poller
// owns it: then Close wakes a pending Read at once (an unplug must not wait
// for the host to send a byte).
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	// Close-on-exec: a child process (a test's browser) that inherited the
	// leader would keep the pty alive after an unplug, so the daemon would
	// never see the cable go.
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("simport: dup pty: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("simport: pty non-blocking: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}
