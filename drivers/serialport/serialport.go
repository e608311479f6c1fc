// Package serialport opens a serial line with the settings a hardware
// profile names. Real UARTs, USB adapters and the simulators' pseudo
// terminals all go through this one path.
package serialport

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.bug.st/serial"
)

// Line is a serial line's settings as written in the hardware profile.
type Line struct {
	Baud     int    `json:"baud"`
	DataBits int    `json:"dataBits"`
	Parity   string `json:"parity"`   // "none", "even", "odd"
	StopBits int    `json:"stopBits"` // 1 or 2
}

// String gives the usual short form, e.g. "9600 8E1".
func (l Line) String() string {
	p := "N"
	switch strings.ToLower(l.Parity) {
	case "even":
		p = "E"
	case "odd":
		p = "O"
	}
	return fmt.Sprintf("%d %d%s%d", l.Baud, l.DataBits, p, l.StopBits)
}

// Mode converts the settings, rejecting values a UART cannot take.
func (l Line) Mode() (*serial.Mode, error) {
	m := &serial.Mode{BaudRate: l.Baud, DataBits: l.DataBits}
	if m.BaudRate <= 0 {
		return nil, fmt.Errorf("baud %d: must be positive", l.Baud)
	}
	if m.DataBits == 0 {
		m.DataBits = 8
	}
	if m.DataBits < 5 || m.DataBits > 8 {
		return nil, fmt.Errorf("data bits %d: must be 5 to 8", l.DataBits)
	}
	switch strings.ToLower(l.Parity) {
	case "", "none", "n":
		m.Parity = serial.NoParity
	case "even", "e":
		m.Parity = serial.EvenParity
	case "odd", "o":
		m.Parity = serial.OddParity
	default:
		return nil, fmt.Errorf("parity %q: want none, even or odd", l.Parity)
	}
	switch l.StopBits {
	case 0, 1:
		m.StopBits = serial.OneStopBit
	case 2:
		m.StopBits = serial.TwoStopBits
	default:
		return nil, fmt.Errorf("stop bits %d: want 1 or 2", l.StopBits)
	}
	return m, nil
}

// WireTime is how long n bytes take on this line: start bit, data, parity
// and stop bits per byte. It is the physical limit benchmarks compare with.
func (l Line) WireTime(n int) time.Duration {
	bits := 1 + l.DataBits + l.StopBits
	if l.DataBits == 0 {
		bits += 8
	}
	if l.StopBits == 0 {
		bits++
	}
	if p := strings.ToLower(l.Parity); p == "even" || p == "odd" || p == "e" || p == "o" {
		bits++
	}
	return time.Duration(int64(n) * int64(bits) * int64(time.Second) / int64(l.Baud))
}

// Port is what drivers need of an open line. go.bug.st/serial's Port
// satisfies it; tests may pass anything else that does.
type Port interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	// SetReadTimeout makes Read return (0, nil) after d with no data;
	// NoTimeout makes it wait for data, an error or Close.
	SetReadTimeout(d time.Duration) error
	ResetInputBuffer() error
	Close() error
}

// NoTimeout, given to SetReadTimeout, makes Read block until a byte
// arrives, the port fails or it is closed: an idle line then costs no
// wakeup at all (go.bug.st/serial's Close unblocks a pending Read).
const NoTimeout time.Duration = -1

// Open opens path with the line settings.
func Open(path string, l Line) (Port, error) {
	m, err := l.Mode()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	p, err := serial.Open(path, m)
	if err != nil {
		return nil, fmt.Errorf("open %s (%s): %w", path, l, err)
	}
	return p, nil
}

// WriteAll writes all of b to the port. A write that makes no progress is
// an error rather than a loop: a port that takes nothing is gone.
func WriteAll(p Port, b []byte) error {
	for len(b) > 0 {
		n, err := p.Write(b)
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if n == 0 {
			return errors.New("write: no progress")
		}
		b = b[n:]
	}
	return nil
}

// IsClosed reports whether err means the port went away (closed by us, or
// the device vanished), as opposed to a passing error.
func IsClosed(err error) bool {
	var pe *serial.PortError
	if errors.As(err, &pe) {
		return pe.Code() == serial.PortClosed
	}
	return false
}
