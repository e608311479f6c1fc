package uplink

import (
	"fmt"
	"time"
)

// A mobile order (API v1.1) settles a bill through a mobile wallet, with
// the platform as the acquirer. The terminal either shows a dynamic QR
// (OrderRequest.Kind OrderDynamicQR: the resident's phone opens
// Order.QRPayload) or reads the resident's payment code with its scanner
// (OrderPaymentCode). It then queries the order every OrderQueryInterval,
// reverses it after OrderUnpaidTimeout unpaid, and never reverses within
// ReverseGuard of paidAt. Every order ends paid, closed or reversed:
//
//	pending ──paid by the wallet──────────► paid ──reverse (≥ ReverseGuard after paidAt)──► reversed (refunded, bill un-applied)
//	pending ──close / declined / expired──► closed
//	pending ──reverse─────────────────────► reversed (cancelled, nothing charged)
const (
	OrderQueryInterval = 5 * time.Second
	OrderUnpaidTimeout = 30 * time.Second
	ReverseGuard       = 15 * time.Second
)

// OrderKind is how the resident pays a mobile order.
type OrderKind string

const (
	OrderDynamicQR   OrderKind = "dynamicQR"   // the terminal shows a QR, the resident scans it
	OrderPaymentCode OrderKind = "paymentCode" // the terminal scans the resident's payment code
)

// OrderStatus is the state of a mobile order.
type OrderStatus string

const (
	OrderPending  OrderStatus = "pending"
	OrderPaid     OrderStatus = "paid"
	OrderClosed   OrderStatus = "closed"
	OrderReversed OrderStatus = "reversed"
)

// Wallet is the mobile wallet that pays (or will pay) an order.
type Wallet string

const (
	WalletWeChat   Wallet = "wechat"
	WalletAlipay   Wallet = "alipay"
	WalletUnionPay Wallet = "unionpay"
)

// ValidWallet reports whether w is one of the three wallets.
func ValidWallet(w Wallet) bool {
	switch w {
	case WalletWeChat, WalletAlipay, WalletUnionPay:
		return true
	}
	return false
}

// WalletOfPaymentCode tells which wallet a resident's payment code (as the
// scanner reads it off the phone) belongs to: WeChat 18 digits starting
// 10-15, Alipay 16-24 digits starting 25-30, UnionPay 19 digits starting
// 62. Anything else is an error.
func WalletOfPaymentCode(code string) (Wallet, error) {
	if len(code) < 16 || len(code) > 24 {
		return "", fmt.Errorf("payment code has %d characters, want 16..24 digits", len(code))
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", fmt.Errorf("payment code is not all digits")
		}
	}
	prefix := int(code[0]-'0')*10 + int(code[1]-'0')
	switch {
	case prefix >= 10 && prefix <= 15 && len(code) == 18:
		return WalletWeChat, nil
	case prefix >= 25 && prefix <= 30:
		return WalletAlipay, nil
	case prefix == 62 && len(code) == 19:
		return WalletUnionPay, nil
	}
	return "", fmt.Errorf("payment code of %d digits starting %02d is no WeChat, Alipay or UnionPay code", len(code), prefix)
}

// ValidOrderID reports whether s can be an orderId: 1 to 64 of A-Z a-z 0-9
// . _ - (the terminal id alphabet).
func ValidOrderID(s string) bool { return ValidTerminalID(s) }

// NewOrderID returns a fresh order id: "O" and 16 Crockford base32
// characters (80 random bits).
func NewOrderID() string { return "O" + randomCrockford(16) }

// OrderRequest is the body of POST /v1/orders (schema OrderRequest).
type OrderRequest struct {
	TerminalID  string    `json:"terminalId"`
	OrderID     string    `json:"orderId"` // made by the terminal
	Utility     Utility   `json:"utility"`
	Account     string    `json:"account"`
	BillID      string    `json:"billId"`
	Amount      int64     `json:"amount"`
	Kind        OrderKind `json:"kind"`
	PaymentCode string    `json:"paymentCode,omitempty"` // kind paymentCode only
}

// Validate checks a request the way the platform does (400 on failure).
func (r OrderRequest) Validate() error {
	switch {
	case !ValidTerminalID(r.TerminalID):
		return fmt.Errorf("order: bad terminalId %q", r.TerminalID)
	case !ValidOrderID(r.OrderID):
		return fmt.Errorf("order: bad orderId %q", r.OrderID)
	case !ValidUtility(r.Utility):
		return fmt.Errorf("order: bad utility %q", r.Utility)
	case !ValidAccount(r.Account):
		return fmt.Errorf("order: bad account %q", r.Account)
	case r.BillID == "" || len(r.BillID) > 64:
		return fmt.Errorf("order: billId must be 1..64 characters")
	case r.Amount <= 0 || r.Amount > MaxPaymentAmount:
		return fmt.Errorf("order: amount %d fen out of range 1..%d", r.Amount, MaxPaymentAmount)
	}
	switch r.Kind {
	case OrderDynamicQR:
		if r.PaymentCode != "" {
			return fmt.Errorf("order: a dynamicQR order carries no paymentCode")
		}
	case OrderPaymentCode:
		if _, err := WalletOfPaymentCode(r.PaymentCode); err != nil {
			return fmt.Errorf("order: %w", err)
		}
	default:
		return fmt.Errorf("order: kind %q, want %q or %q", r.Kind, OrderDynamicQR, OrderPaymentCode)
	}
	return nil
}

// OrderActionRequest is the body of POST /v1/orders/{orderId}/reverse and
// /close (schema OrderActionRequest).
type OrderActionRequest struct {
	TerminalID string `json:"terminalId"`
	// Reason is a token for the platform's records, e.g. "unpaid_timeout",
	// "cancelled", "recovered". Optional.
	Reason string `json:"reason,omitempty"`
}

// Validate checks a request the way the platform does (400 on failure).
func (r OrderActionRequest) Validate() error {
	switch {
	case !ValidTerminalID(r.TerminalID):
		return fmt.Errorf("order action: bad terminalId %q", r.TerminalID)
	case r.Reason != "" && !ValidReason(r.Reason):
		return fmt.Errorf("order action: bad reason %q", r.Reason)
	}
	return nil
}

// Order is a mobile order as the platform sees it (schema Order).
type Order struct {
	OrderID    string      `json:"orderId"`
	TerminalID string      `json:"terminalId"`
	Utility    Utility     `json:"utility"`
	Account    string      `json:"account"`
	BillID     string      `json:"billId"`
	Amount     int64       `json:"amount"`
	Kind       OrderKind   `json:"kind"`
	Status     OrderStatus `json:"status"`
	// Wallet: from the payment code at creation; for a dynamicQR order the
	// wallet the resident paid with, so empty until paid.
	Wallet    Wallet `json:"wallet,omitempty"`
	QRPayload string `json:"qrPayload,omitempty"` // dynamicQR: the URL the resident's phone opens
	// PaymentID is the bill payment the platform booked when the order was
	// paid (fetch it with PaymentByID for the receipt). It stays set when a
	// paid order is reversed: that payment was then refunded.
	PaymentID  string     `json:"paymentId,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	PaidAt     *time.Time `json:"paidAt,omitempty"`
	ClosedAt   *time.Time `json:"closedAt,omitempty"`
	ReversedAt *time.Time `json:"reversedAt,omitempty"`
	// Reason says why a closed or reversed order ended: insufficient_funds,
	// expired, or the reason the terminal gave.
	Reason string `json:"reason,omitempty"`
}

// Refunded reports whether the order was paid and then reversed, so the
// platform refunded the resident and un-applied the bill payment.
func (o Order) Refunded() bool { return o.Status == OrderReversed && o.PaymentID != "" }

// Validate checks the invariants an Order reply must hold.
func (o Order) Validate() error {
	switch {
	case !ValidOrderID(o.OrderID):
		return fmt.Errorf("order reply: bad orderId %q", o.OrderID)
	case !ValidTerminalID(o.TerminalID):
		return fmt.Errorf("order reply: bad terminalId %q", o.TerminalID)
	case !ValidUtility(o.Utility) || !ValidAccount(o.Account):
		return fmt.Errorf("order reply: bad utility/account %q/%q", o.Utility, o.Account)
	case o.Amount <= 0:
		return fmt.Errorf("order reply: amount %d", o.Amount)
	case o.CreatedAt.IsZero():
		return fmt.Errorf("order reply: createdAt missing")
	case o.Wallet != "" && !ValidWallet(o.Wallet):
		return fmt.Errorf("order reply: bad wallet %q", o.Wallet)
	}
	switch o.Kind {
	case OrderDynamicQR:
		if o.QRPayload == "" {
			return fmt.Errorf("order reply: dynamicQR order without qrPayload")
		}
	case OrderPaymentCode:
		if o.Wallet == "" {
			return fmt.Errorf("order reply: paymentCode order without wallet")
		}
	default:
		return fmt.Errorf("order reply: bad kind %q", o.Kind)
	}
	paid := o.PaymentID != "" && o.PaidAt != nil && o.Wallet != ""
	switch o.Status {
	case OrderPending:
		if o.PaymentID != "" || o.PaidAt != nil || o.ClosedAt != nil || o.ReversedAt != nil {
			return fmt.Errorf("order reply: pending order with paid, closed or reversed fields")
		}
	case OrderPaid:
		if !paid || o.ClosedAt != nil || o.ReversedAt != nil {
			return fmt.Errorf("order reply: paid order needs paymentId, paidAt and wallet, and no closedAt/reversedAt")
		}
	case OrderClosed:
		if o.ClosedAt == nil || o.PaymentID != "" || o.PaidAt != nil || o.ReversedAt != nil {
			return fmt.Errorf("order reply: closed order needs closedAt and no payment")
		}
	case OrderReversed:
		if o.ReversedAt == nil || o.ClosedAt != nil || (o.PaymentID != "") != (o.PaidAt != nil) {
			return fmt.Errorf("order reply: reversed order needs reversedAt, and paymentId and paidAt together")
		}
	default:
		return fmt.Errorf("order reply: bad status %q", o.Status)
	}
	return nil
}
