package terminal

import (
	"fmt"
	"net/url"
	"time"

	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// Voucher is a credit the terminal owes a resident: cash that went in but
// could not be paid to an account (the resident walked away, the platform
// refused the payment, a session was interrupted). Staff refund it in cash;
// any later payment at this terminal can redeem it.
type Voucher struct {
	ID         string    `json:"voucherId"`
	Key        string    `json:"key"` // idempotency key of its platform record
	Code       string    `json:"code"`
	Amount     int64     `json:"amount"`
	Reason     string    `json:"reason"`
	Session    string    `json:"session,omitempty"`
	Utility    string    `json:"utility,omitempty"`
	Account    string    `json:"account,omitempty"`
	TerminalID string    `json:"terminalId"`
	IssuedAt   time.Time `json:"issuedAt"`
}

// Payload is what the voucher's QR code carries.
func (v Voucher) Payload() string {
	q := url.Values{"c": {v.Code}, "a": {fmt.Sprint(v.Amount)}, "t": {v.TerminalID}}
	return "tongban-voucher:" + v.ID + "?" + q.Encode()
}

// VoucherView is a voucher as the screen shows it.
type VoucherView struct {
	ID      string `json:"voucherId"`
	Code    string `json:"code"`
	Amount  int64  `json:"amount"`
	Reason  string `json:"reason"`
	Payload string `json:"payload,omitempty"` // only when it could not be printed
	Printed string `json:"printed"`           // printing, printed, failed
}

// issueVoucherLocked journals a voucher for amount and starts printing it.
// ss, when not nil, is the session it ends: its screen shows the voucher.
func (t *Terminal) issueVoucherLocked(session string, amount int64, reason string, ss *session) *Voucher {
	v := &Voucher{ID: uplink.NewVoucherID(), Key: uplink.NewIdempotencyKey(), Code: uplink.NewVoucherCode(), Amount: amount, Reason: reason,
		Session: session, TerminalID: t.cfg.TerminalID, IssuedAt: t.cfg.Now().UTC()}
	if ss != nil {
		v.Utility, v.Account = ss.utility, ss.account
	}
	if _, err := t.cfg.Journal.Append(journal.Record{Kind: journal.VoucherIssued, Session: session, Amount: amount,
		Ref: v.ID, Detail: reason, Data: mustJSON(v)}); err != nil {
		t.log.Error("journal voucher", "err", err)
	}
	t.vouchers[v.ID] = v
	t.unsent[v.ID] = true
	t.nudge()
	t.log.Warn("voucher issued", "voucher", v.ID, "amount", amount, "reason", reason, "session", session)
	if ss != nil {
		ss.credit = 0
		ss.accepting = false
		ss.screen = ScreenVoucher
		ss.voucher = &VoucherView{ID: v.ID, Code: v.Code, Amount: v.Amount, Reason: reason, Printed: "printing"}
		t.enableCashLocked(false)
		t.publishLocked()
	}
	go t.printVoucher(ss, *v)
	return v
}

// orphanVoucherLocked covers credit that arrived with no session to hold it.
func (t *Terminal) orphanVoucherLocked(amount int64) {
	t.issueVoucherLocked("", amount, "unattended", nil)
}

func (t *Terminal) printVoucher(ss *session, v Voucher) {
	t.mu.Lock()
	ctx := t.runCtx
	t.mu.Unlock()
	r := Receipt{Kind: "voucher", TerminalID: v.TerminalID, Time: v.IssuedAt, Utility: v.Utility, Account: v.Account,
		Amount: v.Amount, Reference: v.ID, VerifyCode: v.Code, VerifyURL: v.Payload(), Reason: v.Reason}
	err := t.printReceipt(ctx, v.Session, r)
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := journal.Record{Kind: journal.VoucherPrinted, Session: v.Session, Amount: v.Amount, Ref: v.ID}
	if err != nil {
		rec.Detail = "not printed: " + err.Error()
	}
	t.appendLocked(rec)
	if ss == nil || t.sess != ss || ss.voucher == nil {
		return
	}
	if err != nil {
		ss.voucher.Printed, ss.voucher.Payload = "failed", v.Payload()
	} else {
		ss.voucher.Printed = "printed"
	}
	t.touchLocked()
	t.publishLocked()
}
