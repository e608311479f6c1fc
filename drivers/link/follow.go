package link

import (
	"context"
	"os"
	"time"

	"tongban/drivers/serialport"
)

// linkCheck is how often an open port's path is checked for a re-pointed
// link: a readlink, negligible next to the drivers' own polling.
const linkCheck = time.Second

// followLink wraps a session so that, when path is a symbolic link (the
// daemon's device links, which a technician's saved profile re-points to
// a device on another port), the session ends as soon as the link points
// elsewhere, even if the old port still answers or something else now
// sits on it; Run then opens the new target. A path that is not a link
// costs one readlink per open.
func followLink(path string, s Session) Session {
	return func(ctx context.Context, port serialport.Port) (bool, error) {
		target, err := os.Readlink(path)
		if err != nil {
			return s(ctx, port) // not a link: nothing to follow
		}
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		moved := make(chan string, 1)
		go func() {
			t := time.NewTicker(linkCheck)
			defer t.Stop()
			for {
				select {
				case <-sctx.Done():
					return
				case <-t.C:
					if now, err := os.Readlink(path); err == nil && now != target {
						moved <- now
						cancel() // sessions end when their ctx does
						return
					}
				}
			}
		}()
		answered, err := s(sctx, port)
		select {
		case now := <-moved:
			err = &MovedError{Path: path, From: target, To: now}
		default:
		}
		return answered, err
	}
}

// MovedError ends a session whose link was re-pointed.
type MovedError struct{ Path, From, To string }

func (e *MovedError) Error() string {
	return e.Path + " re-pointed from " + e.From + " to " + e.To + ": reopening"
}
