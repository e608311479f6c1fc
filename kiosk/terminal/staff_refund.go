package terminal

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// A voucher refunded in cash at the counter: the staff member scans it on
// the refund screen, the terminal checks it is one of its own and unused,
// the platform records the refund (it decides against a redemption racing
// elsewhere), and only then is it journaled and the cash paid out.
//
// The refund's idempotency key is journaled before it is sent. Until the
// platform answers for good the voucher is held (no payment may redeem
// it), and a retry, also after a restart, resends the same key: a refund
// the platform recorded but whose answer was lost is never lost here.

// refundAsk is a refund sent to the platform and not settled yet.
type refundAsk struct {
	Key     string
	StaffID string
}

// refundScannedLocked takes a voucher QR read on the refund screen.
func (t *Terminal) refundScannedLocked(text string) {
	st := &t.staff
	id, code, _ := parseVoucherPayload(text)
	id, code = strings.ToUpper(strings.TrimSpace(id)), strings.ToUpper(strings.TrimSpace(code))
	if st.busy != "" {
		return
	}
	st.refund, st.notice = nil, nil
	defer t.publishLocked()
	t.staffTouchLocked()
	v, ok := t.vouchers[id]
	_, asked := st.refundAsks[id]
	switch {
	case !ok:
		st.notice = &Notice{Code: "voucherUnknown", Message: "not a voucher of this terminal"}
	case subtle.ConstantTimeCompare([]byte(v.Code), []byte(code)) != 1:
		st.notice = &Notice{Code: "voucherUnknown", Message: "wrong voucher code"}
	case t.redeemed[id] && !asked:
		st.notice = &Notice{Code: "voucherUsed", Message: "this voucher was already used or refunded"}
	default:
		st.refund = &StaffRefundView{VoucherID: v.ID, Amount: v.Amount, IssuedAt: v.IssuedAt.UnixMilli(), Status: "ready", code: v.Code}
	}
}

func (t *Terminal) refundConfirm(ctx context.Context) error {
	t.mu.Lock()
	st := &t.staff
	sh, rv := st.shift, st.refund
	switch {
	case st.view != ScreenStaffRefund || rv == nil || rv.Status != "ready":
		t.mu.Unlock()
		return errf("sequenceError", "scan a voucher first")
	case st.busy != "":
		t.mu.Unlock()
		return errf("sequenceError", "busy: %s", st.busy)
	}
	ask, asked := st.refundAsks[rv.VoucherID]
	if t.redeemed[rv.VoucherID] && !asked {
		st.refund, st.notice = nil, &Notice{Code: "voucherUsed", Message: "this voucher was already used or refunded"}
		t.publishLocked()
		t.mu.Unlock()
		return errf("invalidData", "voucher already used or refunded")
	}
	sp, ok := t.cfg.Platform.(StaffPlatform)
	if !ok {
		t.mu.Unlock()
		return errf("unsupportedCommand", "the platform does not record refunds")
	}
	v := *t.vouchers[rv.VoucherID]
	unsent := t.unsent[v.ID]
	if !asked {
		// A new request. A retry resends the journaled one unchanged (its
		// key and the staff member named in its body), even when another
		// staff member now pays out: a new key would be refused as "already
		// refunded" if the lost answer had been a success, and the
		// resident would get nothing.
		ask = refundAsk{Key: uplink.NewIdempotencyKey(), StaffID: sh.StaffID}
		if _, err := t.cfg.Journal.Append(journal.Record{Kind: journal.StaffRefundRequested, Session: sh.ID, Amount: v.Amount, Key: ask.Key, Ref: v.ID,
			Detail: "staff " + sh.StaffID}); err != nil {
			t.mu.Unlock()
			return errf("internalError", "journal unavailable")
		}
		st.refundAsks[v.ID] = ask
	}
	// Held while the platform decides, so a payment cannot redeem it now.
	t.redeemed[v.ID] = true
	rv.Status, st.busy, st.notice = "refunding", "refund", nil
	t.publishLocked()
	t.mu.Unlock()

	var err error
	if unsent {
		err = t.forwardVoucher(ctx, v) // the platform must know the voucher first
	}
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = sp.RefundVoucher(cctx, ask.Key, v.ID, uplink.VoucherRefundRequest{TerminalID: t.cfg.TerminalID, StaffID: ask.StaffID, Code: v.Code})
		cancel()
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	st.busy = ""
	defer t.publishLocked()
	var ue *uplink.Error
	switch {
	case err == nil:
	case errors.As(err, &ue) && !ue.Retryable:
		// Refused for good: used (or refunded) already, or not known to the
		// platform. No cash leaves the counter.
		delete(st.refundAsks, v.ID)
		t.appendLocked(journal.Record{Kind: journal.StaffRefundRequested, Session: sh.ID, Key: ask.Key, Ref: v.ID, Detail: "refused: " + ue.Code})
		st.refund = nil
		st.notice = &Notice{Code: "voucherUsed", Message: "the platform says this voucher cannot be refunded: " + ue.Message}
		if ue.Code != uplink.CodeVoucherUnavailable {
			delete(t.redeemed, v.ID) // not used: only unknown to the platform, or the code is wrong
			st.notice.Code = "voucherUnknown"
		}
		return errf("invalidData", "%s", st.notice.Message)
	default:
		// Outcome unknown: the voucher stays held and the next try resends
		// the same key, so a refund recorded meanwhile is replayed, not lost.
		rv.Status = "ready"
		st.notice = &Notice{Code: "platformOffline", Message: "the county platform cannot be reached: no cash paid out, try again"}
		return errf("timeOut", "refund not confirmed: %v", err)
	}
	delete(st.refundAsks, v.ID)
	if _, jerr := t.cfg.Journal.Append(journal.Record{Kind: journal.VoucherRefunded, Session: sh.ID, Amount: v.Amount, Key: ask.Key, Ref: v.ID,
		Detail: "refunded in cash by staff " + sh.StaffID}); jerr != nil {
		t.log.Error("journal voucher refund", "err", jerr)
	}
	sh.Refunds = append(sh.Refunds, uplink.ShiftRefund{VoucherID: v.ID, Amount: v.Amount})
	rv.Status = "refunded"
	t.log.Info("voucher refunded in cash", "voucher", v.ID, "amount", v.Amount, "staff", sh.StaffID)
	ref := uplink.ShiftRefund{VoucherID: v.ID, Amount: v.Amount}
	go t.printStaff(StaffDoc{Kind: "refund", Refund: &ref, StaffID: sh.StaffID, StaffName: sh.Name}, sh.ID)
	return nil
}
