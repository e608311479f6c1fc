package terminal

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// Receipt is what a printed receipt says.
type Receipt struct {
	Kind       string // "payment" (default) or "voucher"
	Method     string // "cash" (default) or "mobile"
	Wallet     string // wechat, alipay, unionpay for mobile payments
	Reason     string // why a voucher was issued
	TerminalID string
	Time       time.Time
	Utility    string
	Account    string
	Payee      string
	Period     string
	Amount     int64
	Applied    int64
	Prepaid    int64
	Notes      []NoteCount
	PaymentID  string
	VerifyCode string
	VerifyURL  string
	Reference  string
	Pending    bool         // not yet confirmed by the platform
	Copy       bool         // a reprint: marked 重打 COPY
	Case       *CaseReceipt // Kind "case": an application's receipt (apply.go)
}

// pendingPayment is a journaled payment the platform has not acknowledged.
type pendingPayment struct {
	Key     string                `json:"key"`
	Session string                `json:"session"`
	Request uplink.PaymentRequest `json:"request"`
	// Counter is the staff member who took this cash at the counter
	// (staff_topup.go): it never entered the machine, so a refusal owes
	// the resident no voucher.
	Counter string `json:"counter,omitempty"`
}

// beginPaymentLocked journals the payment with its idempotency key and
// starts forwarding it. From here the payment exists: a crash after this
// point is recovered by resubmitting with the same key.
func (t *Terminal) beginPaymentLocked() error {
	ss := t.sess
	notes := make([]uplink.Note, 0, len(ss.notes))
	for v, n := range ss.notes {
		notes = append(notes, uplink.Note{Value: v, Count: n})
	}
	sort.Slice(notes, func(i, j int) bool { return notes[i].Value < notes[j].Value })
	key := uplink.NewIdempotencyKey()
	req := uplink.PaymentRequest{
		TerminalID: t.cfg.TerminalID, Utility: uplink.Utility(ss.utility), Account: ss.account, BillID: ss.bill.BillID,
		Amount: ss.credit, Method: uplink.MethodCash, Notes: notes, JournaledAt: t.cfg.Now().UTC(),
		Vouchers: slices.Clone(ss.vouchers),
	}
	if len(notes) == 0 {
		req.Method = uplink.MethodVoucher
	}
	pp := pendingPayment{Key: key, Session: ss.id, Request: req}
	if _, err := t.cfg.Journal.Append(journal.Record{Kind: journal.PaymentSubmitted, Session: ss.id,
		Amount: req.Amount, Key: key, Data: mustJSON(pp)}); err != nil {
		t.log.Error("journal payment", "err", err)
		ss.busy = ""
		ss.notice = &Notice{Code: "internalError", Message: "journal unavailable"}
		t.publishLocked()
		return errf("internalError", "journal unavailable: %v", err)
	}
	t.pending[key] = pp
	ss.screen, ss.busy, ss.confirm = ScreenPaying, "", false
	ss.pay = &paymentView{Status: "submitting", Amount: req.Amount, Reference: key[:8], Receipt: "none", key: key}
	t.publishLocked()
	go t.submit(ss, pp)
	return nil
}

// submit forwards a payment in front of the resident for a while; if the
// platform stays away the forwarder keeps trying and the resident gets a
// "pending confirmation" receipt.
func (t *Terminal) submit(ss *session, pp pendingPayment) {
	t.mu.Lock()
	ctx := t.runCtx
	t.mu.Unlock()
	var pay uplink.Payment
	err := t.inFront(ctx, func() (err error) { pay, err = t.send(ctx, pp); return err })

	t.mu.Lock()
	pv := ss.pay
	r := t.receiptLocked(ss)
	switch {
	case err == nil:
		t.applyAckLocked(pv, pay)
		r.PaymentID, r.VerifyCode, r.VerifyURL = pay.PaymentID, pay.VerifyCode, pay.VerifyURL
		r.Applied, r.Prepaid = pay.AppliedToBill, pay.PrepaidCredit
	case uplink.IsRetryable(err):
		pv.Status = "pending"
		r.Pending = true
		t.log.Warn("payment pending: the forwarder will retry", "key", pp.Key, "err", err)
	default:
		pv.Status = "refused"
		t.log.Error("payment refused", "key", pp.Key, "err", err)
	}
	if pv.Status == "refused" {
		// A final refusal: the cash comes back to the resident as a voucher.
		pv.Receipt = "none"
		t.issueVoucherLocked(ss.id, cashPart(pp.Request), "refused", ss)
		t.mu.Unlock()
		return
	}
	pv.Receipt = "printing"
	t.publishLocked()
	t.mu.Unlock()

	perr := t.printReceipt(ctx, ss.id, r)

	t.mu.Lock()
	defer t.mu.Unlock()
	if perr != nil {
		pv.Receipt, pv.ReceiptError = "failed", perr.Error()
	} else {
		pv.Receipt = "printed"
	}
	ss.screen = ScreenDone
	if t.sess == ss {
		t.touchLocked()
	}
	t.publishLocked()
}

// send makes one attempt and journals the outcome.
func (t *Terminal) send(ctx context.Context, pp pendingPayment) (uplink.Payment, error) {
	cctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	pay, err := t.cfg.Platform.Pay(cctx, pp.Key, pp.Request)
	cancel()
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, still := t.pending[pp.Key]; !still {
		// The forwarder and the session raced and the other won: the
		// platform deduplicated by key, so this is the same payment.
		return pay, err
	}
	switch {
	case err == nil:
		t.online = true
		if _, jerr := t.cfg.Journal.Append(journal.Record{Kind: journal.PaymentAcknowledged, Session: pp.Session,
			Amount: pay.Amount, Key: pp.Key, Ref: pay.PaymentID, Data: mustJSON(pay)}); jerr != nil {
			t.log.Error("journal ack", "err", jerr)
		}
		delete(t.pending, pp.Key)
	case uplink.IsRetryable(err):
		t.online = false
	default:
		t.online = true
		if _, jerr := t.cfg.Journal.Append(journal.Record{Kind: journal.PaymentRefused, Session: pp.Session,
			Amount: pp.Request.Amount, Key: pp.Key, Detail: err.Error()}); jerr != nil {
			t.log.Error("journal refusal", "err", jerr)
		}
		delete(t.pending, pp.Key)
	}
	t.publishLocked()
	return pay, err
}

func (t *Terminal) applyAckLocked(pv *paymentView, pay uplink.Payment) {
	pv.Status = "acknowledged"
	pv.PaymentID, pv.VerifyCode, pv.VerifyURL = pay.PaymentID, pay.VerifyCode, pay.VerifyURL
	pv.AppliedToBill, pv.Prepaid = pay.AppliedToBill, pay.PrepaidCredit
}

func (t *Terminal) receiptLocked(ss *session) Receipt {
	r := Receipt{TerminalID: t.cfg.TerminalID, Time: t.cfg.Now(), Utility: ss.utility, Account: ss.account,
		Amount: ss.credit, Reference: ss.pay.key}
	if ss.bill != nil {
		r.Payee, r.Period = ss.bill.Payee, ss.bill.Period
	}
	for v, n := range ss.notes {
		r.Notes = append(r.Notes, NoteCount{Value: v, Count: n})
	}
	sort.Slice(r.Notes, func(i, j int) bool { return r.Notes[i].Value < r.Notes[j].Value })
	return r
}

func (t *Terminal) printReceipt(ctx context.Context, session string, r Receipt) error {
	t.rememberReceipt(session, r)
	if t.cfg.Printer == nil || t.cfg.Receipt == nil {
		return errors.New("no printer")
	}
	job, err := t.cfg.Receipt(r)
	if err == nil && t.onScreenOnly(session) {
		err = errOnScreen // the resident chose the on-screen receipt: no paper
	} else if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err = t.cfg.Printer.Print(pctx, job)
		cancel()
	}
	rec := journal.Record{Kind: journal.ReceiptPrinted, Session: session, Amount: r.Amount, Key: r.Reference, Ref: r.PaymentID}
	if err != nil {
		rec.Kind, rec.Detail = journal.ReceiptFailed, err.Error()
		t.log.Warn("receipt not printed", "err", err)
	}
	if _, jerr := t.cfg.Journal.Append(rec); jerr != nil {
		t.log.Error("journal receipt", "err", jerr)
	}
	return err
}

func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
