// Package uplink is the terminal's side of uplink API v1, the HTTP/JSON
// contract between a Tongban terminal and the county platform. The contract
// itself is openapi.yaml in this directory; the types here mirror its
// schemas field for field (a test keeps the two in step).
//
// Money is int64 fen (1/100 yuan) everywhere. Every payment carries an
// Idempotency-Key that the terminal fixes when it journals the payment; the
// platform deduplicates on it, so resending a payment with the same key is
// always safe and is how every uncertain outcome is resolved.
//
// API v1.1 adds, under the same rules: credit vouchers (IssueVoucher,
// Voucher, RefundVoucher, and PaymentRequest.Vouchers to redeem them) and
// mobile wallet orders settled by the platform (CreateOrder, Order,
// ReverseOrder, CloseOrder). Every call that changes something takes an
// Idempotency-Key; IsRetryable and IsFinal classify all errors alike.
package uplink

import (
	"cmp"
	"crypto/rand"
	"fmt"
	"slices"
	"time"
)

// Utility is the kind of bill: water, electricity, gas or heating.
type Utility string

const (
	Water       Utility = "water"
	Electricity Utility = "electricity"
	Gas         Utility = "gas"
	Heating     Utility = "heating"
)

// Utilities lists every utility API v1 knows, in display order.
func Utilities() []Utility { return []Utility{Water, Electricity, Gas, Heating} }

// ValidUtility reports whether u is one of the four utilities of API v1.
func ValidUtility(u Utility) bool {
	switch u {
	case Water, Electricity, Gas, Heating:
		return true
	}
	return false
}

// ValidAccount reports whether s is a utility account number: 6 to 20 ASCII
// digits. Leading zeros are significant, so it stays a string.
func ValidAccount(s string) bool {
	if len(s) < 6 || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidTerminalID reports whether s can be an X-Terminal-Id: 1 to 64 of
// A-Z a-z 0-9 . _ -.
func ValidTerminalID(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidIdempotencyKey reports whether s is a UUID in canonical lower-case
// form (8-4-4-4-12 hex). Upper case is refused rather than folded so that one
// payment can never travel under two spellings of its key.
func ValidIdempotencyKey(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// NewIdempotencyKey returns a fresh random (version 4) UUID for a payment
// that is about to be journaled.
func NewIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+); it crashes the program instead.
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Currency is the only currency of API v1.
const Currency = "CNY"

// Payment methods of PaymentRequest.Method.
const (
	// MethodCash: notes and coins, optionally topped up with vouchers.
	MethodCash = "cash"
	// MethodVoucher: vouchers only, no notes (API v1.1).
	MethodVoucher = "voucher"
	// MethodMobile never travels in POST /v1/payments: the platform uses it
	// in its own record (GET /ref/payments) of a payment booked by a paid
	// mobile order.
	MethodMobile = "mobile"
)

// MaxPaymentAmount is the largest payment API v1 accepts (50 000 yuan), far
// above any cash payment at a terminal; it keeps sums far from overflow.
const MaxPaymentAmount int64 = 5_000_000

// MaxNoteLines bounds PaymentRequest.Notes.
const MaxNoteLines = 20

// MaxNoteCount bounds Note.Count.
const MaxNoteCount = 10_000

// MaxVoucherLines bounds PaymentRequest.Vouchers.
const MaxVoucherLines = 10

// Denominations are the CNY note and coin values, in fen, that a Note may
// carry.
func Denominations() []int64 {
	return []int64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}
}

// Bill is the current bill of one utility account (schema Bill).
type Bill struct {
	Utility Utility `json:"utility"`
	Account string  `json:"account"`
	Payee   string  `json:"payee"`   // e.g. 县自来水公司
	Holder  string  `json:"holder"`  // masked, e.g. 张*
	Address string  `json:"address"` // masked
	Period  string  `json:"period"`  // e.g. 2026-10, or 2026-2027 for a heating season
	// AmountDue is what must be paid now, arrears included. 0 with PaidAt
	// set: the current bill is paid. 0 without PaidAt: nothing is billed
	// (a prepaid account can still be topped up).
	AmountDue int64      `json:"amountDue"`
	Arrears   int64      `json:"arrears"` // part of AmountDue from earlier periods
	Prepaid   int64      `json:"prepaid"` // prepayment balance
	Currency  string     `json:"currency"`
	BillID    string     `json:"billId"`
	PaidAt    *time.Time `json:"paidAt,omitempty"`
	// LastPayment is the newest payment booked on this account, from any
	// terminal or channel, so a terminal can say "paid minutes ago
	// elsewhere" before it takes money. Absent when none is on record.
	LastPayment *LastPayment `json:"lastPayment,omitempty"`
}

// LastPayment is the newest payment on an account (schema LastPayment).
type LastPayment struct {
	At         time.Time `json:"at"`
	Amount     int64     `json:"amount"`
	TerminalID string    `json:"terminalId,omitempty"` // the terminal that took it; empty for other channels
}

// Validate checks the invariants a Bill reply must hold.
func (b Bill) Validate() error {
	switch {
	case !ValidUtility(b.Utility):
		return fmt.Errorf("bill: bad utility %q", b.Utility)
	case !ValidAccount(b.Account):
		return fmt.Errorf("bill: bad account %q", b.Account)
	case b.BillID == "":
		return fmt.Errorf("bill: empty billId")
	case b.Currency != Currency:
		return fmt.Errorf("bill: currency %q, want %s", b.Currency, Currency)
	case b.AmountDue < 0 || b.Arrears < 0 || b.Prepaid < 0:
		return fmt.Errorf("bill: negative amount (due %d, arrears %d, prepaid %d)", b.AmountDue, b.Arrears, b.Prepaid)
	case b.Arrears > b.AmountDue:
		return fmt.Errorf("bill: arrears %d exceed amountDue %d", b.Arrears, b.AmountDue)
	case b.PaidAt != nil && b.AmountDue != 0:
		return fmt.Errorf("bill: paidAt set but amountDue is %d", b.AmountDue)
	case b.LastPayment != nil && (b.LastPayment.At.IsZero() || b.LastPayment.Amount <= 0):
		return fmt.Errorf("bill: lastPayment without a time or a positive amount")
	}
	return nil
}

// Note is one line of the cash tally: Count notes or coins of Value fen.
type Note struct {
	Value int64 `json:"value"`
	Count int   `json:"count"`
}

// PaymentRequest is the body of POST /v1/payments (schema PaymentRequest).
// The terminal journals it together with its Idempotency-Key and resends it
// byte for byte equal in meaning on every retry.
type PaymentRequest struct {
	TerminalID  string    `json:"terminalId"`
	Utility     Utility   `json:"utility"`
	Account     string    `json:"account"`
	BillID      string    `json:"billId"`
	Amount      int64     `json:"amount"`
	Method      string    `json:"method"`
	Notes       []Note    `json:"notes"`
	JournaledAt time.Time `json:"journaledAt"`
	// Vouchers redeemed by this payment (API v1.1). The platform marks them
	// redeemed in the same transaction that commits the payment. Omitted
	// when empty, so a cash-only request is the same bytes as in v1.0.
	Vouchers []VoucherUse `json:"vouchers,omitempty"`
}

// Validate checks a request the way the platform does (400 on failure).
// Notes plus vouchers must add up to the amount exactly: method cash needs
// at least one note line, method voucher needs vouchers and no notes.
func (r PaymentRequest) Validate() error {
	switch {
	case !ValidTerminalID(r.TerminalID):
		return fmt.Errorf("payment: bad terminalId %q", r.TerminalID)
	case !ValidUtility(r.Utility):
		return fmt.Errorf("payment: bad utility %q", r.Utility)
	case !ValidAccount(r.Account):
		return fmt.Errorf("payment: bad account %q", r.Account)
	case r.BillID == "" || len(r.BillID) > 64:
		return fmt.Errorf("payment: billId must be 1..64 characters")
	case r.Amount <= 0 || r.Amount > MaxPaymentAmount:
		return fmt.Errorf("payment: amount %d fen out of range 1..%d", r.Amount, MaxPaymentAmount)
	case r.JournaledAt.IsZero():
		return fmt.Errorf("payment: journaledAt missing")
	case len(r.Vouchers) > MaxVoucherLines:
		return fmt.Errorf("payment: %d vouchers, want at most %d", len(r.Vouchers), MaxVoucherLines)
	}
	switch r.Method {
	case MethodCash:
		if len(r.Notes) == 0 || len(r.Notes) > MaxNoteLines {
			return fmt.Errorf("payment: %d note lines, want 1..%d", len(r.Notes), MaxNoteLines)
		}
	case MethodVoucher:
		if len(r.Notes) != 0 || len(r.Vouchers) == 0 {
			return fmt.Errorf("payment: method voucher needs vouchers and no notes (%d note lines, %d vouchers)", len(r.Notes), len(r.Vouchers))
		}
	default:
		return fmt.Errorf("payment: method %q, want %q or %q", r.Method, MethodCash, MethodVoucher)
	}
	var sum int64
	for i, n := range r.Notes {
		if !slices.Contains(Denominations(), n.Value) {
			return fmt.Errorf("payment: notes[%d]: %d fen is not a CNY denomination", i, n.Value)
		}
		if n.Count < 1 || n.Count > MaxNoteCount {
			return fmt.Errorf("payment: notes[%d]: count %d out of range 1..%d", i, n.Count, MaxNoteCount)
		}
		sum += n.Value * int64(n.Count) // bounded: 20 lines * 10000 * 10000 fen
	}
	for i, v := range r.Vouchers {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("payment: vouchers[%d]: %w", i, err)
		}
		if slices.ContainsFunc(r.Vouchers[:i], func(o VoucherUse) bool { return o.VoucherID == v.VoucherID }) {
			return fmt.Errorf("payment: vouchers[%d]: voucher %s listed twice", i, v.VoucherID)
		}
		sum += v.Amount // bounded: 10 * MaxPaymentAmount
	}
	if sum != r.Amount {
		return fmt.Errorf("payment: notes and vouchers add up to %d fen, amount is %d", sum, r.Amount)
	}
	return nil
}

// Canonical returns the request in the form the platform compares replays
// in: journaledAt in UTC, notes and vouchers sorted, no notes as an empty
// list. Two requests mean the same payment exactly when their canonical
// forms are equal.
func (r PaymentRequest) Canonical() PaymentRequest {
	c := r
	c.JournaledAt = r.JournaledAt.UTC()
	c.Notes = slices.Clone(r.Notes)
	if c.Notes == nil {
		c.Notes = []Note{} // null and [] are the same tally
	}
	slices.SortFunc(c.Notes, func(a, b Note) int {
		return cmp.Or(cmp.Compare(a.Value, b.Value), cmp.Compare(a.Count, b.Count))
	})
	if len(r.Vouchers) > 0 {
		c.Vouchers = slices.Clone(r.Vouchers)
		slices.SortFunc(c.Vouchers, func(a, b VoucherUse) int { return cmp.Compare(a.VoucherID, b.VoucherID) })
	} else {
		c.Vouchers = nil // omitted: a v1.0 cash request keeps its v1.0 form
	}
	return c
}

// Payment is a payment the platform has committed (schema Payment). A replay
// of the same Idempotency-Key returns the identical Payment.
type Payment struct {
	PaymentID      string    `json:"paymentId"`
	IdempotencyKey string    `json:"idempotencyKey"`
	TerminalID     string    `json:"terminalId"`
	Utility        Utility   `json:"utility"`
	Account        string    `json:"account"`
	BillID         string    `json:"billId"`
	Amount         int64     `json:"amount"`
	AppliedToBill  int64     `json:"appliedToBill"` // went to the bill's amountDue
	PrepaidCredit  int64     `json:"prepaidCredit"` // overpayment kept as prepayment
	AcceptedAt     time.Time `json:"acceptedAt"`
	VerifyURL      string    `json:"verifyUrl"`  // for the receipt QR
	VerifyCode     string    `json:"verifyCode"` // printed on the receipt
}

// Validate checks the invariants a Payment reply must hold.
func (p Payment) Validate() error {
	switch {
	case p.PaymentID == "":
		return fmt.Errorf("payment reply: empty paymentId")
	case !ValidIdempotencyKey(p.IdempotencyKey):
		return fmt.Errorf("payment reply: bad idempotencyKey %q", p.IdempotencyKey)
	case !ValidUtility(p.Utility) || !ValidAccount(p.Account):
		return fmt.Errorf("payment reply: bad utility/account %q/%q", p.Utility, p.Account)
	case p.Amount <= 0 || p.AppliedToBill < 0 || p.PrepaidCredit < 0 || p.AppliedToBill+p.PrepaidCredit != p.Amount:
		return fmt.Errorf("payment reply: amounts do not add up (amount %d, applied %d, prepaid %d)", p.Amount, p.AppliedToBill, p.PrepaidCredit)
	case p.AcceptedAt.IsZero():
		return fmt.Errorf("payment reply: acceptedAt missing")
	case p.VerifyURL == "" || p.VerifyCode == "":
		return fmt.Errorf("payment reply: verifyUrl/verifyCode missing")
	}
	return nil
}

// Health is the body of GET /v1/health.
type Health struct {
	Status string    `json:"status"`
	Time   time.Time `json:"time"`
}

// ErrorBody is the body of every non-2xx reply (schema ErrorBody).
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody (schema ErrorDetail).
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

// Error codes the platform sends (ErrorDetail.Code).
const (
	CodeBadRequest        = "bad_request"            // 400 malformed request
	CodeMissingTerminalID = "missing_terminal_id"    // 400
	CodeBadIdempotencyKey = "bad_idempotency_key"    // 400 missing or not a lower-case UUID
	CodeAccountNotFound   = "account_not_found"      // 404
	CodePaymentNotFound   = "payment_not_found"      // 404
	CodeNotFound          = "not_found"              // 404 no such endpoint
	CodeBillMismatch      = "bill_mismatch"          // 409 billId is not this account's bill
	CodeIdempotencyReused = "idempotency_key_reused" // 422 same key, different body
	CodeRateLimited       = "rate_limited"           // 429
	CodeInternal          = "internal"               // 500
	CodeUnavailable       = "unavailable"            // 502/503
	CodeTimeout           = "timeout"                // 504

	// API v1.1: vouchers and mobile orders. All final.
	CodeVoucherNotFound    = "voucher_not_found"   // 404 unknown voucher, or another terminal's
	CodeVoucherUnavailable = "voucher_unavailable" // 409 already redeemed or refunded (by another key or payment)
	CodeVoucherMismatch    = "voucher_mismatch"    // 422 code (or, in a payment, amount) does not match the voucher
	CodeVoucherConflict    = "voucher_conflict"    // 409 voucherId already issued under another key or with other content
	CodeOrderNotFound      = "order_not_found"     // 404 unknown order, or another terminal's
	CodeOrderConflict      = "order_conflict"      // 409 orderId already used under another key
	CodeOrderPaid          = "order_paid"          // 409 close of a paid order (reverse it instead)
	CodeTooSoon            = "too_soon"            // 409 reverse within ReverseGuard of paidAt (Retry-After says when)
)

// Error codes the client makes up itself (never sent by the platform).
const (
	CodeBadReply        = "bad_reply"        // undecodable, oversized or inconsistent reply: retryable
	CodeInvalidArgument = "invalid_argument" // the call was refused before sending: final
)

// Header names of API v1.
const (
	HeaderTerminalID         = "X-Terminal-Id"
	HeaderIdempotencyKey     = "Idempotency-Key"
	HeaderIdempotentReplayed = "Idempotent-Replayed"
)
