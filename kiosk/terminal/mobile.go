package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// OrderPlatform is a platform that settles mobile-wallet payments (uplink
// API v1.1): it plays the acquirer.
type OrderPlatform interface {
	CreateOrder(ctx context.Context, key string, req uplink.OrderRequest) (uplink.Order, error)
	Order(ctx context.Context, orderID string) (uplink.Order, error)
	ReverseOrder(ctx context.Context, key, orderID string, req uplink.OrderActionRequest) (uplink.Order, error)
	PaymentByID(ctx context.Context, paymentID string) (uplink.Payment, error)
}

// openOrder is a mobile order as journaled when it is created: both keys
// are fixed then, so a retry after a lost answer never charges twice and a
// reverse is never sent under two keys.
type openOrder struct {
	Key        string              `json:"key"`
	ReverseKey string              `json:"reverseKey"`
	Session    string              `json:"session"`
	Request    uplink.OrderRequest `json:"request"`
	Created    time.Time           `json:"created"`
}

// OrderView is a mobile payment as the screen shows it.
type OrderView struct {
	OrderID   string `json:"orderId"`
	Kind      string `json:"kind"`   // dynamicQR or paymentCode
	Status    string `json:"status"` // creating, pending, paid, closed, reversed
	Amount    int64  `json:"amount"`
	QRPayload string `json:"qrPayload,omitempty"`
	Wallet    string `json:"wallet,omitempty"`
	Deadline  int64  `json:"deadline"` // unix ms when an unpaid order is reversed
}

// startMobile opens a dynamic-QR order for the bill on screen.
func (t *Terminal) startMobile(kind uplink.OrderKind, code string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.sess
	if ss == nil || ss.screen != ScreenBill || ss.bill == nil {
		return errf("sequenceError", "no bill to pay")
	}
	op, ok := t.cfg.Platform.(OrderPlatform)
	if !ok {
		return errf("unsupportedCommand", "the platform does not settle mobile payments")
	}
	if !t.online {
		return errf("deviceNotReady", "mobile payment needs the platform online")
	}
	if ss.bill.AmountDue <= 0 {
		return errf("invalidData", "nothing is due on this bill")
	}
	oo := openOrder{Key: uplink.NewIdempotencyKey(), ReverseKey: uplink.NewIdempotencyKey(), Session: ss.id, Created: t.cfg.Now().UTC(),
		Request: uplink.OrderRequest{TerminalID: t.cfg.TerminalID, OrderID: uplink.NewOrderID(), Utility: uplink.Utility(ss.utility),
			Account: ss.account, BillID: ss.bill.BillID, Amount: ss.bill.AmountDue, Kind: kind, PaymentCode: code}}
	stored := oo
	stored.Request.PaymentCode = "" // the resident's code is single-use and personal: never at rest
	if _, err := t.cfg.Journal.Append(journal.Record{Kind: journal.OrderCreated, Session: ss.id, Amount: oo.Request.Amount,
		Key: oo.Key, Ref: oo.Request.OrderID, Detail: string(kind), Data: mustJSON(stored)}); err != nil {
		return errf("internalError", "journal unavailable")
	}
	t.orders[oo.Request.OrderID] = stored
	ss.screen, ss.notice = ScreenMobile, nil
	ss.order = &OrderView{OrderID: oo.Request.OrderID, Kind: string(kind), Status: "creating", Amount: oo.Request.Amount,
		Deadline: oo.Created.Add(t.cfg.OrderUnpaidTimeout).UnixMilli()}
	t.touchLocked()
	t.publishLocked()
	go t.runOrder(op, ss, oo)
	return nil
}

// Scanned takes a code read by the terminal's scanner. The scanner, not
// the screen, is the only source of payment codes and voucher QRs.
func (t *Terminal) Scanned(text string) {
	if t.staffScanned(text) { // a staff badge, or a voucher on the refund screen (staff.go)
		return
	}
	if t.staffHoldsScreen() {
		t.log.Info("scan ignored: the terminal is in staff mode")
		return
	}
	if t.scannedCase(text) { // an application receipt's tracking QR (progress.go)
		return
	}
	if t.scannedBill(text) {
		return
	}
	if _, err := uplink.WalletOfPaymentCode(text); err == nil {
		if err := t.startMobile(uplink.OrderPaymentCode, text); err != nil {
			t.log.Info("payment code not usable now", "err", err)
		}
		return
	}
	if _, _, ok := parseVoucherPayload(text); ok {
		if err := t.redeem("", "", text); err != nil {
			t.log.Info("voucher not usable now", "err", err)
		}
		return
	}
	t.log.Info("scan ignored: not a payment code or voucher here")
}

// runOrder settles one order: create it, query it every interval, reverse
// it when unpaid too long (never within the guard after it was paid), and
// journal how it ended. ss may be nil for an order recovered after a
// restart.
func (t *Terminal) runOrder(op OrderPlatform, ss *session, oo openOrder) {
	t.mu.Lock()
	ctx := t.runCtx
	t.mu.Unlock()
	id := oo.Request.OrderID
	deadline := oo.Created.Add(t.cfg.OrderUnpaidTimeout)
	call := func(f func(context.Context) (uplink.Order, error)) (uplink.Order, error) {
		cctx, cancel := context.WithTimeout(ctx, 8*time.Second)
		defer cancel()
		return f(cctx)
	}
	var o uplink.Order
	var err error
	if oo.Request.PaymentCode != "" || ss != nil {
		o, err = call(func(c context.Context) (uplink.Order, error) { return op.CreateOrder(c, oo.Key, oo.Request) })
	} else {
		o, err = call(func(c context.Context) (uplink.Order, error) { return op.Order(c, id) })
	}
	for {
		if ctx.Err() != nil {
			return // the journal still holds it open: the next start resumes it
		}
		switch {
		case err == nil && o.Status != uplink.OrderPending:
			t.finishOrder(op, ss, oo, o)
			return
		case err == nil:
			t.showOrder(ss, o)
		case uplink.IsNotFound(err) && ss == nil:
			// Recovered, never created on the platform: nothing was charged.
			t.finishOrder(op, ss, oo, uplink.Order{OrderID: id, Status: uplink.OrderClosed})
			return
		case !uplink.IsRetryable(err):
			t.log.Error("mobile order refused", "order", id, "err", err)
			t.finishOrder(op, ss, oo, uplink.Order{OrderID: id, Status: uplink.OrderClosed})
			return
		}
		if t.cfg.Now().After(deadline) || t.orderCancelled(ss) {
			// Unpaid too long (or the resident gave up): reverse. The
			// platform refuses within the guard after a success, and the
			// answer then says paid.
			r, rerr := call(func(c context.Context) (uplink.Order, error) {
				return op.ReverseOrder(c, oo.ReverseKey, id, uplink.OrderActionRequest{TerminalID: oo.Request.TerminalID, Reason: "unpaid_timeout"})
			})
			switch {
			case rerr == nil:
				t.finishOrder(op, ss, oo, r)
				return
			case uplink.IsRetryable(rerr):
			default:
				var ue *uplink.Error
				if errors.As(rerr, &ue) && ue.Status == 404 {
					t.finishOrder(op, ss, oo, uplink.Order{OrderID: id, Status: uplink.OrderClosed})
					return
				}
				// too_soon or already final: query to learn the outcome.
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(t.cfg.OrderQueryInterval):
		}
		o, err = call(func(c context.Context) (uplink.Order, error) { return op.Order(c, id) })
		if err != nil && uplink.IsNotFound(err) && ss != nil {
			// The create was lost before the platform saw it: create again
			// under the same key (a replay if it did arrive after all).
			o, err = call(func(c context.Context) (uplink.Order, error) { return op.CreateOrder(c, oo.Key, oo.Request) })
		}
	}
}

func (t *Terminal) orderCancelled(ss *session) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return ss != nil && ss.order != nil && ss.order.Status == "cancelling"
}

func (t *Terminal) showOrder(ss *session, o uplink.Order) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ss == nil || t.sess != ss || ss.order == nil || ss.order.OrderID != o.OrderID || ss.order.Status == "cancelling" {
		return
	}
	ss.order.Status, ss.order.QRPayload, ss.order.Wallet = string(o.Status), o.QRPayload, string(o.Wallet)
	t.touchLocked()
	t.publishLocked()
}

// finishOrder journals the end of an order and shows it: paid goes to the
// receipt, closed or reversed goes back to the bill.
func (t *Terminal) finishOrder(op OrderPlatform, ss *session, oo openOrder, o uplink.Order) {
	var pay uplink.Payment
	var perr error
	if o.Status == uplink.OrderPaid && o.PaymentID != "" {
		cctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		pay, perr = op.PaymentByID(cctx, o.PaymentID)
		cancel()
	}
	t.mu.Lock()
	t.appendLocked(journal.Record{Kind: journal.OrderFinished, Session: oo.Session, Amount: oo.Request.Amount, Key: oo.Key,
		Ref: oo.Request.OrderID, Detail: string(o.Status), Data: mustJSON(o)})
	delete(t.orders, oo.Request.OrderID)
	if ss == nil || t.sess != ss {
		t.mu.Unlock()
		return
	}
	if o.Status != uplink.OrderPaid {
		ss.order = nil
		ss.screen = ScreenBill
		ss.notice = &Notice{Code: "mobileNotPaid", Message: "the mobile payment did not go through: nothing was charged"}
		t.touchLocked()
		t.publishLocked()
		t.mu.Unlock()
		return
	}
	ss.order.Status, ss.order.Wallet = "paid", string(o.Wallet)
	ss.screen = ScreenPaying
	pv := &paymentView{Status: "acknowledged", Amount: oo.Request.Amount, Reference: oo.Key[:8], Receipt: "printing", key: oo.Key,
		PaymentID: o.PaymentID, AppliedToBill: oo.Request.Amount}
	if perr == nil {
		t.applyAckLocked(pv, pay)
	}
	ss.pay = pv
	r := t.receiptLocked(ss)
	r.Amount, r.Method, r.Wallet = oo.Request.Amount, "mobile", string(o.Wallet)
	r.PaymentID, r.VerifyCode, r.VerifyURL, r.Applied, r.Prepaid = pv.PaymentID, pv.VerifyCode, pv.VerifyURL, pv.AppliedToBill, pv.Prepaid
	r.Notes = nil
	t.publishLocked()
	ctx := t.runCtx
	t.mu.Unlock()

	err := t.printReceipt(ctx, ss.id, r)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		pv.Receipt, pv.ReceiptError = "failed", err.Error()
	} else {
		pv.Receipt = "printed"
	}
	ss.screen = ScreenDone
	if t.sess == ss {
		t.touchLocked()
	}
	t.publishLocked()
}

// resumeOrders picks up orders the journal says are still open.
func (t *Terminal) resumeOrders() {
	op, ok := t.cfg.Platform.(OrderPlatform)
	if !ok {
		return
	}
	for _, oo := range t.orders {
		go t.runOrder(op, nil, oo)
	}
}

func decodeOrder(data json.RawMessage) (openOrder, bool) {
	var oo openOrder
	return oo, json.Unmarshal(data, &oo) == nil && oo.Request.OrderID != ""
}
