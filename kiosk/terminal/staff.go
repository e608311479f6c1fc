package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"tongban/drivers/scanner/codec"
	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// Partner-site staff mode. A staff member signs in with the badge the
// platform issued (read by the terminal's scanner) and a PIN the platform
// checks: PIN hashes stay at the platform, so a stolen terminal disk gives
// nothing to guess offline, and a badge revoked there stops working at
// once. The terminal keeps the lockout (five wrong PINs lock the badge for
// StaffConfig.Lockout), journaled so a restart does not reset it. While a
// staff member is signed in the screen shows the staff screens only; every
// Staff.* intent but the PIN pad's needs that sign-in.

// StaffConfig tunes staff mode.
type StaffConfig struct {
	MaxPINTries int           // wrong PINs before a badge locks; 0 means 5
	Lockout     time.Duration // how long it stays locked; 0 means 15 minutes
	IdleTimeout time.Duration // a staff session untouched this long signs out; 0 means 5 minutes
	// Print lays out staff documents (counter receipt, cash-box and shift
	// reports, refund slip) for the printer.
	Print func(StaffDoc) ([]byte, error)
}

// StaffPlatform is a platform that knows partner-site staff (/v1/staff/... of the uplink API).
type StaffPlatform interface {
	StaffSignIn(ctx context.Context, req uplink.StaffSignInRequest) (uplink.StaffMember, error)
	SendCashBoxReport(ctx context.Context, key string, r uplink.CashBoxReport) (uplink.StaffReportAck, error)
	SendShiftReport(ctx context.Context, key string, r uplink.ShiftReport) (uplink.StaffReportAck, error)
	RefundVoucher(ctx context.Context, key, voucherID string, req uplink.VoucherRefundRequest) (uplink.Voucher, error)
}

// StaffDoc is a document printed in staff mode.
type StaffDoc struct {
	Kind       string // topUp, cashBox, shift, refund
	TerminalID string
	Time       time.Time
	StaffID    string
	StaffName  string
	TopUp      *Receipt              // the resident's receipt of a counter top-up
	CashBox    *uplink.CashBoxReport // the Z report
	Shift      *uplink.ShiftReport
	Refund     *uplink.ShiftRefund
}

// StaffCommands are the staff intents (ui/PROTOCOL.md, "Staff mode").
// Staff.SignIn and Staff.SignInCancel answer a badge read by the scanner;
// the others need a signed-in staff member.
var StaffCommands = []string{
	"Staff.SignIn", "Staff.SignInCancel", "Staff.SignOut", "Staff.Touch", "Staff.Open",
	"Staff.TopUpLookup", "Staff.TopUpPay", "Staff.CashCount", "Staff.RefundConfirm",
}

// Staff screens (Snapshot.Screen) while no resident session is open.
const (
	ScreenStaffPIN     Screen = "staffPin"
	ScreenStaffMenu    Screen = "staffMenu"
	ScreenStaffTopUp   Screen = "staffTopUp"
	ScreenStaffCashBox Screen = "staffCashBox"
	ScreenStaffRefund  Screen = "staffRefund"
)

type staffState struct {
	fails   map[string]int       // badge key -> wrong PINs since the last sign-in or lock
	locked  map[string]time.Time // badge key -> locked until
	badge   *pendingBadge        // read by the scanner; the PIN pad shows
	shift   *shift               // signed in
	view    Screen
	busy    string
	notice  *Notice
	topUp   *StaffTopUpView
	box     *StaffCashBoxView
	refund  *StaffRefundView
	boxOut  bool        // the validator reports its cash box out
	removal *boxRemoval // removed and not yet counted
	reports map[string]staffReport
	// submitting: counter top-ups tried in front of the staff member; the
	// outbox leaves them alone until they turn pending, so a final refusal
	// is handled once (the cash goes back over the counter, no voucher).
	submitting map[string]bool
	refundAsks map[string]refundAsk // voucherId -> a refund sent and not settled (staff_refund.go)
	wake       chan struct{}
	idle       *time.Timer
	touched    time.Time // when the idle clock last restarted (monotonic)
	replaying  *shift    // at start: the shift open at this point of the journal (replayStaff)
}

type pendingBadge struct {
	text  string
	badge codec.StaffBadge
}

// shift is one staff member's time from sign-in to sign-out.
type shift struct {
	ID, StaffID, Name, Site string
	BadgeKey                string
	Start                   time.Time
	TopUps                  []uplink.ShiftTopUp
	Refunds                 []uplink.ShiftRefund
	CashBoxes               []string
	Differences             int64
}

// staffReport is a journaled report the platform has not acknowledged.
type staffReport struct {
	Key     string                `json:"key"`
	CashBox *uplink.CashBoxReport `json:"cashBox,omitempty"`
	Shift   *uplink.ShiftReport   `json:"shift,omitempty"`
}

func (r staffReport) id() string {
	if r.CashBox != nil {
		return r.CashBox.ReportID
	}
	return r.Shift.ShiftID
}

type signedInData struct {
	StaffID  string    `json:"staffId"`
	Name     string    `json:"name"`
	Site     string    `json:"site"`
	BadgeKey string    `json:"badgeKey"`
	Start    time.Time `json:"start"`
}

// StaffView is staff mode as the screen shows it (Snapshot.Staff).
type StaffView struct {
	StaffID     string            `json:"staffId,omitempty"`
	Name        string            `json:"name,omitempty"`
	Site        string            `json:"site,omitempty"`
	Badge       string            `json:"badge,omitempty"`       // the badge's staff id while the PIN pad shows
	TriesLeft   int               `json:"triesLeft,omitempty"`   // wrong PINs left before the badge locks
	LockedUntil int64             `json:"lockedUntil,omitempty"` // unix ms, while the badge is locked
	Busy        string            `json:"busy,omitempty"`
	Notice      *Notice           `json:"notice,omitempty"`
	Shift       *ShiftSummary     `json:"shift,omitempty"`
	TopUp       *StaffTopUpView   `json:"topUp,omitempty"`
	CashBox     *StaffCashBoxView `json:"cashBox,omitempty"`
	Refund      *StaffRefundView  `json:"refund,omitempty"`
	BoxRemoved  bool              `json:"boxRemoved"` // a removal waits for its count
}

// ShiftSummary is the running shift.
type ShiftSummary struct {
	ShiftID     string `json:"shiftId"`
	Since       int64  `json:"since"` // unix ms
	TopUps      int    `json:"topUps"`
	TopUpTotal  int64  `json:"topUpTotal"`
	Refunds     int    `json:"refunds"`
	RefundTotal int64  `json:"refundTotal"`
	CashBoxes   int    `json:"cashBoxes"`
	Differences int64  `json:"differences"`
}

// StaffTopUpView is a counter top-up in progress.
type StaffTopUpView struct {
	Utility   string    `json:"utility,omitempty"`
	Account   string    `json:"account,omitempty"`
	Bill      *BillView `json:"bill,omitempty"`
	Amount    int64     `json:"amount,omitempty"`
	Status    string    `json:"status,omitempty"` // submitting, acknowledged, pending, refused
	PaymentID string    `json:"paymentId,omitempty"`
	Reference string    `json:"reference,omitempty"`
	Receipt   string    `json:"receipt,omitempty"`   // printing, printed, failed
	VerifyURL string    `json:"verifyUrl,omitempty"` // shown as a QR when the receipt could not print
	billID    string
}

// StaffCashBoxView is the cash-box count.
type StaffCashBoxView struct {
	RemovedAt int64                 `json:"removedAt,omitempty"` // unix ms of the removal waiting for its count
	Result    *uplink.CashBoxReport `json:"result,omitempty"`    // the count just made: differences flagged
	Sent      bool                  `json:"sent"`
	Printed   string                `json:"printed,omitempty"`
}

// StaffRefundView is a voucher refund at the counter.
type StaffRefundView struct {
	VoucherID string `json:"voucherId"`
	Amount    int64  `json:"amount"`
	IssuedAt  int64  `json:"issuedAt"`
	Status    string `json:"status"` // ready, refunding, refunded
	code      string
}

func (t *Terminal) staffCfg() StaffConfig {
	c := t.cfg.Staff
	if c.MaxPINTries <= 0 {
		c.MaxPINTries = 5
	}
	if c.Lockout <= 0 {
		c.Lockout = 15 * time.Minute
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	return c
}

// staffScanned takes a scanner read that belongs to staff mode: a staff
// badge, or a voucher while the refund screen is open. It reports whether
// the read was staff mode's.
func (t *Terminal) staffScanned(text string) bool {
	c := codec.Classify(text)
	if c.Kind == codec.KindStaffBadge {
		t.badgeScanned(text, *c.Badge)
		return true
	}
	if _, _, ok := parseVoucherPayload(text); ok {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.staff.shift == nil || t.sess != nil || t.staff.view != ScreenStaffRefund {
			return false
		}
		t.refundScannedLocked(text)
		return true
	}
	return false
}

func (t *Terminal) badgeScanned(text string, b codec.StaffBadge) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := &t.staff
	if st.shift != nil {
		t.log.Info("staff badge read while a staff member is signed in: ignored", "staff", b.StaffID)
		return
	}
	if ss := t.sess; ss != nil {
		if ss.credit > 0 || committedLocked(ss) || ss.screen == ScreenVoucher {
			t.log.Info("staff badge read during a resident's payment: ignored", "staff", b.StaffID)
			return
		}
		t.endLocked() // the staff member stands at the terminal: nobody else is using it
	}
	st.badge = &pendingBadge{text: text, badge: b}
	st.notice, st.busy = nil, ""
	if until, ok := st.locked[b.Key()]; ok && t.cfg.Now().Before(until) {
		st.notice = &Notice{Code: "staffLocked", Message: "this badge is locked after too many wrong PINs"}
	}
	t.log.Info("staff badge read", "staff", b.StaffID)
	t.staffTouchLocked()
	t.publishLocked()
}

// doStaff carries out a Staff.* intent.
func (t *Terminal) doStaff(ctx context.Context, name string, payload json.RawMessage) (any, error) {
	var p struct {
		PIN     string      `json:"pin"`
		View    string      `json:"view"`
		Utility string      `json:"utility"`
		Account string      `json:"account"`
		Notes   []NoteCount `json:"notes"`  // Staff.TopUpPay: the resident's cash taken at the counter
		Counts  []NoteCount `json:"counts"` // Staff.CashCount: the staff count per denomination
	}
	if len(payload) > 0 && string(payload) != "null" {
		dec := json.NewDecoder(strings.NewReader(string(payload)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, errf("invalidData", "payload: %v", err)
		}
	}
	if !slices.Contains(StaffCommands, name) {
		return nil, errf("unsupportedCommand", "unknown command %q", name)
	}
	switch name {
	case "Staff.SignIn":
		return nil, t.staffSignIn(ctx, p.PIN)
	case "Staff.SignInCancel":
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.staff.badge == nil {
			return nil, errf("sequenceError", "no staff badge was read")
		}
		t.staff.badge, t.staff.notice = nil, nil
		t.publishLocked()
		return nil, nil
	}
	t.mu.Lock()
	if t.staff.shift == nil || t.sess != nil {
		t.mu.Unlock()
		return nil, errf("sequenceError", "staff only: sign in with a staff badge first")
	}
	t.staffTouchLocked()
	t.mu.Unlock()
	switch name {
	case "Staff.Touch":
		return nil, nil
	case "Staff.SignOut":
		return nil, t.staffSignOut("signOut")
	case "Staff.Open":
		return nil, t.staffOpen(Screen(p.View))
	case "Staff.TopUpLookup":
		return nil, t.topUpLookup(ctx, p.Utility, p.Account)
	case "Staff.TopUpPay":
		return nil, t.topUpPay(p.Notes)
	case "Staff.CashCount":
		return nil, t.cashCount(p.Counts)
	case "Staff.RefundConfirm":
		return nil, t.refundConfirm(ctx)
	}
	return nil, errf("unsupportedCommand", "unknown command %q", name)
}

// staffHoldsScreen reports whether staff mode has the screen (a PIN pad
// or a signed-in staff member, no resident session): a resident's scan
// (tracking QR, bill barcode, payment code) must not open a session over it.
func (t *Terminal) staffHoldsScreen() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sess == nil && (t.staff.shift != nil || t.staff.badge != nil)
}

// residentBlocked refuses resident intents while staff mode holds
// the screen.
func (t *Terminal) residentBlocked(name string) error {
	if strings.HasPrefix(name, "Staff.") || name == "Session.Touch" {
		return nil
	}
	if t.staffHoldsScreen() {
		return errf("sequenceError", "the terminal is in staff mode")
	}
	return nil
}

func (t *Terminal) staffSignIn(ctx context.Context, pin string) error {
	t.mu.Lock()
	st := &t.staff
	pb := st.badge
	switch {
	case pb == nil || t.sess != nil:
		t.mu.Unlock()
		return errf("sequenceError", "no staff badge was read")
	case st.busy != "":
		t.mu.Unlock()
		return errf("sequenceError", "busy: %s", st.busy)
	case !uplink.ValidPIN(pin):
		st.notice = &Notice{Code: "staffPinFormat", Message: "the PIN is 4 to 8 digits"}
		t.publishLocked()
		t.mu.Unlock()
		return errf("invalidData", "the PIN is 4 to 8 digits")
	}
	key := pb.badge.Key()
	if until, ok := st.locked[key]; ok && t.cfg.Now().Before(until) {
		st.notice = &Notice{Code: "staffLocked", Message: "this badge is locked after too many wrong PINs"}
		t.publishLocked()
		t.mu.Unlock()
		return errf("accessDenied", "badge locked until %s", until.Format(time.RFC3339))
	}
	sp, ok := t.cfg.Platform.(StaffPlatform)
	if !ok {
		t.mu.Unlock()
		return errf("unsupportedCommand", "the platform does not know partner-site staff")
	}
	st.busy, st.notice = "signIn", nil
	t.staffTouchLocked()
	t.publishLocked()
	t.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	m, err := sp.StaffSignIn(cctx, uplink.StaffSignInRequest{TerminalID: t.cfg.TerminalID, Badge: pb.text, PIN: pin})
	cancel()

	t.mu.Lock()
	defer t.mu.Unlock()
	st.busy = ""
	defer t.publishLocked()
	if st.badge != pb {
		return errf("canceled", "sign-in cancelled")
	}
	var ue *uplink.Error
	switch {
	case err == nil:
	case errors.As(err, &ue) && ue.Code == uplink.CodeStaffPINWrong:
		st.fails[key]++
		rec := []journal.Record{{Kind: journal.StaffPINRejected, Ref: key, Code: st.fails[key]}}
		if st.fails[key] >= t.staffCfg().MaxPINTries {
			until := t.cfg.Now().Add(t.staffCfg().Lockout).UTC()
			rec = append(rec, journal.Record{Kind: journal.StaffLocked, Ref: key, Detail: until.Format(time.RFC3339Nano)})
			st.locked[key], st.fails[key] = until, 0
			st.notice = &Notice{Code: "staffLocked", Message: "this badge is locked after too many wrong PINs"}
			t.log.Warn("staff badge locked after wrong PINs", "staff", pb.badge.StaffID, "until", until)
		} else {
			st.notice = &Notice{Code: "staffPinWrong", Message: "wrong PIN"}
			t.log.Info("staff PIN wrong", "staff", pb.badge.StaffID, "tries", st.fails[key])
		}
		if _, jerr := t.cfg.Journal.AppendAll(rec); jerr != nil {
			t.log.Error("journal staff PIN", "err", jerr)
		}
		return errf("accessDenied", "%s", st.notice.Message)
	case errors.As(err, &ue) && ue.Code == uplink.CodeBadgeInvalid:
		// Not the platform's badge: nothing to count against a real one.
		t.log.Warn("staff badge refused by the platform", "staff", pb.badge.StaffID)
		st.badge = nil
		st.notice = &Notice{Code: "staffBadgeInvalid", Message: "this badge is not valid"}
		return errf("accessDenied", "badge not valid")
	case uplink.IsRetryable(err):
		st.notice = &Notice{Code: "platformOffline", Message: "the county platform cannot be reached"}
		return errf("timeOut", "platform unreachable")
	default:
		st.notice = &Notice{Code: "staffSignInFailed", Message: "sign-in failed"}
		t.log.Error("staff sign-in failed", "staff", pb.badge.StaffID, "err", err)
		return errf("commandErrorCode", "staff sign-in failed")
	}
	sh := &shift{ID: "SH" + newID(), StaffID: m.StaffID, Name: m.Name, Site: m.Site, BadgeKey: key, Start: t.cfg.Now().UTC()}
	if _, jerr := t.cfg.Journal.Append(journal.Record{Kind: journal.StaffSignedIn, Session: sh.ID, Ref: sh.StaffID,
		Data: mustJSON(signedInData{StaffID: sh.StaffID, Name: sh.Name, Site: sh.Site, BadgeKey: key, Start: sh.Start})}); jerr != nil {
		st.notice = &Notice{Code: "internalError", Message: "journal unavailable"}
		return errf("internalError", "journal unavailable")
	}
	delete(st.fails, key)
	st.badge, st.shift, st.view, st.notice = nil, sh, ScreenStaffMenu, nil
	st.topUp, st.refund, st.box = nil, nil, nil
	t.log.Info("staff signed in", "staff", sh.StaffID, "shift", sh.ID)
	t.staffTouchLocked()
	return nil
}

func (t *Terminal) staffOpen(view Screen) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := &t.staff
	switch view {
	case ScreenStaffMenu, ScreenStaffTopUp, ScreenStaffCashBox, ScreenStaffRefund:
	default:
		return errf("invalidData", "unknown staff screen %q", view)
	}
	if st.busy != "" {
		return errf("sequenceError", "busy: %s", st.busy)
	}
	st.view, st.notice = view, nil
	st.topUp, st.refund = nil, nil
	if view == ScreenStaffTopUp {
		st.topUp = &StaffTopUpView{}
	}
	if view == ScreenStaffCashBox {
		st.box = &StaffCashBoxView{}
	}
	t.publishLocked()
	return nil
}

// staffTouchLocked restarts the staff idle clock.
func (t *Terminal) staffTouchLocked() {
	st := &t.staff
	if st.idle != nil {
		st.idle.Stop()
	}
	sh, pb := st.shift, st.badge
	st.touched = time.Now()
	st.idle = time.AfterFunc(t.staffCfg().IdleTimeout, func() { t.staffIdle(sh, pb) })
}

func (t *Terminal) staffIdle(sh *shift, pb *pendingBadge) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := &t.staff
	if time.Since(st.touched) < t.staffCfg().IdleTimeout {
		return // touched while this timer fired: the new timer decides
	}
	if st.busy != "" {
		t.staffTouchLocked() // a platform call is on its way: wait for it
		return
	}
	if sh == nil && st.badge == pb && pb != nil {
		st.badge, st.notice = nil, nil // the PIN pad was left alone
		t.publishLocked()
		return
	}
	if sh != nil && st.shift == sh {
		t.log.Info("staff session idle: signing out", "staff", sh.StaffID)
		_ = t.staffSignOutLocked("idle")
	}
}

// staffSignOut ends the shift: its report is journaled, printed and sent.
func (t *Terminal) staffSignOut(why string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.staffSignOutLocked(why)
}

func (t *Terminal) staffSignOutLocked(why string) error {
	st := &t.staff
	sh := st.shift
	if sh == nil {
		return errf("sequenceError", "no staff member is signed in")
	}
	if st.busy != "" {
		return errf("sequenceError", "busy: %s", st.busy)
	}
	rep, err := t.endShiftLocked(sh, why)
	if err != nil {
		return err
	}
	st.shift, st.view, st.topUp, st.refund, st.box, st.notice = nil, "", nil, nil, nil, nil
	if st.idle != nil {
		st.idle.Stop()
		st.idle = nil
	}
	t.publishLocked()
	go t.printStaff(StaffDoc{Kind: "shift", Shift: &rep, StaffID: sh.StaffID, StaffName: sh.Name}, "")
	return nil
}

// endShiftLocked journals the end of a shift with its report.
func (t *Terminal) endShiftLocked(sh *shift, why string) (uplink.ShiftReport, error) {
	rep := t.shiftReportLocked(sh, why)
	sr := staffReport{Key: uplink.NewIdempotencyKey(), Shift: &rep}
	if _, err := t.cfg.Journal.Append(journal.Record{Kind: journal.StaffSignedOut, Session: sh.ID, Ref: sh.StaffID,
		Key: sr.Key, Detail: why, Amount: rep.CashToDeposit, Data: mustJSON(sr)}); err != nil {
		t.log.Error("journal staff sign-out", "err", err)
		return rep, errf("internalError", "journal unavailable")
	}
	t.staff.reports[rep.ShiftID] = sr
	t.staffNudge()
	t.log.Info("staff signed out", "staff", sh.StaffID, "shift", sh.ID, "why", why)
	return rep, nil
}

// shiftReportLocked sums up a shift. A top-up's status follows the
// payment's fate in the journal (the outbox may have delivered it since).
func (t *Terminal) shiftReportLocked(sh *shift, why string) uplink.ShiftReport {
	rep := uplink.ShiftReport{TerminalID: t.cfg.TerminalID, ShiftID: sh.ID, StaffID: sh.StaffID, StaffName: sh.Name,
		SignedInAt: sh.Start, SignedOutAt: t.cfg.Now().UTC(), EndedBy: why,
		TopUps: slices.Clone(sh.TopUps), Refunds: slices.Clone(sh.Refunds), CashBoxes: slices.Clone(sh.CashBoxes), Differences: sh.Differences}
	if rep.SignedOutAt.Before(rep.SignedInAt) {
		rep.SignedOutAt = rep.SignedInAt
	}
	fate := map[string]journal.Record{}
	_ = t.cfg.Journal.Scan(1, func(r journal.Record) error {
		if r.Kind == journal.PaymentAcknowledged || r.Kind == journal.PaymentRefused {
			fate[r.Key] = r
		}
		return nil
	})
	for i, tu := range rep.TopUps {
		if r, ok := fate[tu.Key]; ok {
			if r.Kind == journal.PaymentAcknowledged {
				rep.TopUps[i].Status, rep.TopUps[i].PaymentID = "acknowledged", r.Ref
			} else {
				rep.TopUps[i].Status = "refused"
			}
		} else {
			rep.TopUps[i].Status = "pending"
		}
		if rep.TopUps[i].Status != "refused" {
			rep.TopUpTotal += tu.Amount
		}
	}
	for _, r := range rep.Refunds {
		rep.RefundTotal += r.Amount
	}
	rep.CashToDeposit = rep.TopUpTotal - rep.RefundTotal
	return rep
}

func (t *Terminal) shiftSummaryLocked(sh *shift) *ShiftSummary {
	s := &ShiftSummary{ShiftID: sh.ID, Since: sh.Start.UnixMilli(), TopUps: len(sh.TopUps), Refunds: len(sh.Refunds),
		CashBoxes: len(sh.CashBoxes), Differences: sh.Differences}
	for _, x := range sh.TopUps {
		if x.Status != "refused" { // its cash went back over the counter
			s.TopUpTotal += x.Amount
		}
	}
	for _, x := range sh.Refunds {
		s.RefundTotal += x.Amount
	}
	return s
}

// staffSnapshotLocked draws staff mode into s when no resident session is
// open.
func (t *Terminal) staffSnapshotLocked(s *Snapshot) {
	st := &t.staff
	if t.sess != nil {
		return
	}
	switch {
	case st.shift != nil:
		sh := st.shift
		v := &StaffView{StaffID: sh.StaffID, Name: sh.Name, Site: sh.Site, Busy: st.busy, Notice: st.notice,
			Shift: t.shiftSummaryLocked(sh), BoxRemoved: st.removal != nil}
		if st.topUp != nil {
			tu := *st.topUp
			v.TopUp = &tu
		}
		if st.box != nil {
			b := *st.box
			if st.removal != nil {
				b.RemovedAt = st.removal.At.UnixMilli()
			}
			v.CashBox = &b
		}
		if st.refund != nil {
			r := *st.refund
			v.Refund = &r
		}
		s.Staff, s.Screen = v, st.view
		if s.Screen == "" {
			s.Screen = ScreenStaffMenu
		}
	case st.badge != nil:
		key := st.badge.badge.Key()
		v := &StaffView{Badge: st.badge.badge.StaffID, Busy: st.busy, Notice: st.notice,
			TriesLeft: t.staffCfg().MaxPINTries - st.fails[key]}
		if until, ok := st.locked[key]; ok && t.cfg.Now().Before(until) {
			v.LockedUntil, v.TriesLeft = until.UnixMilli(), 0
		}
		s.Staff, s.Screen = v, ScreenStaffPIN
	}
}

func (t *Terminal) staffNudge() {
	select {
	case t.staff.wake <- struct{}{}:
	default:
	}
}

// staffLoop delivers journaled cash-box and shift reports until the
// platform has them, with backoff; the queue is rebuilt from the journal
// at start.
func (t *Terminal) staffLoop(ctx context.Context) {
	backoff := time.Second
	for {
		t.mu.Lock()
		var todo []staffReport
		for _, r := range t.staff.reports {
			todo = append(todo, r)
		}
		t.mu.Unlock()
		failed := false
		for _, r := range todo {
			if err := t.sendStaffReport(ctx, r); err != nil && uplink.IsRetryable(err) {
				failed = true
				break
			}
		}
		wait := time.Hour
		if failed {
			wait = jitter(backoff)
			backoff = min(backoff*2, time.Minute)
		} else {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-t.staff.wake:
		case <-time.After(wait):
		}
	}
}

func (t *Terminal) sendStaffReport(ctx context.Context, r staffReport) error {
	sp, ok := t.cfg.Platform.(StaffPlatform)
	if !ok {
		return nil // kept in the journal and on paper
	}
	cctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	var ack uplink.StaffReportAck
	var err error
	if r.CashBox != nil {
		ack, err = sp.SendCashBoxReport(cctx, r.Key, *r.CashBox)
	} else {
		ack, err = sp.SendShiftReport(cctx, r.Key, *r.Shift)
	}
	cancel()
	if err != nil && uplink.IsRetryable(err) {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := journal.Record{Kind: journal.StaffReportSent, Key: r.Key, Ref: r.id()}
	if err != nil {
		t.log.Error("platform refused a staff report", "report", r.id(), "err", err)
		rec.Detail = "refused: " + err.Error()
	} else if ack.Flagged {
		rec.Detail = "flagged by the platform"
	}
	t.appendLocked(rec)
	delete(t.staff.reports, r.id())
	if b := t.staff.box; b != nil && b.Result != nil && b.Result.ReportID == r.id() {
		b.Sent = err == nil
		t.publishLocked()
	}
	return nil
}

// printStaff prints a staff document; for a top-up it reports the outcome
// on the top-up view.
func (t *Terminal) printStaff(d StaffDoc, session string) error {
	t.mu.Lock()
	ctx := t.runCtx
	t.mu.Unlock()
	d.TerminalID, d.Time = t.cfg.TerminalID, t.cfg.Now()
	var err error
	if t.cfg.Printer == nil || t.cfg.Staff.Print == nil {
		err = errors.New("no printer")
	} else {
		var job []byte
		if job, err = t.cfg.Staff.Print(d); err == nil {
			pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			err = t.cfg.Printer.Print(pctx, job)
			cancel()
		}
	}
	rec := journal.Record{Kind: journal.ReceiptPrinted, Session: session, Detail: "staff " + d.Kind}
	if err != nil {
		rec.Kind, rec.Detail = journal.ReceiptFailed, "staff "+d.Kind+": "+err.Error()
		t.log.Warn("staff document not printed", "kind", d.Kind, "err", err)
	}
	t.mu.Lock()
	t.appendLocked(rec)
	t.mu.Unlock()
	return err
}

// initStaffLocked makes staff mode's maps; replayStaff calls it on the
// first record, recoverStaff for an empty journal.
func (t *Terminal) initStaffLocked() {
	st := &t.staff
	if st.fails != nil {
		return
	}
	st.fails, st.locked, st.reports, st.submitting = map[string]int{}, map[string]time.Time{}, map[string]staffReport{}, map[string]bool{}
	st.refundAsks = map[string]refundAsk{}
	st.wake = make(chan struct{}, 1)
}

// replayStaff rebuilds staff mode from one journal record; recover calls
// it for every record of its one scan (a second scan of 100,000 records
// cost start-up 0.4 s of its 1 s budget). Lockouts, reports not yet
// delivered, refunds not settled, a cash box removed and not counted, and
// the shift the daemon stopped in (st.replaying) follow.
func (t *Terminal) replayStaff(r journal.Record) {
	t.initStaffLocked()
	st := &t.staff
	open := st.replaying
	switch r.Kind {
	case journal.StaffRefundRequested:
		if staffID, ok := strings.CutPrefix(r.Detail, "staff "); ok {
			st.refundAsks[r.Ref] = refundAsk{Key: r.Key, StaffID: staffID}
		} else {
			delete(st.refundAsks, r.Ref) // refused for good
		}
	case journal.StaffPINRejected:
		st.fails[r.Ref]++
	case journal.StaffLocked:
		if until, err := time.Parse(time.RFC3339Nano, r.Detail); err == nil {
			st.locked[r.Ref] = until
		}
		st.fails[r.Ref] = 0
	case journal.StaffSignedIn:
		var d signedInData
		if err := json.Unmarshal(r.Data, &d); err != nil {
			t.log.Error("journal: unreadable staff sign-in", "seq", r.Seq, "err", err)
			return
		}
		delete(st.fails, d.BadgeKey)
		st.replaying = &shift{ID: r.Session, StaffID: d.StaffID, Name: d.Name, Site: d.Site, BadgeKey: d.BadgeKey, Start: d.Start}
	case journal.StaffTopUp:
		var tu uplink.ShiftTopUp
		if open != nil && open.ID == r.Session && json.Unmarshal(r.Data, &tu) == nil {
			open.TopUps = append(open.TopUps, tu)
		}
	case journal.VoucherRefunded:
		delete(st.refundAsks, r.Ref)
		if open != nil && open.ID == r.Session {
			open.Refunds = append(open.Refunds, uplink.ShiftRefund{VoucherID: r.Ref, Amount: r.Amount})
		}
	case journal.CashBoxRemoved:
		var rm boxRemoval
		if json.Unmarshal(r.Data, &rm) == nil {
			st.removal = &rm
		}
		st.boxOut = true
	case journal.CashBoxReplaced:
		st.boxOut = false
	case journal.CashBoxCounted:
		st.removal = nil
		var sr staffReport
		if json.Unmarshal(r.Data, &sr) == nil && sr.CashBox != nil {
			st.reports[sr.id()] = sr
			if open != nil && open.ID == r.Session {
				open.CashBoxes = append(open.CashBoxes, sr.CashBox.ReportID)
				open.Differences += sr.CashBox.Difference
			}
		}
	case journal.StaffSignedOut:
		var sr staffReport
		if json.Unmarshal(r.Data, &sr) == nil && sr.Shift != nil {
			st.reports[sr.id()] = sr
		}
		if open != nil && open.ID == r.Session {
			st.replaying = nil
		}
	case journal.StaffReportSent:
		delete(st.reports, r.Ref)
	}
}

// recoverStaff finishes staff mode's replay (replayStaff, during recover's
// scan): a refund not settled holds its voucher, and a shift the daemon
// stopped in ends, reason "restart", with its report.
func (t *Terminal) recoverStaff() error {
	t.initStaffLocked()
	st := &t.staff
	for id := range st.refundAsks {
		// The platform may have recorded the refund: the voucher stays held
		// until a refund with the same key settles it.
		t.redeemed[id] = true
		t.log.Warn("voucher refund not settled before the restart: voucher held", "voucher", id)
	}
	if open := st.replaying; open != nil {
		// Nobody is signed in after a restart: the shift ends here, so the
		// staff member signs in again and the report covers what was done.
		st.replaying = nil
		t.mu.Lock()
		_, err := t.endShiftLocked(open, "restart")
		t.mu.Unlock()
		if err != nil {
			return fmt.Errorf("recover staff mode: %w", err)
		}
	}
	return nil
}

// refusedTopUp marks a counter top-up of this shift refused, so the
// running total on screen leaves out cash that goes back to the resident.
func (sh *shift) refusedTopUp(key string) bool {
	for i := range sh.TopUps {
		if sh.TopUps[i].Key == key {
			sh.TopUps[i].Status = "refused"
			return true
		}
	}
	return false
}
