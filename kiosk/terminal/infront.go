package terminal

import (
	"context"
	"time"

	"tongban/kiosk/uplink"
)

// inFront makes the first attempts at delivering something a person is
// waiting for on screen (a payment, a counter top-up, an application):
// it retries a retryable failure with backoff for at most SubmitPatience,
// then returns the last error and the outbox carries on under the same key.
func (t *Terminal) inFront(ctx context.Context, try func() error) error {
	deadline := time.Now().Add(t.cfg.SubmitPatience)
	backoff := 250 * time.Millisecond
	for {
		err := try()
		if err == nil || !uplink.IsRetryable(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		sleep(ctx, jitter(backoff))
		backoff = min(backoff*2, 4*time.Second)
	}
}
