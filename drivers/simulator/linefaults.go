package simulator

import (
	"crypto/rand"
	"io"
	"sync"
	"time"
)

// lineFaults sits between a simulated device and its pty and damages what
// the device sends, as a bad cable or a flaky device would: noise before a
// reply, a reply that loses its last byte, a reply lost whole, a slow
// device. It serves devices whose simulator has no such faults of its own.
type lineFaults struct {
	io.ReadWriter
	mu      sync.Mutex
	garbage int // replies to prefix with noise
	lossy   int // replies to cut short by one byte
	lost    int // replies to drop whole
	delay   time.Duration
}

func (l *lineFaults) Write(p []byte) (int, error) {
	l.mu.Lock()
	delay, noise, cut, drop := l.delay, l.garbage > 0, l.lossy > 0 && len(p) > 1, l.lost > 0
	if noise {
		l.garbage--
	}
	if cut {
		l.lossy--
	}
	if drop {
		l.lost--
	}
	l.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	if drop {
		return len(p), nil // gone on the line
	}
	out := p
	if cut {
		out = p[:len(p)-1]
	}
	if noise {
		junk := make([]byte, 3)
		rand.Read(junk)
		junk[0] = 0x55 // never a sync byte, so the frame after it still decodes
		out = append(junk, out...)
	}
	if _, err := l.ReadWriter.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (l *lineFaults) set(f func(*lineFaults)) {
	l.mu.Lock()
	f(l)
	l.mu.Unlock()
}
