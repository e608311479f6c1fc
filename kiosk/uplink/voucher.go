package uplink

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"
)

// A credit voucher (API v1.1) is cash a terminal took in but could not pay
// to an account: it prints (or shows as a QR) a voucher with a voucherId and
// a short code, and tells the platform with POST /v1/vouchers. Partner-site
// staff can refund it in cash, or a later payment at the same terminal can
// redeem it; never both, never twice. The platform decides which came first.

// VoucherStatus is the state of a voucher: issued, then exactly one of
// redeemed or refunded.
type VoucherStatus string

const (
	VoucherIssued   VoucherStatus = "issued"
	VoucherRedeemed VoucherStatus = "redeemed"
	VoucherRefunded VoucherStatus = "refunded"
)

// Reasons a terminal gives for a voucher (VoucherRequest.Reason). The list
// is open: any ValidReason token is accepted.
const (
	VoucherReasonTimeout   = "timeout"   // the resident walked away with credit
	VoucherReasonRefused   = "refused"   // the platform refused the payment (final error)
	VoucherReasonRecovered = "recovered" // credit found in the journal after a restart
)

// voucherIDChars are the characters after the leading V: upper-case
// letters and digits, which covers both RFC 4648 and Crockford base32.
func voucherChar(c byte) bool { return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

// ValidVoucherID reports whether s is a voucher id: "V" and 12 upper-case
// base32 characters (A-Z, 0-9).
func ValidVoucherID(s string) bool {
	if len(s) != 13 || s[0] != 'V' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !voucherChar(s[i]) {
			return false
		}
	}
	return true
}

// ValidVoucherCode reports whether s is a voucher code: 6 to 8 upper-case
// letters or digits. Fold what staff type with NormalizeVoucherCode first.
func ValidVoucherCode(s string) bool {
	if len(s) < 6 || len(s) > 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !voucherChar(s[i]) {
			return false
		}
	}
	return true
}

// NormalizeVoucherCode folds a code as staff may type it ("ab 12-cd")
// into the form the API carries ("AB12CD"): spaces and hyphens dropped,
// letters upper-cased. It does not validate.
func NormalizeVoucherCode(s string) string {
	return strings.ToUpper(strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(s))
}

// crockford is Crockford base32 without I, L, O, U: no 0/O or 1/I mix-ups
// when a code is read aloud or typed.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func randomCrockford(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	for i := range b {
		b[i] = crockford[int(b[i])%len(crockford)] // 256 % 32 == 0: unbiased
	}
	return string(b)
}

// NewVoucherID returns a fresh voucher id: "V" and 12 Crockford base32
// characters (60 random bits).
func NewVoucherID() string { return "V" + randomCrockford(12) }

// NewVoucherCode returns a fresh 8-character code to print on a voucher.
func NewVoucherCode() string { return randomCrockford(8) }

// ValidReason reports whether s is a reason token: 1 to 32 of a-z 0-9 _,
// starting with a letter.
func ValidReason(s string) bool {
	if len(s) < 1 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// validSession: a terminal's session id, 0 to 64 of the terminal id
// characters; empty for credit that had no session (found at start-up).
func validSession(s string) bool { return s == "" || ValidTerminalID(s) }

// VoucherRequest is the body of POST /v1/vouchers (schema VoucherRequest).
// Like a payment, the terminal journals it with its Idempotency-Key and
// resends it unchanged until the platform answers.
type VoucherRequest struct {
	TerminalID string    `json:"terminalId"`
	VoucherID  string    `json:"voucherId"` // made by the terminal
	Code       string    `json:"code"`      // printed on the voucher; never returned by the platform
	Amount     int64     `json:"amount"`
	Reason     string    `json:"reason"`
	Session    string    `json:"session"` // "" when the credit had no session
	Utility    Utility   `json:"utility,omitempty"`
	Account    string    `json:"account,omitempty"`
	IssuedAt   time.Time `json:"issuedAt"`
}

// Validate checks a request the way the platform does (400 on failure).
func (r VoucherRequest) Validate() error {
	switch {
	case !ValidTerminalID(r.TerminalID):
		return fmt.Errorf("voucher: bad terminalId %q", r.TerminalID)
	case !ValidVoucherID(r.VoucherID):
		return fmt.Errorf("voucher: bad voucherId %q (want V and 12 of A-Z 0-9)", r.VoucherID)
	case !ValidVoucherCode(r.Code):
		return fmt.Errorf("voucher: code must be 6..8 of A-Z 0-9")
	case r.Amount <= 0 || r.Amount > MaxPaymentAmount:
		return fmt.Errorf("voucher: amount %d fen out of range 1..%d", r.Amount, MaxPaymentAmount)
	case !ValidReason(r.Reason):
		return fmt.Errorf("voucher: bad reason %q", r.Reason)
	case !validSession(r.Session):
		return fmt.Errorf("voucher: bad session %q", r.Session)
	case r.Utility != "" && !ValidUtility(r.Utility):
		return fmt.Errorf("voucher: bad utility %q", r.Utility)
	case r.Account != "" && (r.Utility == "" || !ValidAccount(r.Account)):
		return fmt.Errorf("voucher: account needs a utility and 6..20 digits")
	case r.IssuedAt.IsZero():
		return fmt.Errorf("voucher: issuedAt missing")
	}
	return nil
}

// Canonical returns the request in the form the platform compares replays
// in (issuedAt in UTC).
func (r VoucherRequest) Canonical() VoucherRequest {
	c := r
	c.IssuedAt = r.IssuedAt.UTC()
	return c
}

// Voucher is the platform's view of a voucher (schema Voucher). It never
// carries the code.
type Voucher struct {
	VoucherID  string        `json:"voucherId"`
	TerminalID string        `json:"terminalId"`
	Amount     int64         `json:"amount"`
	Status     VoucherStatus `json:"status"`
	IssuedAt   time.Time     `json:"issuedAt"`
	RedeemedAt *time.Time    `json:"redeemedAt,omitempty"`
	RefundedAt *time.Time    `json:"refundedAt,omitempty"`
	RedeemedBy string        `json:"redeemedBy,omitempty"` // paymentId
	RefundedBy string        `json:"refundedBy,omitempty"` // staff id
}

// Validate checks the invariants a Voucher reply must hold.
func (v Voucher) Validate() error {
	switch {
	case !ValidVoucherID(v.VoucherID):
		return fmt.Errorf("voucher reply: bad voucherId %q", v.VoucherID)
	case !ValidTerminalID(v.TerminalID):
		return fmt.Errorf("voucher reply: bad terminalId %q", v.TerminalID)
	case v.Amount <= 0:
		return fmt.Errorf("voucher reply: amount %d", v.Amount)
	case v.IssuedAt.IsZero():
		return fmt.Errorf("voucher reply: issuedAt missing")
	}
	redeemed := v.RedeemedAt != nil || v.RedeemedBy != ""
	refunded := v.RefundedAt != nil || v.RefundedBy != ""
	switch v.Status {
	case VoucherIssued:
		if redeemed || refunded {
			return fmt.Errorf("voucher reply: issued but has redemption or refund fields")
		}
	case VoucherRedeemed:
		if v.RedeemedAt == nil || v.RedeemedBy == "" || refunded {
			return fmt.Errorf("voucher reply: redeemed needs redeemedAt and redeemedBy and no refund")
		}
	case VoucherRefunded:
		if v.RefundedAt == nil || v.RefundedBy == "" || redeemed {
			return fmt.Errorf("voucher reply: refunded needs refundedAt and refundedBy and no redemption")
		}
	default:
		return fmt.Errorf("voucher reply: bad status %q", v.Status)
	}
	return nil
}

// VoucherUse is one voucher redeemed by a payment (PaymentRequest.Vouchers):
// its id and the code and amount printed on it.
type VoucherUse struct {
	VoucherID string `json:"voucherId"`
	Code      string `json:"code"`
	Amount    int64  `json:"amount"`
}

// Validate checks one line.
func (u VoucherUse) Validate() error {
	switch {
	case !ValidVoucherID(u.VoucherID):
		return fmt.Errorf("bad voucherId %q", u.VoucherID)
	case !ValidVoucherCode(u.Code):
		return fmt.Errorf("voucher %s: code must be 6..8 of A-Z 0-9", u.VoucherID)
	case u.Amount <= 0 || u.Amount > MaxPaymentAmount:
		return fmt.Errorf("voucher %s: amount %d fen out of range 1..%d", u.VoucherID, u.Amount, MaxPaymentAmount)
	}
	return nil
}

// VoucherRefundRequest is the body of POST /v1/vouchers/{voucherId}/refund
// (schema VoucherRefundRequest): staff paid the voucher out in cash.
type VoucherRefundRequest struct {
	TerminalID string `json:"terminalId"`
	StaffID    string `json:"staffId"`
	Code       string `json:"code"` // as printed on the voucher
}

// Validate checks a request the way the platform does (400 on failure).
func (r VoucherRefundRequest) Validate() error {
	switch {
	case !ValidTerminalID(r.TerminalID):
		return fmt.Errorf("voucher refund: bad terminalId %q", r.TerminalID)
	case !ValidTerminalID(r.StaffID):
		return fmt.Errorf("voucher refund: staffId must be 1..64 of A-Z a-z 0-9 . _ -")
	case !ValidVoucherCode(r.Code):
		return fmt.Errorf("voucher refund: code must be 6..8 of A-Z 0-9")
	}
	return nil
}
