// Package link keeps a serial device's port open for its driver. Run opens
// the port, hands it to the driver's session, reports a missing or lost
// port through the device's Monitor (noDevice, offline) and opens it again
// with capped exponential backoff and jitter when it vanishes, as a USB
// adapter does when it is unplugged and comes back, so the daemon never
// needs a restart for it. Every serial driver runs its port through here,
// so all of them behave alike when a cable comes and goes.
package link

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/serialport"
)

// CounterReconnects counts the ports lost while open (each one is
// followed by a reconnect attempt).
const CounterReconnects = "reconnects"

// Config says which port to keep open and where to report.
type Config struct {
	Path string
	Line serialport.Line
	// MinBackoff is the wait after the first failed open or a lost port;
	// it doubles with each failure up to MaxBackoff. Each wait is drawn
	// from the upper half of that (jitter), so devices that vanished
	// together (one USB hub) do not retry in step.
	MinBackoff, MaxBackoff time.Duration
	// Monitor gets the last error and the reconnects counter, and the
	// state unless SetState is set.
	Monitor *device.Monitor
	// SetState, if set, reports a state instead of Monitor.Set, for
	// drivers that derive their state from more than the port.
	SetState func(state device.State, detail string)
	Logger   *slog.Logger // nil: discard
}

// Session uses an open port until the port fails or ctx ends. It reports
// whether the device answered on this port, which starts the backoff
// afresh after a loss, and the error that ended it. The port is closed
// after the session returns; a session may close it earlier itself.
type Session func(ctx context.Context, port serialport.Port) (answered bool, err error)

// Run keeps the port open and runs session on it until ctx ends; then it
// reports the device offline ("stopped") and returns.
func Run(ctx context.Context, cfg Config, session Session) {
	set := cfg.SetState
	if set == nil {
		set = cfg.Monitor.Set
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := backoff{min: cfg.MinBackoff, max: max(cfg.MaxBackoff, cfg.MinBackoff)}
	failures := 0
	for ctx.Err() == nil {
		port, err := serialport.Open(cfg.Path, cfg.Line)
		if err != nil {
			failures++
			cfg.Monitor.Error(err)
			if errors.Is(err, fs.ErrNotExist) {
				set(device.NoDevice, "port not present")
			} else {
				set(device.Offline, "cannot open port: "+err.Error())
			}
			// Say it once; a device left unplugged would fill the log.
			if failures == 1 {
				log.Warn("port unavailable, retrying", "err", err)
			} else {
				log.Debug("port still unavailable", "err", err)
			}
		} else {
			failures = 0
			answered, err := followLink(cfg.Path, session)(ctx, port) // follow.go
			port.Close()
			if ctx.Err() != nil {
				break
			}
			cfg.Monitor.Error(err)
			cfg.Monitor.Count(CounterReconnects, 1)
			set(device.Offline, "port lost")
			log.Warn("port lost, reconnecting", "err", err)
			if answered {
				b.reset()
			}
		}
		if !Sleep(ctx, b.next()) {
			break
		}
	}
	set(device.Offline, "stopped")
}

// backoff is a capped exponential backoff with jitter.
type backoff struct {
	min, max time.Duration
	cur      time.Duration // the current ceiling; 0 before the first wait
}

// next returns the wait before the next attempt, drawn from the upper half
// of the current ceiling, and doubles the ceiling up to max.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	}
	d := b.cur
	b.cur = min(2*b.cur, b.max)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// reset starts again at min.
func (b *backoff) reset() { b.cur = 0 }

// Sleep waits d or until ctx ends; it reports whether ctx is still alive.
// Drivers pace their own waits with it too.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
