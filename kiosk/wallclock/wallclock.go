// Package wallclock tells when the system's wall clock is set: the NTP
// step after a terminal boots without a clock battery, a technician
// setting the date. A Go timer runs on the monotonic clock, which such a
// step does not move, so a wait for a wall-clock moment (a catalog's
// effective date at midnight) computed before the step would end late by
// the step. Rather than read the clock every second in case, a waiter
// listens here and reckons its wait again when told; the kernel's timerfd
// says so (TFD_TIMER_CANCEL_ON_SET), and between steps it costs nothing.
package wallclock

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// never is an expiry that never comes: only a step of the clock ends a
// read of the timer.
var never = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// Watch returns a channel that receives a value (coalesced, never
// blocking the watcher) each time the wall clock is set, until ctx ends.
// It fails if the kernel offers no such timer.
func Watch(ctx context.Context) (<-chan struct{}, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_REALTIME, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("wallclock: timerfd_create: %w", err)
	}
	if err := arm(fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// Non-blocking, so the read parks in the netpoller, not on a thread;
	// closing the file ends it when ctx ends.
	f := os.NewFile(uintptr(fd), "timerfd wallclock")
	stop := context.AfterFunc(ctx, func() { f.Close() })
	out := make(chan struct{}, 1)
	go func() {
		defer func() {
			if stop() {
				f.Close()
			}
		}()
		var buf [8]byte
		for {
			_, err := f.Read(buf[:])
			switch {
			case errors.Is(err, unix.ECANCELED): // the clock was set
				select {
				case out <- struct{}{}:
				default: // one notice pending is as good as two
				}
			case err == nil: // 2200 came: arm it again
				if arm(fd) != nil {
					return
				}
			default: // closed: ctx ended
				return
			}
		}
	}()
	return out, nil
}

func arm(fd int) error {
	// 32-bit ARM's time_t ends in 2038: there "never" is its last second.
	at, err := unix.TimeToTimespec(time.Unix(never, 0))
	if err != nil {
		at, _ = unix.TimeToTimespec(time.Unix(math.MaxInt32, 0))
	}
	spec := unix.ItimerSpec{Value: at}
	if err := unix.TimerfdSettime(fd, unix.TFD_TIMER_ABSTIME|unix.TFD_TIMER_CANCEL_ON_SET, &spec, nil); err != nil {
		return fmt.Errorf("wallclock: timerfd_settime: %w", err)
	}
	return nil
}
