package terminal

import (
	"context"
	"errors"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/scanner/codec"
	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// RecentPayment is how long after a payment on the same account a bill
// says "paid minutes ago": long enough to catch a family member who paid
// at another terminal the same morning.
const RecentPayment = 2 * time.Hour

// maxReprints caps copies per session, so a stuck finger cannot empty the
// paper roll.
const maxReprints = 3

// errOnScreen is the "receipt not printed" reason when the resident chose
// the on-screen receipt because the printer was down.
var errOnScreen = errors.New("on-screen receipt chosen: printer unavailable")

// residentState is the part of a session that serves the resident rather
// than the money: the idle warning, the last receipt for a reprint, the
// on-screen receipt choice. It is wiped with the session.
type residentState struct {
	deadline    time.Time // when the idle timer ends the session
	warnTimer   *time.Timer
	warning     bool     // the screen asks "need more time?"
	lastReceipt *Receipt // the newest receipt of the session, for a reprint
	reprints    int
	reprint     string // printing, printed, failed
	onScreen    bool   // the printer is down and the resident accepted the on-screen receipt
}

// IdleView is the idle countdown: the screen shows "need more time?" while
// Warning is set, counting down to Deadline.
type IdleView struct {
	Deadline int64 `json:"deadline"` // unix ms when the session ends (or cash becomes a voucher)
	Warning  bool  `json:"warning"`
	Credit   bool  `json:"credit"` // cash is inside: the end prints a voucher rather than going home
}

// ReceiptView tells the screen what it may offer about receipts.
type ReceiptView struct {
	OnScreen   bool `json:"onScreen"`   // the resident chose the on-screen receipt
	CanReprint bool `json:"canReprint"` // a receipt exists and copies are left
	// PrinterDown: the printer is known to be unable to print (not merely
	// starting), so the on-screen receipt is offered before paying.
	PrinterDown bool   `json:"printerDown"`
	Reprint     string `json:"reprint,omitempty"`
	Copies      int    `json:"copies"`
}

// LastPaymentView is the newest payment on the account, as the bill shows it.
type LastPaymentView struct {
	At        int64 `json:"at"` // unix ms
	Amount    int64 `json:"amount"`
	Elsewhere bool  `json:"elsewhere"` // taken by another terminal or channel
	Recent    bool  `json:"recent"`    // within RecentPayment
}

// DeviceHealth is the health callback for a device the core does not
// drive but the screen depends on (the scanner): the screen offers what
// needs it only while it is online.
func (t *Terminal) DeviceHealth(role string) func(device.Health) { return t.healthFrom(role) }

// homeViewLocked adds what even the home screen needs: while the platform
// is unreachable, the offline limits that say what cash can still do.
func (t *Terminal) homeViewLocked(s *Snapshot) {
	if !t.online {
		s.Offline = &OfflineView{PerPayment: t.cfg.OfflinePerPayment, Remaining: t.offlineRemainingLocked()}
	}
}

func (t *Terminal) residentViewLocked(s *Snapshot, ss *session) {
	rs := &ss.resident
	if !rs.deadline.IsZero() {
		s.Idle = &IdleView{Deadline: rs.deadline.UnixMilli(), Warning: rs.warning, Credit: ss.credit > 0}
	}
	s.Receipt = &ReceiptView{OnScreen: rs.onScreen, Reprint: rs.reprint, Copies: rs.reprints, PrinterDown: t.printerDownLocked(),
		CanReprint: rs.lastReceipt != nil && rs.reprints < maxReprints && (ss.screen == ScreenDone || ss.screen == ScreenVoucher)}
	if b := ss.bill; b != nil && s.Bill != nil {
		if b.PaidAt != nil {
			s.Bill.PaidAt = b.PaidAt.UnixMilli()
		}
		if lp := b.LastPayment; lp != nil {
			s.Bill.LastPayment = &LastPaymentView{At: lp.At.UnixMilli(), Amount: lp.Amount,
				Elsewhere: lp.TerminalID != t.cfg.TerminalID, Recent: t.cfg.Now().Sub(lp.At) < RecentPayment}
		}
	}
}

// armWarningLocked schedules the "need more time?" question IdleWarning
// before the idle timer (touchLocked just restarted) runs out.
func (t *Terminal) armWarningLocked(ss *session) {
	rs := &ss.resident
	was := rs.warning
	if rs.warnTimer != nil {
		rs.warnTimer.Stop()
	}
	rs.deadline = ss.touched.Add(t.cfg.IdleTimeout)
	rs.warning = false
	rs.warnTimer = time.AfterFunc(t.cfg.IdleTimeout-t.cfg.IdleWarning, func() { t.warnIdle(ss) })
	if was && t.sess == ss {
		t.publishLocked() // a touch answered the question: take it off the screen
	}
}

// committedLocked says the session waits on a device or the platform for
// something the resident already gave or confirmed: a note on its way in,
// a payment being made, a mobile order, an application being submitted and
// its receipt printed. Such a session is never ended or replaced (by the
// idle clock, a cancel, a scan, a new session): the resident would lose
// the receipt, and the step's goroutine still uses the session's state.
func committedLocked(ss *session) bool {
	return ss != nil && (len(ss.flight) > 0 || ss.screen == ScreenPaying || ss.screen == ScreenMobile ||
		ss.screen == ScreenApplySubmitting)
}

func (t *Terminal) warnIdle(ss *session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sess != ss || committedLocked(ss) {
		return // these steps wait for a device or the platform, not for the resident
	}
	ss.resident.warning = true
	t.publishLocked()
}

// extend answers "need more time?" with yes.
func (t *Terminal) extend() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sess == nil {
		return errf("sequenceError", "no session to extend")
	}
	t.touchLocked()
	t.publishLocked()
	return nil
}

// wipeLocked forgets everything a session held about the person: the
// account, the bill, the receipt kept for a reprint, the notices. Money
// the session owes lives on in the journal, the outbox and the voucher
// list, never here. Goroutines that still hold the pointer only compare
// it with t.sess, so they see an ended session.
func (t *Terminal) wipeLocked(ss *session) {
	if ss == nil {
		return
	}
	if ss.resident.warnTimer != nil {
		ss.resident.warnTimer.Stop()
	}
	*ss = session{id: ss.id, screen: ScreenHome}
}

// rememberReceipt keeps the receipt a session printed (or tried to), so
// the resident can ask for a copy.
func (t *Terminal) rememberReceipt(session string, r Receipt) {
	if r.Copy || session == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if ss := t.sess; ss != nil && ss.id == session {
		ss.resident.lastReceipt = &r
	}
}

func (t *Terminal) onScreenOnly(session string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.sess
	return ss != nil && ss.id == session && ss.resident.onScreen
}

func (t *Terminal) printerReadyLocked() bool {
	return t.cfg.Printer != nil && t.cfg.Receipt != nil && t.devices["printer"].State == device.Online
}

// printerDownLocked says the printer is known not to print: missing, or in
// a fault state. A printer still starting (or busy) is not down.
func (t *Terminal) printerDownLocked() bool {
	if t.cfg.Printer == nil || t.cfg.Receipt == nil {
		return true
	}
	switch t.devices["printer"].State {
	case device.Offline, device.NoDevice, device.HardwareError, device.UserError:
		return true
	}
	return false
}

// reprint prints the session's last receipt again, marked as a copy. The
// request is journaled before the printer is told.
func (t *Terminal) reprint() error {
	t.mu.Lock()
	ss := t.sess
	if ss == nil || (ss.screen != ScreenDone && ss.screen != ScreenVoucher) || ss.resident.lastReceipt == nil {
		t.mu.Unlock()
		return errf("sequenceError", "no receipt to reprint")
	}
	rs := &ss.resident
	switch {
	case rs.reprint == "printing":
		t.mu.Unlock()
		return errf("sequenceError", "a copy is already printing")
	case rs.reprints >= maxReprints:
		t.mu.Unlock()
		return errf("sequenceError", "at most %d copies", maxReprints)
	case !t.printerReadyLocked():
		ss.notice = &Notice{Code: "reprintNoPrinter", Message: "the printer is unavailable: scan the receipt QR on screen instead"}
		t.publishLocked()
		t.mu.Unlock()
		return errf("deviceNotReady", "printer unavailable")
	}
	r := *rs.lastReceipt
	r.Copy, r.Time = true, t.cfg.Now()
	rs.reprints++
	if _, err := t.cfg.Journal.Append(journal.Record{Kind: journal.ReceiptReprinted, Session: ss.id, Amount: r.Amount,
		Key: r.Reference, Ref: r.PaymentID, Detail: r.Kind}); err != nil {
		t.mu.Unlock()
		return errf("internalError", "journal unavailable")
	}
	rs.reprint, ss.notice = "printing", nil
	t.touchLocked()
	t.publishLocked()
	ctx, id := t.runCtx, ss.id
	t.mu.Unlock()

	go func() {
		err := t.printReceipt(ctx, id, r)
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.sess != ss {
			return
		}
		rs.reprint = "printed"
		if err != nil {
			rs.reprint = "failed"
		}
		t.publishLocked()
	}()
	return nil
}

// chooseOnScreenReceipt is the resident's yes to "the printer is down: a
// receipt QR on screen instead?", asked before any money is taken.
func (t *Terminal) chooseOnScreenReceipt() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.sess
	if ss == nil || ss.screen != ScreenBill {
		return errf("sequenceError", "the receipt is chosen on the bill, before paying")
	}
	ss.resident.onScreen = true
	if ss.notice != nil && ss.notice.Code == "printerDownOffer" {
		ss.notice = nil
	}
	t.touchLocked()
	t.publishLocked()
	return nil
}

// beforeMoney runs just before a payment method takes money. It asks
// about the receipt if the printer is down, and looks the bill up once
// more: a bill paid meanwhile (at another terminal, by phone) is said
// now, before the first note, and the resident chooses again.
func (t *Terminal) beforeMoney(ctx context.Context, take func() error) error {
	t.mu.Lock()
	ss := t.sess
	if ss == nil || ss.screen != ScreenBill || ss.bill == nil {
		t.mu.Unlock()
		return take() // it refuses with the right error
	}
	if t.printerDownLocked() && !ss.resident.onScreen {
		ss.notice = &Notice{Code: "printerDownOffer", Message: "the printer is unavailable: accept an on-screen receipt to pay"}
		t.publishLocked()
		t.mu.Unlock()
		return errf("deviceNotReady", "printer unavailable: the on-screen receipt must be accepted first")
	}
	online, utility, account, shown := t.online, ss.utility, ss.account, *ss.bill
	t.mu.Unlock()

	if online {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		bill, err := t.cfg.Platform.Bill(cctx, uplink.Utility(utility), account)
		cancel()
		if err == nil && billChanged(shown, bill) {
			t.mu.Lock()
			defer t.mu.Unlock()
			if t.sess != ss {
				return errf("canceled", "session ended")
			}
			ss.bill = &bill
			ss.notice = &Notice{Code: "billChanged", Message: "the bill changed since it was shown (paid meanwhile?): check it again"}
			t.touchLocked()
			t.publishLocked()
			return errf("sequenceError", "the bill changed since it was shown")
		}
		// A failed look-up changes nothing but what the terminal knows of
		// the platform: the offline rules apply to cash, and the platform
		// checks the bill id with the payment.
		if err != nil && uplink.IsRetryable(err) {
			t.mu.Lock()
			if t.online {
				t.online = false
				t.publishLocked()
			}
			t.mu.Unlock()
		}
	}
	return take()
}

func billChanged(a, b uplink.Bill) bool {
	if a.BillID != b.BillID || a.AmountDue != b.AmountDue || (a.PaidAt == nil) != (b.PaidAt == nil) {
		return true
	}
	switch {
	case a.LastPayment == nil:
		return b.LastPayment != nil
	case b.LastPayment == nil:
		return false // a refund: nothing more was paid
	}
	return !a.LastPayment.At.Equal(b.LastPayment.At) || a.LastPayment.Amount != b.LastPayment.Amount
}

// scannedBill takes a utility bill barcode held up to the scanner on the
// home, account or bill screen: it starts (or restarts) the session for
// that bill and looks it up, as if the account had been typed. It reports
// whether text was a bill barcode.
func (t *Terminal) scannedBill(text string) bool {
	c := codec.Classify(text)
	if c.Kind != codec.KindUtilityBill || c.Bill == nil {
		return false
	}
	if err := t.residentBlocked("Session.Start"); err != nil {
		t.log.Info("bill barcode ignored", "err", err) // staff mode holds the screen
		return true
	}
	t.mu.Lock()
	if ss := t.sess; ss != nil {
		if ss.credit > 0 || committedLocked(ss) {
			ss.notice = &Notice{Code: "scanBillBusy", Message: "finish the payment in progress before scanning another bill"}
			t.publishLocked()
			t.mu.Unlock()
			t.log.Info("bill barcode ignored: a payment is in progress")
			return true
		}
		t.endLocked() // a new bill: nothing of the last one stays
	}
	ctx := t.runCtx
	t.mu.Unlock()
	if err := t.start(c.Bill.Utility); err != nil {
		t.log.Info("bill barcode not usable now", "err", err)
		return true
	}
	if err := t.lookup(ctx, c.Bill.Account); err != nil {
		t.log.Info("scanned bill look-up", "err", err)
	}
	return true
}
