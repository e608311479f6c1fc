package uplink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Error is a reply the platform gave (or a reply the client could not make
// sense of), classified as retryable or final.
//
// Status is the HTTP status (0 when the client refused the call before
// sending it). Retryable comes from the status table of the contract, not
// from the body: 408, 425, 429 and 5xx are retryable, every other 4xx is
// final. A 2xx reply that cannot be decoded or does not match the request is
// retryable with Code CodeBadReply, because the request may have been
// committed and only a resend with the same Idempotency-Key can tell.
type Error struct {
	Status     int
	Code       string
	Message    string
	Retryable  bool
	RetryAfter time.Duration // from a Retry-After header, 0 if none

	body []byte // the ErrorBody reply as received (at most MaxReplyBytes)
}

func (e *Error) Error() string {
	kind := "final"
	if e.Retryable {
		kind = "retryable"
	}
	if e.Status == 0 {
		return fmt.Sprintf("uplink: %s (%s): %s", e.Code, kind, e.Message)
	}
	return fmt.Sprintf("uplink: HTTP %d %s (%s): %s", e.Status, e.Code, kind, e.Message)
}

// retryableStatus is the contract's status table.
func retryableStatus(status int) bool {
	switch {
	case status == 408, status == 425, status == 429:
		return true
	case status >= 500:
		return true
	case status >= 400:
		return false
	}
	// 1xx/3xx (or a 2xx we could not use): the outcome is unknown.
	return true
}

// IsRetryable reports whether the call behind err may succeed if it is sent
// again, with the same Idempotency-Key for a payment. True for network
// errors, timeouts (the HTTP client's or a deadline on the caller's context),
// dropped connections, 408/425/429, 5xx and unusable 2xx replies. False for
// nil, for final 4xx replies and when the caller cancelled its context.
//
// False does not mean the platform rejected the call: a cancelled call may
// still have been committed. Only IsFinal proves that nothing was committed.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false // the caller gave up; it decides what happens next
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Retryable
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true // includes *url.Error: dial, TLS, reset, client timeout
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// IsFinal reports whether the platform definitively refused the call (a
// final 4xx) or the client refused it before sending: nothing was
// committed, so the terminal may refund. Any other error, including a
// cancelled context, leaves the outcome unknown.
func IsFinal(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && !e.Retryable
}

// IsNotFound reports whether err is a 404 reply (unknown account, payment,
// voucher or order).
func IsNotFound(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Status == 404
}
