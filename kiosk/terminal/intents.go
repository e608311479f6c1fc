package terminal

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// Error is a refused or failed intent. Code is an XFS4IoT completion code
// (invalidData, sequenceError, deviceNotReady, ...), so screens can tell a
// resident's mistake from a fault.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errf(code, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

// Commands is every intent the core accepts, by name.
var Commands = []string{
	"Session.Start", "Session.Cancel", "Session.Finish", "Session.Touch",
	"Bill.Lookup", "Cash.Start", "Payment.Confirm", "Voucher.Redeem", "Mobile.Start",
	"Session.Extend", "Receipt.Reprint", "Receipt.OnScreen",
	"Gov.Browse", "Gov.Matter", "Gov.Back", "Apply.Begin", "Apply.Set", "Apply.Attach", "Apply.Submit", "Progress.Start", "Rating.Submit",
	// Staff mode (staff.go, StaffCommands).
	"Staff.SignIn", "Staff.SignInCancel", "Staff.SignOut", "Staff.Touch", "Staff.Open",
	"Staff.TopUpLookup", "Staff.TopUpPay", "Staff.CashCount", "Staff.RefundConfirm",
}

// Do carries out one intent from a screen and returns its result. It checks
// the intent against the current step: a screen cannot skip a step or make
// credit, whatever it sends.
func (t *Terminal) Do(ctx context.Context, name string, payload json.RawMessage) (any, error) {
	if strings.HasPrefix(name, "Staff.") {
		return t.doStaff(ctx, name, payload) // staff mode decodes its own payloads (staff.go)
	}
	if err := t.residentBlocked(name); err != nil {
		return nil, err
	}
	if f := t.govIntent(name); f != nil { // government services decode their own payloads (apply.go)
		return f(ctx, payload)
	}
	var p struct {
		Utility   string `json:"utility"`
		Account   string `json:"account"`
		VoucherID string `json:"voucherId"`
		Code      string `json:"code"`
		Payload   string `json:"payload"` // a scanned voucher QR
	}
	if len(payload) > 0 && string(payload) != "null" {
		dec := json.NewDecoder(strings.NewReader(string(payload)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, errf("invalidData", "payload: %v", err)
		}
	}
	switch name {
	case "Session.Start":
		return nil, t.start(p.Utility)
	case "Session.Cancel":
		return nil, t.cancel()
	case "Session.Finish":
		return nil, t.finish()
	case "Session.Touch":
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.sess != nil {
			t.touchLocked()
		}
		return nil, nil
	case "Bill.Lookup":
		return nil, t.lookup(ctx, p.Account)
	case "Cash.Start":
		return nil, t.beforeMoney(ctx, t.startCash)
	case "Payment.Confirm":
		return nil, t.confirm()
	case "Mobile.Start":
		return nil, t.beforeMoney(ctx, func() error { return t.startMobile(uplink.OrderDynamicQR, "") })
	case "Session.Extend":
		return nil, t.extend()
	case "Receipt.Reprint":
		return nil, t.reprint()
	case "Receipt.OnScreen":
		return nil, t.chooseOnScreenReceipt()
	case "Voucher.Redeem":
		return nil, t.redeem(p.VoucherID, p.Code, p.Payload)
	}
	return nil, errf("unsupportedCommand", "unknown command %q", name)
}

func (t *Terminal) start(utility string) error {
	if !uplink.ValidUtility(uplink.Utility(utility)) {
		return errf("invalidData", "unknown utility %q", utility)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sess != nil && (t.sess.credit > 0 || len(t.sess.flight) > 0) {
		return errf("sequenceError", "a session with inserted cash is open")
	}
	if committedLocked(t.sess) {
		return errf("sequenceError", "another service is being completed")
	}
	t.wipeGovLocked(t.sess) // a government-service visit being replaced (apply.go)
	t.sess = &session{id: newID(), screen: ScreenAccount, utility: utility, notes: map[int64]int{}}
	t.touchLocked()
	t.publishLocked()
	return nil
}

func (t *Terminal) lookup(ctx context.Context, account string) error {
	t.mu.Lock()
	ss := t.sess
	if ss == nil || (ss.screen != ScreenAccount && ss.screen != ScreenBill) {
		t.mu.Unlock()
		return errf("sequenceError", "no bill is being looked up")
	}
	if ss.busy != "" {
		t.mu.Unlock()
		return errf("sequenceError", "busy: %s", ss.busy)
	}
	if !uplink.ValidAccount(account) {
		ss.notice = &Notice{Code: "accountInvalid", Message: "account number must be 6 to 20 digits"}
		t.publishLocked()
		t.mu.Unlock()
		return errf("invalidData", "account number must be 6 to 20 digits")
	}
	ss.account, ss.busy, ss.notice = account, "lookup", nil
	t.touchLocked()
	t.publishLocked()
	utility := ss.utility
	t.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	bill, err := t.cfg.Platform.Bill(cctx, uplink.Utility(utility), account)
	cancel()

	t.mu.Lock()
	defer t.mu.Unlock()
	t.online = err == nil || !uplink.IsRetryable(err)
	if t.sess != ss { // the session ended while we waited
		return errf("canceled", "session ended")
	}
	ss.busy = ""
	defer t.publishLocked()
	if err != nil {
		ss.notice, err = billLookupRefusal(err)
		return err
	}
	ss.bill = &bill
	ss.screen = ScreenBill
	return nil
}

func (t *Terminal) startCash() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.sess
	if ss == nil || ss.screen != ScreenBill || ss.bill == nil {
		return errf("sequenceError", "no bill to pay")
	}
	if t.cfg.Cash == nil && t.cfg.Coins == nil {
		return errf("deviceNotReady", "this terminal takes no cash")
	}
	if !ss.opened {
		// Journal what the cash will be for before any note can go in.
		_, err := t.cfg.Journal.Append(journal.Record{Kind: journal.SessionOpened, Session: ss.id,
			Data: mustJSON(openedData{Utility: ss.utility, Account: ss.account, BillID: ss.bill.BillID, AmountDue: ss.bill.AmountDue,
				Payee: ss.bill.Payee, Period: ss.bill.Period, Holder: ss.bill.Holder})})
		if err != nil {
			t.log.Error("journal", "err", err)
			return errf("internalError", "journal unavailable")
		}
		ss.opened = true
	}
	ss.screen, ss.accepting, ss.notice = ScreenCash, true, nil
	t.enableCashLocked(true)
	t.touchLocked()
	t.publishLocked()
	return nil
}

type openedData struct {
	Utility   string `json:"utility"`
	Account   string `json:"account"`
	BillID    string `json:"billId"`
	AmountDue int64  `json:"amountDue"`
	Payee     string `json:"payee,omitempty"`
	Period    string `json:"period,omitempty"`
	Holder    string `json:"holder,omitempty"` // masked by the platform
}

func (t *Terminal) acceptedValues() []int64 {
	if t.cfg.Cash == nil {
		return nil
	}
	all := t.cfg.Cash.Denominations()
	if len(all) == 0 {
		// The device has not told its table yet (it may be starting): ask
		// for what the profile allows, or every CNY note; the driver maps
		// the values to its codes once it knows them.
		if len(t.cfg.AcceptValues) > 0 {
			return slices.Clone(t.cfg.AcceptValues)
		}
		return []int64{100, 500, 1000, 2000, 5000, 10000}
	}
	if len(t.cfg.AcceptValues) == 0 {
		return all
	}
	var out []int64
	for _, v := range all {
		if slices.Contains(t.cfg.AcceptValues, v) {
			out = append(out, v)
		}
	}
	return out
}

func (t *Terminal) confirm() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.sess
	if ss == nil || ss.screen != ScreenCash {
		return errf("sequenceError", "nothing to confirm")
	}
	if ss.credit <= 0 && len(ss.flight) == 0 {
		return errf("sequenceError", "no cash inserted yet")
	}
	ss.confirm, ss.accepting = true, false
	t.enableCashLocked(false)
	t.touchLocked()
	if len(ss.flight) == 0 {
		return t.beginPaymentLocked()
	}
	ss.busy = "counting" // a note is still on its way in; pay once it lands
	t.publishLocked()
	return nil
}

func (t *Terminal) cancel() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.sess
	if ss == nil {
		return nil
	}
	if ss.credit > 0 || len(ss.flight) > 0 {
		return errf("sequenceError", "cash has been inserted: confirm to pay it to the account")
	}
	if ss.screen == ScreenPaying {
		return errf("sequenceError", "payment in progress")
	}
	if ss.screen == ScreenApplySubmitting {
		return errf("sequenceError", "the application is being submitted and its receipt printed")
	}
	if ss.screen == ScreenMobile && ss.order != nil {
		// The order is reversed (never within the guard after success) and
		// the session returns to the bill once it has ended.
		ss.order.Status = "cancelling"
		t.publishLocked()
		return nil
	}
	t.endLocked()
	return nil
}

func (t *Terminal) finish() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.sess
	if ss == nil {
		return nil
	}
	if ss.screen != ScreenDone && ss.screen != ScreenVoucher {
		return errf("sequenceError", "the session is not finished")
	}
	t.endLocked()
	return nil
}

// endLocked wipes the session and goes home.
func (t *Terminal) endLocked() {
	if t.sess != nil && t.sess.accepting {
		t.enableCashLocked(false)
	}
	t.wipeGovLocked(t.sess) // the ID card data and form go with the session (apply.go)
	t.wipeLocked(t.sess)    // last: it empties the whole session struct (resident.go)
	t.sess = nil
	if t.idle != nil {
		t.idle.Stop()
		t.idle = nil
	}
	t.publishLocked()
}

// touchLocked restarts the idle clock.
func (t *Terminal) touchLocked() {
	ss := t.sess
	ss.touched = t.cfg.Now()
	if t.idle != nil {
		t.idle.Stop()
	}
	t.idle = time.AfterFunc(t.cfg.IdleTimeout, func() { t.idleExpired(ss) })
	t.armWarningLocked(ss)
}

func (t *Terminal) idleExpired(ss *session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sess != ss {
		return
	}
	switch {
	case committedLocked(ss):
		// A note is on its way in, or the payment or application is being
		// made: wait.
		t.touchLocked()
		return
	case ss.credit > 0:
		// The resident walked away with cash inside: it becomes a voucher,
		// printed for them (and refundable by staff), never kept.
		t.log.Info("session idle with credit: issuing a voucher", "session", ss.id, "credit", ss.credit)
		t.issueVoucherLocked(ss.id, ss.credit, "timeout", ss)
		t.touchLocked()
		return
	}
	t.log.Info("session idle: back to home", "session", ss.id)
	t.endLocked()
}

// withinLimitLocked says whether a note of value may be taken now. While
// the platform is unreachable, cash is capped per payment and in total so
// a long outage cannot pile up unconfirmed money.
func (t *Terminal) withinLimitLocked(ss *session, value int64) bool {
	if t.online {
		return true
	}
	var inFlight int64
	for _, v := range ss.flight {
		inFlight += v
	}
	after := ss.credit + inFlight + value
	return after <= t.cfg.OfflinePerPayment && after <= t.offlineRemainingLocked()
}

// offlineRemainingLocked is what is left of the total offline limit.
func (t *Terminal) offlineRemainingLocked() int64 {
	var pending int64
	for _, pp := range t.pending {
		pending += pp.Request.Amount
	}
	return max(0, t.cfg.OfflineTotal-pending)
}

// redeem puts an earlier voucher from this terminal towards the payment in
// progress. The voucher's use is journaled before the credit shows; the
// platform checks it again, atomically with the payment.
func (t *Terminal) redeem(id, code, payload string) error {
	if payload != "" {
		pid, pcode, ok := parseVoucherPayload(payload)
		if !ok {
			return errf("invalidData", "not a voucher code")
		}
		id, code = pid, pcode
	}
	id = strings.ToUpper(strings.TrimSpace(id))
	code = strings.ToUpper(strings.TrimSpace(code))
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.sess
	if ss == nil || ss.screen != ScreenCash {
		return errf("sequenceError", "vouchers are used while paying")
	}
	v, ok := t.vouchers[id]
	var refuse *Notice
	switch {
	case !ok:
		refuse = &Notice{Code: "voucherUnknown", Message: "not a voucher of this terminal"}
	case subtle.ConstantTimeCompare([]byte(v.Code), []byte(code)) != 1:
		refuse = &Notice{Code: "voucherUnknown", Message: "wrong voucher code"}
	case t.redeemed[id]:
		refuse = &Notice{Code: "voucherUsed", Message: "this voucher was already used or refunded"}
	}
	if refuse != nil {
		ss.notice = refuse
		t.publishLocked()
		return errf("invalidData", "%s", refuse.Message)
	}
	if _, err := t.cfg.Journal.Append(journal.Record{Kind: journal.VoucherRedeemed, Session: ss.id, Amount: v.Amount, Ref: v.ID}); err != nil {
		return errf("internalError", "journal unavailable")
	}
	t.redeemed[id] = true
	ss.vouchers = append(ss.vouchers, uplink.VoucherUse{VoucherID: v.ID, Code: v.Code, Amount: v.Amount})
	ss.credit += v.Amount
	ss.notice = nil
	t.touchLocked()
	t.publishLocked()
	return nil
}

// parseVoucherPayload reads "tongban-voucher:ID?c=CODE&a=...&t=...".
func parseVoucherPayload(s string) (id, code string, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "tongban-voucher:")
	if !found {
		return "", "", false
	}
	id, query, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(query)
	if err != nil || id == "" || q.Get("c") == "" {
		return "", "", false
	}
	return id, q.Get("c"), true
}
