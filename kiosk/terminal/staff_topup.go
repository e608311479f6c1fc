package terminal

import (
	"context"
	"slices"
	"time"

	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// A counter top-up: the staff member takes the resident's cash at the
// counter (no note goes into the validator) and pays the bill through the
// terminal. The payment is journaled with its idempotency key and queued
// in the outbox like any other, so it reaches the platform exactly once;
// a staff.topUp record in the same transaction puts it on the shift.

func (t *Terminal) topUpLookup(ctx context.Context, utility, account string) error {
	if !uplink.ValidUtility(uplink.Utility(utility)) {
		return errf("invalidData", "unknown utility %q", utility)
	}
	t.mu.Lock()
	st := &t.staff
	tu := st.topUp
	switch {
	case st.view != ScreenStaffTopUp || tu == nil:
		t.mu.Unlock()
		return errf("sequenceError", "open the top-up screen first")
	case tu.Status != "":
		t.mu.Unlock()
		return errf("sequenceError", "this top-up is already paid: open a new one")
	case st.busy != "":
		t.mu.Unlock()
		return errf("sequenceError", "busy: %s", st.busy)
	case !uplink.ValidAccount(account):
		st.notice = &Notice{Code: "accountInvalid", Message: "account number must be 6 to 20 digits"}
		t.publishLocked()
		t.mu.Unlock()
		return errf("invalidData", "account number must be 6 to 20 digits")
	}
	st.busy, st.notice = "lookup", nil
	t.publishLocked()
	t.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	bill, err := t.cfg.Platform.Bill(cctx, uplink.Utility(utility), account)
	cancel()

	t.mu.Lock()
	defer t.mu.Unlock()
	st.busy = ""
	defer t.publishLocked()
	if st.topUp != tu {
		return errf("canceled", "the top-up screen was left")
	}
	if err != nil {
		// Counter top-ups need a bill confirmed by the platform: no
		// offline acceptance for cash that is not in the machine.
		st.notice, err = billLookupRefusal(err)
		return err
	}
	tu.Utility, tu.Account, tu.billID = utility, account, bill.BillID
	tu.Bill = &BillView{Payee: bill.Payee, Holder: bill.Holder, Period: bill.Period, AmountDue: bill.AmountDue,
		Arrears: bill.Arrears, Prepaid: bill.Prepaid, Paid: bill.PaidAt != nil}
	return nil
}

func (t *Terminal) topUpPay(notes []NoteCount) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := &t.staff
	sh, tu := st.shift, st.topUp
	switch {
	case st.view != ScreenStaffTopUp || tu == nil || tu.Bill == nil:
		return errf("sequenceError", "look up the bill first")
	case tu.Status != "":
		return errf("sequenceError", "this top-up is already paid")
	case st.busy != "":
		return errf("sequenceError", "busy: %s", st.busy)
	}
	var lines []uplink.Note
	var amount int64
	for _, n := range notes {
		if n.Count == 0 {
			continue
		}
		if !slices.Contains(uplink.Denominations(), n.Value) || n.Count < 0 || n.Count > uplink.MaxNoteCount {
			return errf("invalidData", "%d × %d fen is not a count of a CNY denomination", n.Count, n.Value)
		}
		if i := slices.IndexFunc(lines, func(l uplink.Note) bool { return l.Value == n.Value }); i >= 0 {
			lines[i].Count += n.Count
		} else {
			lines = append(lines, uplink.Note{Value: n.Value, Count: n.Count})
		}
		amount += n.Value * int64(n.Count)
	}
	slices.SortFunc(lines, func(a, b uplink.Note) int { return int(a.Value - b.Value) })
	if amount <= 0 || amount > uplink.MaxPaymentAmount || len(lines) > uplink.MaxNoteLines {
		st.notice = &Notice{Code: "staffAmountInvalid", Message: "enter the cash taken, note by note"}
		t.publishLocked()
		return errf("invalidData", "enter the cash taken, note by note")
	}
	key := uplink.NewIdempotencyKey()
	req := uplink.PaymentRequest{TerminalID: t.cfg.TerminalID, Utility: uplink.Utility(tu.Utility), Account: tu.Account, BillID: tu.billID,
		Amount: amount, Method: uplink.MethodCash, Notes: lines, JournaledAt: t.cfg.Now().UTC()}
	if err := req.Validate(); err != nil {
		return errf("invalidData", "%v", err)
	}
	pp := pendingPayment{Key: key, Session: sh.ID, Request: req, Counter: sh.StaffID}
	line := uplink.ShiftTopUp{Key: key, Utility: req.Utility, Account: req.Account, Amount: amount, Status: "pending"}
	if _, err := t.cfg.Journal.AppendAll([]journal.Record{
		{Kind: journal.PaymentSubmitted, Session: sh.ID, Amount: amount, Key: key, Detail: "counter top-up by staff " + sh.StaffID, Data: mustJSON(pp)},
		{Kind: journal.StaffTopUp, Session: sh.ID, Amount: amount, Key: key, Ref: sh.StaffID, Data: mustJSON(line)},
	}); err != nil {
		t.log.Error("journal counter top-up", "err", err)
		return errf("internalError", "journal unavailable")
	}
	t.pending[key] = pp
	st.submitting[key] = true
	sh.TopUps = append(sh.TopUps, line)
	tu.Amount, tu.Status, tu.Reference, tu.Receipt = amount, "submitting", key[:8], ""
	st.busy, st.notice = "paying", nil
	t.publishLocked()
	go t.submitTopUp(sh, tu, pp)
	return nil
}

// submitTopUp makes the first attempts in front of the staff member; if
// the platform stays away the outbox keeps trying and the receipt says
// "pending confirmation".
func (t *Terminal) submitTopUp(sh *shift, tu *StaffTopUpView, pp pendingPayment) {
	t.mu.Lock()
	ctx := t.runCtx
	t.mu.Unlock()
	var pay uplink.Payment
	err := t.inFront(ctx, func() (err error) { pay, err = t.send(ctx, pp); return err })
	r := Receipt{Kind: "payment", Method: "counter", TerminalID: t.cfg.TerminalID, Time: t.cfg.Now(), Utility: tu.Utility, Account: tu.Account,
		Amount: pp.Request.Amount, Reference: pp.Key}
	for _, n := range pp.Request.Notes {
		r.Notes = append(r.Notes, NoteCount{Value: n.Value, Count: n.Count})
	}
	t.mu.Lock()
	delete(t.staff.submitting, pp.Key) // from here the outbox may deliver it
	if tu.Bill != nil {
		r.Payee, r.Period = tu.Bill.Payee, tu.Bill.Period
	}
	switch {
	case err == nil:
		tu.Status, tu.PaymentID = "acknowledged", pay.PaymentID
		r.PaymentID, r.VerifyCode, r.VerifyURL, r.Applied, r.Prepaid = pay.PaymentID, pay.VerifyCode, pay.VerifyURL, pay.AppliedToBill, pay.PrepaidCredit
	case uplink.IsRetryable(err):
		tu.Status, r.Pending = "pending", true
		t.nudge() // the outbox delivers it under the same key
	default:
		// Refused for good: the resident's cash is still at the counter and
		// goes back to them; nothing to print.
		tu.Status = "refused"
		sh.refusedTopUp(pp.Key)
		t.staff.busy = ""
		t.staff.notice = &Notice{Code: "staffTopUpRefused", Message: "the platform refused this payment: give the cash back"}
		t.log.Error("counter top-up refused", "key", pp.Key, "err", err)
		t.publishLocked()
		t.mu.Unlock()
		return
	}
	tu.Receipt = "printing"
	t.publishLocked()
	t.mu.Unlock()

	perr := t.printStaff(StaffDoc{Kind: "topUp", TopUp: &r, StaffID: sh.StaffID, StaffName: sh.Name}, sh.ID)

	t.mu.Lock()
	defer t.mu.Unlock()
	t.staff.busy = ""
	if perr != nil {
		// The resident keeps an electronic receipt: the screen shows its QR.
		tu.Receipt, tu.VerifyURL = "failed", r.VerifyURL
	} else {
		tu.Receipt = "printed"
	}
	t.publishLocked()
}

// counterRefusedLocked takes a counter top-up the platform refused after
// it went pending. The resident's cash is at the counter, not in the
// machine: no voucher is printed here for whoever stands at the terminal.
// The refusal is journaled (payment.refused, by send), the shift report
// lists it as refused and leaves it out of the cash to hand in, and a
// signed-in staff member is told to give the cash back.
func (t *Terminal) counterRefusedLocked(pp pendingPayment, err error) {
	t.log.Error("counter top-up refused by the platform after it was recorded: the cash taken at the counter goes back to the resident",
		"key", pp.Key, "staff", pp.Counter, "amount", pp.Request.Amount, "err", err)
	sh := t.staff.shift
	if sh == nil || t.sess != nil {
		return
	}
	if !sh.refusedTopUp(pp.Key) {
		return // another shift's: its report went out with it pending
	}
	t.staff.notice = &Notice{Code: "staffTopUpRefused", Message: "the platform refused a counter payment (reference " + pp.Key[:8] + "): give the cash back"}
	if tu := t.staff.topUp; tu != nil && tu.Reference == pp.Key[:8] {
		tu.Status = "refused"
	}
	t.publishLocked()
}
