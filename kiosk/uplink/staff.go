package uplink

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Partner-site staff (openapi.yaml, paths /v1/staff/...).
// Staff sign in at a terminal with the badge QR the platform issued them
// and a PIN; the platform checks both, so PINs never rest on a terminal.
// Cash-box (Z) and shift reports are posted under an Idempotency-Key fixed
// when the terminal journals them, like payments.

// Error codes of the staff endpoints. Both are final.
const (
	CodeBadgeInvalid  = "badge_invalid"   // not signed by the platform, revoked, or unknown staff
	CodeStaffPINWrong = "staff_pin_wrong" // the badge is genuine, the PIN is not its holder's
)

// MaxPINLength bounds a PIN; PINs are 4 to 8 digits.
const MaxPINLength = 8

// ValidPIN reports whether s is 4 to 8 ASCII digits.
func ValidPIN(s string) bool {
	if len(s) < 4 || len(s) > MaxPINLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// StaffSignInRequest is the body of POST /v1/staff/sign-in.
type StaffSignInRequest struct {
	TerminalID string `json:"terminalId"`
	Badge      string `json:"badge"` // the badge QR as scanned
	PIN        string `json:"pin"`
}

// Validate checks a request the way the platform does (400 on failure).
// Its messages never contain the PIN.
func (r StaffSignInRequest) Validate() error {
	switch {
	case !ValidTerminalID(r.TerminalID):
		return fmt.Errorf("staff sign-in: bad terminalId %q", r.TerminalID)
	case r.Badge == "" || len(r.Badge) > 512:
		return fmt.Errorf("staff sign-in: badge must be 1..512 characters")
	case !ValidPIN(r.PIN):
		return fmt.Errorf("staff sign-in: pin must be 4..8 digits")
	}
	return nil
}

// StaffMember is who signed in (schema StaffMember).
type StaffMember struct {
	StaffID string `json:"staffId"`
	Name    string `json:"name"`
	Site    string `json:"site"`
}

// CashBoxLine is one denomination of a cash-box count.
type CashBoxLine struct {
	Value    int64 `json:"value"`    // fen
	Expected int   `json:"expected"` // notes or coins by the journal
	Counted  int   `json:"counted"`  // by the staff member
}

// CashBoxReport is the Z report of one cash-box removal (schema
// CashBoxReport). Difference = counted - expected total; Mismatch is set
// when any line differs. Nothing is adjusted: the platform flags it.
type CashBoxReport struct {
	TerminalID    string        `json:"terminalId"`
	ReportID      string        `json:"reportId"`
	StaffID       string        `json:"staffId"`
	ShiftID       string        `json:"shiftId"`
	RemovedAt     time.Time     `json:"removedAt"`
	CountedAt     time.Time     `json:"countedAt"`
	Lines         []CashBoxLine `json:"lines"`
	ExpectedTotal int64         `json:"expectedTotal"`
	CountedTotal  int64         `json:"countedTotal"`
	Difference    int64         `json:"difference"`
	Mismatch      bool          `json:"mismatch"`
}

// Validate checks a report the way the platform does.
func (r CashBoxReport) Validate() error {
	switch {
	case !ValidTerminalID(r.TerminalID):
		return fmt.Errorf("cash-box report: bad terminalId %q", r.TerminalID)
	case !ValidTerminalID(r.ReportID) || !ValidTerminalID(r.StaffID) || !ValidTerminalID(r.ShiftID):
		return fmt.Errorf("cash-box report: reportId, staffId and shiftId must be 1..64 of A-Z a-z 0-9 . _ -")
	case r.RemovedAt.IsZero() || r.CountedAt.IsZero():
		return fmt.Errorf("cash-box report: removedAt and countedAt are required")
	case len(r.Lines) > MaxNoteLines:
		return fmt.Errorf("cash-box report: %d lines, want at most %d", len(r.Lines), MaxNoteLines)
	}
	var exp, cnt int64
	mismatch := false
	for i, l := range r.Lines {
		if l.Value <= 0 || l.Expected < 0 || l.Counted < 0 || l.Expected > 100000 || l.Counted > 100000 {
			return fmt.Errorf("cash-box report: lines[%d] out of range", i)
		}
		exp += l.Value * int64(l.Expected)
		cnt += l.Value * int64(l.Counted)
		mismatch = mismatch || l.Expected != l.Counted
	}
	if exp != r.ExpectedTotal || cnt != r.CountedTotal || cnt-exp != r.Difference || mismatch != r.Mismatch {
		return fmt.Errorf("cash-box report: totals, difference or mismatch do not follow from the lines")
	}
	return nil
}

// ShiftTopUp is one counter top-up of a shift.
type ShiftTopUp struct {
	Key       string  `json:"key"` // the payment's idempotency key
	PaymentID string  `json:"paymentId,omitempty"`
	Utility   Utility `json:"utility"`
	Account   string  `json:"account"`
	Amount    int64   `json:"amount"`
	Status    string  `json:"status"` // acknowledged, pending, refused
}

// ShiftRefund is one voucher refunded in cash during a shift.
type ShiftRefund struct {
	VoucherID string `json:"voucherId"`
	Amount    int64  `json:"amount"`
}

// ShiftReport is what one staff member did from sign-in to sign-out
// (schema ShiftReport).
type ShiftReport struct {
	TerminalID    string        `json:"terminalId"`
	ShiftID       string        `json:"shiftId"`
	StaffID       string        `json:"staffId"`
	StaffName     string        `json:"staffName"`
	SignedInAt    time.Time     `json:"signedInAt"`
	SignedOutAt   time.Time     `json:"signedOutAt"`
	EndedBy       string        `json:"endedBy"` // signOut, idle, restart
	TopUps        []ShiftTopUp  `json:"topUps"`
	TopUpTotal    int64         `json:"topUpTotal"` // of the top-ups not refused
	Refunds       []ShiftRefund `json:"refunds"`
	RefundTotal   int64         `json:"refundTotal"`
	CashBoxes     []string      `json:"cashBoxes"`   // reportIds of the cash-box reports of the shift
	Differences   int64         `json:"differences"` // sum of their differences (fen)
	CashToDeposit int64         `json:"cashToDeposit"`
}

// Validate checks a report the way the platform does.
func (r ShiftReport) Validate() error {
	switch {
	case !ValidTerminalID(r.TerminalID) || !ValidTerminalID(r.ShiftID) || !ValidTerminalID(r.StaffID):
		return fmt.Errorf("shift report: terminalId, shiftId and staffId must be 1..64 of A-Z a-z 0-9 . _ -")
	case r.SignedInAt.IsZero() || r.SignedOutAt.Before(r.SignedInAt):
		return fmt.Errorf("shift report: signedOutAt must follow signedInAt")
	case len(r.TopUps) > 10000 || len(r.Refunds) > 10000 || len(r.CashBoxes) > 1000:
		return fmt.Errorf("shift report: too many lines")
	}
	var top, ref int64
	for _, t := range r.TopUps {
		if t.Status != "refused" { // its cash went back to the resident at the counter
			top += t.Amount
		}
	}
	for _, v := range r.Refunds {
		ref += v.Amount
	}
	if top != r.TopUpTotal || ref != r.RefundTotal || r.CashToDeposit != top-ref {
		return fmt.Errorf("shift report: totals do not follow from the lines")
	}
	return nil
}

// StaffReportAck is the platform's answer to a report.
type StaffReportAck struct {
	ReportID   string    `json:"reportId"`
	ReceivedAt time.Time `json:"receivedAt"`
	Flagged    bool      `json:"flagged"` // a cash-box difference the platform holds for review
}

// StaffSignIn asks the platform whether badge and PIN belong together. A
// wrong PIN is a final *Error with Code CodeStaffPINWrong; a forged,
// revoked or unknown badge CodeBadgeInvalid.
func (c *Client) StaffSignIn(ctx context.Context, req StaffSignInRequest) (StaffMember, error) {
	if err := c.ownTerminal(&req.TerminalID); err != nil {
		return StaffMember{}, err
	}
	if err := req.Validate(); err != nil {
		return StaffMember{}, invalidArg("%v", err)
	}
	var m StaffMember
	if err := c.send(ctx, "/v1/staff/sign-in", "", req, &m); err != nil {
		return StaffMember{}, fmt.Errorf("staff sign-in: %w", err)
	}
	if !ValidTerminalID(m.StaffID) || m.Name == "" {
		return StaffMember{}, fmt.Errorf("staff sign-in: %w", badReply(http.StatusOK, "reply lacks staffId or name"))
	}
	// Name and site go on screen, into the journal and onto paper (ESC/POS):
	// a reply with control characters or a novel for a name is refused.
	if !validDisplay(m.Name, 64) || !validDisplay(m.Site, 128) || strings.Contains(m.Name+m.Site, "\n") {
		return StaffMember{}, fmt.Errorf("staff sign-in: %w", badReply(http.StatusOK, "reply's name or site is not printable text of at most 64 and 128 characters"))
	}
	return m, nil
}

// SendCashBoxReport delivers a Z report under the key journaled with it.
func (c *Client) SendCashBoxReport(ctx context.Context, key string, r CashBoxReport) (StaffReportAck, error) {
	if err := c.checkSend(key, &r.TerminalID, &r); err != nil {
		return StaffReportAck{}, err
	}
	if r.Lines == nil {
		r.Lines = []CashBoxLine{}
	}
	return c.sendReport(ctx, "/v1/staff/cashbox-reports", key, r.ReportID, r)
}

// SendShiftReport delivers a shift report under the key journaled with it.
func (c *Client) SendShiftReport(ctx context.Context, key string, r ShiftReport) (StaffReportAck, error) {
	if err := c.checkSend(key, &r.TerminalID, &r); err != nil {
		return StaffReportAck{}, err
	}
	if r.TopUps == nil {
		r.TopUps = []ShiftTopUp{}
	}
	if r.Refunds == nil {
		r.Refunds = []ShiftRefund{}
	}
	if r.CashBoxes == nil {
		r.CashBoxes = []string{}
	}
	return c.sendReport(ctx, "/v1/staff/shift-reports", key, r.ShiftID, r)
}

func (c *Client) sendReport(ctx context.Context, path, key, id string, body any) (StaffReportAck, error) {
	var a StaffReportAck
	if err := c.send(ctx, path, key, body, &a); err != nil {
		return StaffReportAck{}, fmt.Errorf("report %s: %w", id, err)
	}
	if a.ReportID != id || a.ReceivedAt.IsZero() {
		return StaffReportAck{}, fmt.Errorf("report %s: %w", id, badReply(http.StatusOK, "reply is for report "+a.ReportID))
	}
	return a, nil
}
