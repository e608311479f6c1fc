package terminal

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// forwardWorkers is how many requests the outbox has in flight at once when
// it drains a backlog (after an outage, thousands may be queued).
const forwardWorkers = 8

// forward is the outbox: it delivers every journaled payment the platform
// has not acknowledged and every voucher it has not recorded, with the
// idempotency key fixed when each was journaled, retrying with exponential
// backoff and jitter. Its queue is rebuilt from the journal at start, so it
// survives restarts.
func (t *Terminal) forward(ctx context.Context) {
	backoff := time.Second
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-t.wake:
		}
		t.mu.Lock()
		var jobs []func() error
		for _, pp := range t.pending {
			// A payment being submitted in front of the resident is theirs
			// until it turns pending.
			// So is a counter top-up in front of the staff member (staff_topup.go).
			if (t.sess == nil || t.sess.pay == nil || t.sess.pay.key != pp.Key || t.sess.pay.Status == "pending") && !t.staff.submitting[pp.Key] {
				jobs = append(jobs, func() error { return t.forwardPayment(ctx, pp) })
			}
		}
		for id := range t.unsent {
			v := *t.vouchers[id]
			jobs = append(jobs, func() error { return t.forwardVoucher(ctx, v) })
		}
		jobs = append(jobs, t.govJobsLocked(ctx)...) // applications and ratings (apply.go)
		t.mu.Unlock()

		var failed atomic.Bool
		var wg sync.WaitGroup
		next := make(chan func() error)
		for range min(forwardWorkers, len(jobs)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for job := range next {
					if failed.Load() {
						continue // the platform is away: stop hammering it
					}
					if err := job(); err != nil && uplink.IsRetryable(err) {
						failed.Store(true)
					}
				}
			}()
		}
		for _, job := range jobs {
			next <- job
		}
		close(next)
		wg.Wait()

		t.mu.Lock()
		n := len(t.pending) + len(t.unsent) + t.govQueuedLocked()
		t.mu.Unlock()
		switch {
		case failed.Load():
			timer.Reset(jitter(backoff))
			backoff = min(backoff*2, time.Minute)
		case n == 0:
			backoff = time.Second
			timer.Reset(time.Hour) // woken by nudge when something is queued
		default:
			backoff = time.Second
			timer.Reset(100 * time.Millisecond)
		}
	}
}

func (t *Terminal) forwardPayment(ctx context.Context, pp pendingPayment) error {
	pay, err := t.send(ctx, pp)
	if err != nil && uplink.IsRetryable(err) {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var target *session
	if ss := t.sess; ss != nil && ss.pay != nil && ss.pay.key == pp.Key {
		target = ss
		if err == nil {
			t.applyAckLocked(ss.pay, pay)
		} else {
			ss.pay.Status = "refused"
		}
		t.publishLocked()
	}
	if err != nil && pp.Counter != "" {
		t.counterRefusedLocked(pp, err) // the staff member holds that cash (staff_topup.go)
		return err
	}
	if err != nil {
		// A final refusal: the cash is the resident's, as a voucher.
		sess := pp.Session
		if target == nil {
			sess = ""
		}
		t.issueVoucherLocked(sess, cashPart(pp.Request), "refused", target)
	}
	return err
}

// cashPart is what a payment took in cash; vouchers it redeemed are not
// re-issued when it is refused.
func cashPart(r uplink.PaymentRequest) int64 {
	a := r.Amount
	for _, v := range r.Vouchers {
		a -= v.Amount
	}
	return a
}

func (t *Terminal) forwardVoucher(ctx context.Context, v Voucher) error {
	vp, ok := t.cfg.Platform.(VoucherPlatform)
	if !ok {
		return nil // a platform without vouchers: they stay in the journal for staff
	}
	req := uplink.VoucherRequest{TerminalID: v.TerminalID, VoucherID: v.ID, Code: v.Code, Amount: v.Amount, Reason: v.Reason,
		Session: v.Session, Utility: uplink.Utility(v.Utility), Account: v.Account, IssuedAt: v.IssuedAt}
	cctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	_, err := vp.IssueVoucher(cctx, v.Key, req)
	cancel()
	if err != nil && uplink.IsRetryable(err) {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := journal.Record{Kind: journal.VoucherForwarded, Session: v.Session, Amount: v.Amount, Key: v.Key, Ref: v.ID}
	if err != nil {
		// Refused for good: staff still have it in the journal and on paper.
		t.log.Error("platform refused a voucher record", "voucher", v.ID, "err", err)
		rec.Detail = "refused: " + err.Error()
	}
	t.appendLocked(rec)
	delete(t.unsent, v.ID)
	return nil
}

// VoucherPlatform is a platform that records vouchers (uplink API v1.1).
type VoucherPlatform interface {
	IssueVoucher(ctx context.Context, key string, req uplink.VoucherRequest) (uplink.Voucher, error)
}
