package terminal

import (
	"sort"
	"time"

	"tongban/drivers/device"
	"tongban/kiosk/uplink"
)

// Screen names the step a session is at.
type Screen string

const (
	ScreenHome    Screen = "home"
	ScreenAccount Screen = "account" // typing the account number
	ScreenBill    Screen = "bill"    // the platform's bill, before paying
	ScreenCash    Screen = "cash"    // inserting notes
	ScreenPaying  Screen = "paying"  // confirmed: forwarding and printing
	ScreenDone    Screen = "done"
	ScreenVoucher Screen = "voucher" // cash that could not be paid, given back as a voucher
	ScreenMobile  Screen = "mobile"  // a mobile-wallet order in progress
)

// session is one resident's visit. It holds what the resident typed and the
// platform returned; it is dropped (wiped) when the visit ends.
type session struct {
	id        string
	screen    Screen
	utility   string
	account   string
	bill      *uplink.Bill
	credit    int64
	notes     map[int64]int // credited notes by value (fen)
	flight    []int64       // values of notes ordered to stack whose fate is not yet known
	restored  bool          // rebuilt from the journal after a restart
	accepting bool
	confirm   bool // the resident confirmed; pay once inFlight is 0
	opened    bool // session.opened is journaled
	busy      string
	notice    *Notice
	pay       *paymentView
	voucher   *VoucherView
	order     *OrderView
	vouchers  []uplink.VoucherUse // earlier vouchers redeemed towards this payment
	touched   time.Time
	resident  residentState // idle warning, reprint, on-screen receipt (resident.go)
	gov       *govFlow      // government services: card data, form, cases, rating (apply.go)
}

// Notice is a message for the resident, with a code the screen translates.
type Notice struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Snapshot is everything the screen needs to draw itself. It is
// self-contained: a screen that missed messages redraws from the last one.
type Snapshot struct {
	Version  uint64                `json:"version"`
	Screen   Screen                `json:"screen"`
	Session  string                `json:"session,omitempty"`
	Utility  string                `json:"utility,omitempty"`
	Account  string                `json:"account,omitempty"`
	Bill     *BillView             `json:"bill,omitempty"`
	Cash     *CashView             `json:"cash,omitempty"`
	Payment  *paymentView          `json:"payment,omitempty"`
	Voucher  *VoucherView          `json:"voucher,omitempty"`
	Order    *OrderView            `json:"order,omitempty"`
	Offline  *OfflineView          `json:"offline,omitempty"`
	Busy     string                `json:"busy,omitempty"`
	Notice   *Notice               `json:"notice,omitempty"`
	Services Services              `json:"services"`
	Devices  map[string]DeviceView `json:"devices"`
	Demo     *DemoView             `json:"demo,omitempty"`
	Terminal string                `json:"terminal"`
	// Idle and Receipt: the "need more time?" countdown and the receipt
	// choices (resident.go).
	Idle    *IdleView    `json:"idle,omitempty"`
	Receipt *ReceiptView `json:"receipt,omitempty"`

	// Provision is the unprovisioned screen's state; Banner the platform's
	// notice (fleet.go).
	Provision *ProvisionView `json:"provision,omitempty"`
	Banner    *Banner        `json:"banner,omitempty"`
	// Gov is government services: catalog, application, progress,
	// rating (apply.go).
	Gov *GovView `json:"gov,omitempty"`
	// Staff is partner-site staff mode (staff.go).
	Staff *StaffView `json:"staff,omitempty"`
}

// BillView is the bill as shown.
type BillView struct {
	Payee     string `json:"payee"`
	Holder    string `json:"holder"`
	Period    string `json:"period"`
	AmountDue int64  `json:"amountDue"`
	Arrears   int64  `json:"arrears"`
	Prepaid   int64  `json:"prepaid"`
	Paid      bool   `json:"paid"`
	// PaidAt and LastPayment let the screen say "already paid" or "paid
	// minutes ago at another terminal" before any money is taken.
	PaidAt      int64            `json:"paidAt,omitempty"` // unix ms
	LastPayment *LastPaymentView `json:"lastPayment,omitempty"`
}

// CashView is the running total while notes go in.
type CashView struct {
	Credit    int64       `json:"credit"`
	Vouchers  int64       `json:"vouchers"` // part of the credit from redeemed vouchers
	Notes     []NoteCount `json:"notes"`
	Accepting bool        `json:"accepting"`
	InFlight  bool        `json:"inFlight"`
	Accepted  []int64     `json:"accepted"` // note values the acceptor takes now
}

// NoteCount is how many notes of one value were credited.
type NoteCount struct {
	Value int64 `json:"value"`
	Count int   `json:"count"`
}

type paymentView struct {
	Status        string `json:"status"` // submitting, acknowledged, pending, refused
	Amount        int64  `json:"amount"`
	AppliedToBill int64  `json:"appliedToBill"`
	Prepaid       int64  `json:"prepaidCredit"`
	PaymentID     string `json:"paymentId,omitempty"`
	VerifyCode    string `json:"verifyCode,omitempty"`
	VerifyURL     string `json:"verifyUrl,omitempty"`
	Reference     string `json:"reference"` // the idempotency key's head, for staff
	Receipt       string `json:"receipt"`   // printing, printed, failed, none
	ReceiptError  string `json:"receiptError,omitempty"`
	key           string
}

// Services says which services the screen may offer now.
type Services struct {
	PlatformOnline  bool `json:"platformOnline"`
	CashAvailable   bool `json:"cashAvailable"`
	PrinterReady    bool `json:"printerReady"`
	MobileAvailable bool `json:"mobileAvailable"`
	ScannerReady    bool `json:"scannerReady"` // bill barcodes and payment codes can be scanned
}

// DeviceView is a device's state as the screen shows it.
type DeviceView struct {
	State  device.State `json:"state"`
	Detail string       `json:"detail,omitempty"`
}

// OfflineView tells the screen what cash may still be taken while the
// platform is unreachable.
type OfflineView struct {
	PerPayment int64 `json:"perPayment"`
	Remaining  int64 `json:"remaining"` // of the total offline limit
}

// DemoView appears only in demo mode.
type DemoView struct {
	SimControl string `json:"simControl"`
}

func (t *Terminal) snapshotLocked() Snapshot {
	s := Snapshot{
		Version:  t.version,
		Screen:   ScreenHome,
		Devices:  map[string]DeviceView{},
		Terminal: t.cfg.TerminalID,
	}
	for role, h := range t.devices {
		s.Devices[role] = DeviceView{State: h.State, Detail: h.Detail}
	}
	s.Services = Services{
		PlatformOnline: t.online,
		CashAvailable: t.cfg.Cash != nil && t.devices["billValidator"].State == device.Online ||
			t.cfg.Coins != nil && t.devices["coinAcceptor"].State == device.Online,
		PrinterReady: t.cfg.Printer != nil && t.devices["printer"].State == device.Online,
	}
	_, s.Services.MobileAvailable = t.cfg.Platform.(OrderPlatform)
	s.Services.MobileAvailable = s.Services.MobileAvailable && t.online
	if t.cfg.DemoSimControl != "" {
		s.Demo = &DemoView{SimControl: t.cfg.DemoSimControl}
	}
	if t.banner != nil {
		b := *t.banner
		s.Banner = &b
	}
	s.Services.ScannerReady = t.devices["scanner"].State == device.Online
	t.homeViewLocked(&s) // what the home screen says while degraded (resident.go)
	s.Gov = t.govViewLocked(t.sess)
	t.staffSnapshotLocked(&s) // staff screens, when no resident session is open (staff.go)
	ss := t.sess
	if ss == nil {
		return s
	}
	s.Screen, s.Session, s.Utility, s.Account = ss.screen, ss.id, ss.utility, ss.account
	s.Busy, s.Notice = ss.busy, ss.notice
	if b := ss.bill; b != nil {
		s.Bill = &BillView{Payee: b.Payee, Holder: b.Holder, Period: b.Period, AmountDue: b.AmountDue,
			Arrears: b.Arrears, Prepaid: b.Prepaid, Paid: b.PaidAt != nil}
	}
	if ss.screen == ScreenCash || ss.credit > 0 || len(ss.flight) > 0 {
		var fromVouchers int64
		for _, v := range ss.vouchers {
			fromVouchers += v.Amount
		}
		cv := &CashView{Credit: ss.credit, Vouchers: fromVouchers, Accepting: ss.accepting, InFlight: len(ss.flight) > 0, Notes: []NoteCount{}, Accepted: []int64{}}
		for v, n := range ss.notes {
			cv.Notes = append(cv.Notes, NoteCount{Value: v, Count: n})
		}
		sort.Slice(cv.Notes, func(i, j int) bool { return cv.Notes[i].Value < cv.Notes[j].Value })
		if ss.accepting && t.cfg.Cash != nil {
			cv.Accepted = append(cv.Accepted, t.acceptedValues()...)
		}
		s.Cash = cv
	}
	if ss.pay != nil {
		p := *ss.pay
		s.Payment = &p
	}
	if ss.voucher != nil {
		v := *ss.voucher
		s.Voucher = &v
	}
	if ss.order != nil {
		o := *ss.order
		s.Order = &o
	}
	if !t.online {
		s.Offline = &OfflineView{PerPayment: t.cfg.OfflinePerPayment, Remaining: t.offlineRemainingLocked()}
	}
	t.residentViewLocked(&s, ss)
	return s
}
