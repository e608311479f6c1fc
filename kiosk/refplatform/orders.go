package refplatform

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"tongban/kiosk/uplink"
)

// The reference platform plays the acquirer for mobile orders. It needs no
// timer: each order stores what the simulated wallet will do and when
// (settleAt, outcome, expiresAt), and every read or change of the order
// first applies whatever has fallen due, in the same transaction. So a
// restart loses nothing and a test clock (Options.Now) drives it exactly.

// Last digits of a payment code that change what the simulated wallet
// does (README.md lists test codes).
const (
	digitInsufficientFunds = '4' // the wallet declines after the delay: the order closes
	digitConfirmOnPhone    = '7' // the resident must confirm on the phone: pending until paid or expired
)

// Outcomes the simulated wallet reaches at settleAt.
const (
	outcomePay     = "pay"
	outcomeDecline = "decline"
)

// Reasons the platform gives for orders it ends itself (uplink.Order.Reason).
const (
	reasonInsufficientFunds = "insufficient_funds"
	reasonExpired           = "expired"
	reasonTerminal          = "terminal" // the terminal ended it without giving a reason
)

// Operation names in the ops dedupe bucket.
const (
	opOrderCreate  = "order.create"
	opOrderReverse = "order.reverse"
	opOrderClose   = "order.close"
)

var (
	errOrderNotFound   = errors.New("order not found")
	errOrderConflict   = errors.New("orderId is already taken")
	errOrderPaid       = errors.New("order is paid")
	errOrderNotPending = errors.New("order is not pending")
	errTooSoon         = errors.New("reverse within 15 s of payment")
)

// tooSoonError is errTooSoon with the time left.
type tooSoonError struct{ wait time.Duration }

func (e *tooSoonError) Error() string {
	return fmt.Sprintf("order was paid less than %v ago; reverse allowed in %v", uplink.ReverseGuard, e.wait)
}

func (e *tooSoonError) Unwrap() error { return errTooSoon }

// ReceivedOrder is a mobile order with the request that created it, as
// listed by GET /ref/orders (schema ReceivedOrder). The listing masks the
// payment code.
type ReceivedOrder struct {
	Seq     uint64              `json:"seq"` // creation order, from 1
	Order   uplink.Order        `json:"order"`
	Request uplink.OrderRequest `json:"request"`
}

type orderRecord struct {
	ReceivedOrder
	RequestHash string     `json:"requestHash"`
	SettleAt    *time.Time `json:"settleAt,omitempty"` // when the simulated wallet reaches Outcome
	Outcome     string     `json:"outcome,omitempty"`
	ExpiresAt   time.Time  `json:"expiresAt"` // an order still pending then closes
}

// next is the simulated wallet's next event for a pending order and when
// it happens.
func (o *orderRecord) next() (string, time.Time) {
	if o.SettleAt != nil && o.SettleAt.Before(o.ExpiresAt) {
		return o.Outcome, *o.SettleAt
	}
	return reasonExpired, o.ExpiresAt
}

// due reports whether a pending order has an event due at now.
func (o *orderRecord) due(now time.Time) bool {
	if o.Order.Status != uplink.OrderPending {
		return false
	}
	_, at := o.next()
	return !at.After(now)
}

// reqEnv is what a store call takes from the request: the clock reading and
// the platform's public base URL (for verifyUrl and qrPayload).
type reqEnv struct {
	now  time.Time
	base string
}

func (s *Server) env(r *http.Request) reqEnv {
	return reqEnv{now: s.now().UTC().Truncate(time.Millisecond), base: strings.TrimRight(s.baseURL(r), "/")}
}

// draft is the paymentDraft of a payment accepted at at.
func (e reqEnv) draft(at time.Time) paymentDraft {
	return paymentDraft{
		now:       at,
		verifyURL: func(id, code string) string { return e.base + "/verify/" + id + "?c=" + code },
	}
}

// acquirerPlan decides what the simulated wallet will do with a new order.
func (s *Server) acquirerPlan(req uplink.OrderRequest, now time.Time) (*time.Time, string) {
	if req.Kind != uplink.OrderPaymentCode {
		return nil, "" // a dynamic QR waits for the resident to open it and pay
	}
	delay := s.codeDelay
	switch {
	case delay == 0:
		delay = 2 * time.Second
	case delay < 0:
		delay = 0
	}
	at := now.Add(delay)
	switch req.PaymentCode[len(req.PaymentCode)-1] {
	case digitInsufficientFunds:
		return &at, outcomeDecline
	case digitConfirmOnPhone:
		return nil, ""
	}
	return &at, outcomePay
}

// orderPaymentKey is the Idempotency-Key of the payment an order books,
// derived from the orderId so that it is fixed before the booking happens.
func orderPaymentKey(orderID string) string {
	sum := sha256.Sum256([]byte("tongban order payment\x00" + orderID))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50 // name-based, version 5 layout
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func getOrder(tx *bolt.Tx, id string) (orderRecord, bool, error) {
	var rec orderRecord
	found, err := getJSON(tx, bucketOrders, []byte(id), &rec)
	return rec, found, err
}

// advance applies the simulated wallet's due event to a pending order
// inside tx. It reports whether the order changed (the caller stores it).
func advance(tx *bolt.Tx, o *orderRecord, e reqEnv) (bool, error) {
	if !o.due(e.now) {
		return false, nil
	}
	what, at := o.next()
	switch what {
	case outcomePay:
		return true, bookOrder(tx, o, o.Order.Wallet, at, e)
	case outcomeDecline:
		closeOrder(o, at, reasonInsufficientFunds)
	default:
		closeOrder(o, at, reasonExpired)
	}
	return true, nil
}

func closeOrder(o *orderRecord, at time.Time, reason string) {
	t := at
	o.Order.Status = uplink.OrderClosed
	o.Order.ClosedAt = &t
	o.Order.Reason = reason
	o.SettleAt, o.Outcome = nil, ""
}

// bookOrder marks a pending order paid at at with wallet and books the bill
// payment exactly as POST /v1/payments would, in the same transaction.
func bookOrder(tx *bolt.Tx, o *orderRecord, wallet uplink.Wallet, at time.Time, e reqEnv) error {
	q := o.Request
	req := uplink.PaymentRequest{
		TerminalID: q.TerminalID, Utility: q.Utility, Account: q.Account, BillID: q.BillID,
		Amount: q.Amount, Method: uplink.MethodMobile, Notes: []uplink.Note{}, JournaledAt: o.Order.CreatedAt,
	}
	key := orderPaymentKey(q.OrderID)
	if tx.Bucket(bucketIdem).Get([]byte(key)) != nil {
		return fmt.Errorf("order %s: its payment key is already booked", q.OrderID)
	}
	hash, err := requestHash(req)
	if err != nil {
		return err
	}
	p, err := bookPayment(tx, key, req, hash, e.draft(at), q.OrderID)
	if err != nil {
		return fmt.Errorf("order %s: book payment: %w", q.OrderID, err)
	}
	t := at
	o.Order.Status = uplink.OrderPaid
	o.Order.Wallet = wallet
	o.Order.PaymentID = p.Payment.PaymentID
	o.Order.PaidAt = &t
	o.SettleAt, o.Outcome = nil, ""
	return nil
}

// createOrder opens an order exactly once per key; created is false for a
// replay, which returns the order as it is now.
func (s *store) createOrder(key string, req uplink.OrderRequest, settleAt *time.Time, outcome string, expiry time.Duration, e reqEnv) (orderRecord, bool, error) {
	hash, err := hashJSON(req)
	if err != nil {
		return orderRecord{}, false, err
	}
	var rec orderRecord
	created := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		replay, err := lookupOp(tx, key, opOrderCreate, req.OrderID, hash)
		if err != nil {
			return err
		}
		var found bool
		rec, found, err = getOrder(tx, req.OrderID)
		switch {
		case err != nil:
			return err
		case replay && !found:
			return fmt.Errorf("order %s: dedupe record without order", req.OrderID)
		case replay:
			return advanceAndPut(tx, &rec, e)
		case found:
			return fmt.Errorf("order %s was created under another Idempotency-Key: %w", req.OrderID, errOrderConflict)
		}
		a, err := getAccount(tx, req.Utility, req.Account)
		if err != nil {
			return err
		}
		if a.BillID != req.BillID {
			return errBillMismatch
		}
		seq, err := nextSeq(tx, bucketOrders)
		if err != nil {
			return err
		}
		o := uplink.Order{
			OrderID: req.OrderID, TerminalID: req.TerminalID, Utility: req.Utility, Account: req.Account,
			BillID: req.BillID, Amount: req.Amount, Kind: req.Kind, Status: uplink.OrderPending, CreatedAt: e.now,
		}
		if req.Kind == uplink.OrderDynamicQR {
			o.QRPayload = e.base + "/pay/" + req.OrderID
		} else {
			o.Wallet, _ = uplink.WalletOfPaymentCode(req.PaymentCode) // validated by the caller
		}
		rec = orderRecord{
			ReceivedOrder: ReceivedOrder{Seq: seq, Order: o, Request: req},
			RequestHash:   hash,
			SettleAt:      settleAt,
			Outcome:       outcome,
			ExpiresAt:     e.now.Add(expiry),
		}
		created = true
		if _, err := advance(tx, &rec, e); err != nil { // a zero delay settles at once
			return err
		}
		if err := putJSON(tx, bucketOrders, []byte(req.OrderID), rec); err != nil {
			return err
		}
		return putOp(tx, key, opOrderCreate, req.OrderID, hash)
	})
	if err != nil {
		return orderRecord{}, false, err
	}
	return rec, created, nil
}

func advanceAndPut(tx *bolt.Tx, o *orderRecord, e reqEnv) error {
	changed, err := advance(tx, o, e)
	if err != nil || !changed {
		return err
	}
	return putJSON(tx, bucketOrders, []byte(o.Order.OrderID), o)
}

// order reads an order, first applying a due wallet event (only then does
// it take the writer lock and fsync).
func (s *store) order(id string, e reqEnv) (orderRecord, error) {
	var rec orderRecord
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, found, err = getOrder(tx, id)
		return err
	})
	switch {
	case err != nil:
		return orderRecord{}, err
	case !found:
		return orderRecord{}, errOrderNotFound
	case !rec.due(e.now):
		return rec, nil
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if rec, _, err = getOrder(tx, id); err != nil {
			return err
		}
		return advanceAndPut(tx, &rec, e)
	})
	if err != nil {
		return orderRecord{}, err
	}
	return rec, nil
}

// endOrder reverses or closes an order exactly once per key (action is
// opOrderReverse or opOrderClose); replayed is true for a replay.
func (s *store) endOrder(key, id, op string, req uplink.OrderActionRequest, e reqEnv) (orderRecord, bool, error) {
	hash, err := hashJSON(struct {
		OrderID string                    `json:"orderId"`
		Request uplink.OrderActionRequest `json:"request"`
	}{id, req})
	if err != nil {
		return orderRecord{}, false, err
	}
	var rec orderRecord
	replayed := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		replay, err := lookupOp(tx, key, op, id, hash)
		if err != nil {
			return err
		}
		var found bool
		rec, found, err = getOrder(tx, id)
		switch {
		case err != nil:
			return err
		case !found || rec.Order.TerminalID != req.TerminalID:
			return errOrderNotFound
		case replay:
			replayed = true
			return nil // the order has ended: nothing can have changed since
		}
		if _, err := advance(tx, &rec, e); err != nil {
			return err
		}
		reason := cmp.Or(req.Reason, reasonTerminal)
		o := &rec.Order
		switch {
		case o.Status == uplink.OrderPending && op == opOrderClose:
			closeOrder(&rec, e.now, reason)
		case o.Status == uplink.OrderPending:
			// Cancelled before the wallet paid: nothing was charged.
			t := e.now
			o.Status, o.ReversedAt, o.Reason = uplink.OrderReversed, &t, reason
			rec.SettleAt, rec.Outcome = nil, ""
		case o.Status == uplink.OrderPaid && op == opOrderClose:
			return fmt.Errorf("order %s was paid at %s; reverse it instead: %w", id, o.PaidAt.Format(time.RFC3339), errOrderPaid)
		case o.Status == uplink.OrderPaid:
			if wait := o.PaidAt.Add(uplink.ReverseGuard).Sub(e.now); wait > 0 {
				return &tooSoonError{wait: wait}
			}
			if err := refundPayment(tx, o.PaymentID, e.now); err != nil {
				return fmt.Errorf("order %s: %w", id, err)
			}
			t := e.now
			o.Status, o.ReversedAt, o.Reason = uplink.OrderReversed, &t, reason
		default:
			// Already closed or reversed: ending it again changes nothing.
		}
		if err := putJSON(tx, bucketOrders, []byte(id), rec); err != nil {
			return err
		}
		return putOp(tx, key, op, id, hash)
	})
	if err != nil {
		return orderRecord{}, false, err
	}
	return rec, replayed, nil
}

// payOrder is the resident paying a pending order with wallet (the pay
// page, or POST /ref/orders/{orderId}/pay). A paymentCode order keeps the
// wallet of its code. Paying a paid order changes nothing.
func (s *store) payOrder(id string, wallet uplink.Wallet, e reqEnv) (orderRecord, error) {
	var rec orderRecord
	err := s.db.Update(func(tx *bolt.Tx) error {
		var found bool
		var err error
		rec, found, err = getOrder(tx, id)
		switch {
		case err != nil:
			return err
		case !found:
			return errOrderNotFound
		}
		if _, err := advance(tx, &rec, e); err != nil {
			return err
		}
		switch rec.Order.Status {
		case uplink.OrderPaid:
			return nil
		case uplink.OrderPending:
		default:
			return fmt.Errorf("order %s is %s: %w", id, rec.Order.Status, errOrderNotPending)
		}
		if rec.Order.Kind == uplink.OrderPaymentCode {
			wallet = rec.Order.Wallet
		}
		if err := bookOrder(tx, &rec, wallet, e.now, e); err != nil {
			return err
		}
		return putJSON(tx, bucketOrders, []byte(id), rec)
	})
	if err != nil {
		return orderRecord{}, err
	}
	return rec, nil
}

// orders lists every order in creation order, after applying due events.
func (s *store) orders(e reqEnv) ([]ReceivedOrder, error) {
	list := func(tx *bolt.Tx, each func(*orderRecord) error) error {
		return tx.Bucket(bucketOrders).ForEach(func(k, _ []byte) error {
			rec, _, err := getOrder(tx, string(k))
			if err != nil {
				return err
			}
			return each(&rec)
		})
	}
	var out []ReceivedOrder
	due := false
	collect := func(tx *bolt.Tx) error {
		out = []ReceivedOrder{}
		return list(tx, func(o *orderRecord) error {
			due = due || o.due(e.now)
			out = append(out, o.ReceivedOrder)
			return nil
		})
	}
	if err := s.db.View(collect); err != nil {
		return nil, err
	}
	if due {
		err := s.db.Update(func(tx *bolt.Tx) error {
			var recs []orderRecord
			if err := list(tx, func(o *orderRecord) error { recs = append(recs, *o); return nil }); err != nil {
				return err
			}
			for i := range recs { // not inside ForEach: advance writes to the bucket
				if err := advanceAndPut(tx, &recs[i], e); err != nil {
					return err
				}
			}
			return collect(tx)
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b ReceivedOrder) int { return cmp.Compare(a.Seq, b.Seq) })
	for i := range out {
		out[i].Request.PaymentCode = maskPaymentCode(out[i].Request.PaymentCode)
	}
	return out, nil
}

// maskPaymentCode keeps the first four and the last digit (which picks the
// simulated behaviour): 134512345678901230 -> 1345*************0.
func maskPaymentCode(s string) string {
	if len(s) < 8 {
		return s
	}
	return s[:4] + strings.Repeat("*", len(s)-5) + s[len(s)-1:]
}

func orderID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("orderId")
	if !uplink.ValidOrderID(id) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "orderId must be 1..64 of A-Z a-z 0-9 . _ -")
		return "", false
	}
	return id, true
}

func (s *Server) handleCreateOrder(w http.ResponseWriter, r *http.Request) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var req uplink.OrderRequest
	if !decodeValid(w, r, &req, func() string { return req.TerminalID }) {
		return
	}
	e := s.env(r)
	settleAt, outcome := s.acquirerPlan(req, e.now)
	rec, created, err := s.store.createOrder(key, req, settleAt, outcome, s.orderExpiry, e)
	if err != nil {
		s.log.Warn("refplatform: order refused", "key", key, "order", req.OrderID, "account", maskAccount(req.Account), "err", err)
		s.storeError(w, r, err)
		return
	}
	o := rec.Order
	if !created {
		s.log.Info("refplatform: order replayed", "order", o.OrderID, "key", key, "status", o.Status)
		w.Header().Set(uplink.HeaderIdempotentReplayed, "true")
		writeJSON(w, http.StatusOK, o)
		return
	}
	s.log.Info("refplatform: order created", "order", o.OrderID, "key", key, "terminal", o.TerminalID, "kind", o.Kind,
		"wallet", o.Wallet, "account", maskAccount(o.Account), "amount", o.Amount, "status", o.Status)
	writeJSON(w, http.StatusCreated, o)
}

func (s *Server) handleGetOrder(w http.ResponseWriter, r *http.Request) {
	id, ok := orderID(w, r)
	if !ok {
		return
	}
	rec, err := s.store.order(id, s.env(r))
	if err == nil && rec.Order.TerminalID != r.Header.Get(uplink.HeaderTerminalID) {
		err = errOrderNotFound // a terminal sees its own orders only
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rec.Order)
}

func (s *Server) handleEndOrder(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := idempotencyKey(w, r)
		if !ok {
			return
		}
		id, ok := orderID(w, r)
		if !ok {
			return
		}
		var req uplink.OrderActionRequest
		if !decodeValid(w, r, &req, func() string { return req.TerminalID }) {
			return
		}
		rec, replayed, err := s.store.endOrder(key, id, op, req, s.env(r))
		if err != nil {
			s.log.Warn("refplatform: order "+op+" refused", "key", key, "order", id, "err", err)
			s.storeError(w, r, err)
			return
		}
		if replayed {
			w.Header().Set(uplink.HeaderIdempotentReplayed, "true")
		} else {
			s.log.Info("refplatform: "+op, "order", id, "key", key, "status", rec.Order.Status, "refunded", rec.Order.Refunded())
		}
		writeJSON(w, http.StatusOK, rec.Order)
	}
}

// OrderPayRequest is the optional body of POST /ref/orders/{orderId}/pay
// (schema OrderPayRequest).
type OrderPayRequest struct {
	Wallet uplink.Wallet `json:"wallet,omitempty"` // dynamicQR only; default wechat
}

func (s *Server) handleRefPayOrder(w http.ResponseWriter, r *http.Request) {
	id, ok := orderID(w, r)
	if !ok {
		return
	}
	var req OrderPayRequest
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, &req); err != nil {
			writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
			return
		}
	}
	wallet := cmp.Or(req.Wallet, uplink.WalletWeChat)
	if !uplink.ValidWallet(wallet) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, fmt.Sprintf("unknown wallet %q", wallet))
		return
	}
	rec, err := s.store.payOrder(id, wallet, s.env(r))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	s.log.Info("refplatform: order paid by operator", "order", id, "wallet", rec.Order.Wallet, "paymentId", rec.Order.PaymentID)
	writeJSON(w, http.StatusOK, rec.Order)
}

func (s *Server) handleRefOrders(w http.ResponseWriter, r *http.Request) {
	o, err := s.store.orders(s.env(r))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// retryAfter renders a wait as whole seconds, rounded up.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}
