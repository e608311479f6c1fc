package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// fakeAcceptor lets a test play the bill validator: it delivers events to
// the core's handler exactly as a driver does (synchronously).
type fakeAcceptor struct {
	mu      sync.Mutex
	h       cash.Handler
	enabled []int64
	mon     *device.Monitor
	ready   chan struct{}
}

func newFakeAcceptor() *fakeAcceptor {
	m := device.NewMonitor("billValidator", "fake", "/dev/null")
	return &fakeAcceptor{mon: m, ready: make(chan struct{})}
}

func (f *fakeAcceptor) Run(ctx context.Context, h cash.Handler) error {
	f.mu.Lock()
	f.h = h
	f.mu.Unlock()
	close(f.ready)
	<-ctx.Done()
	return nil
}
func (f *fakeAcceptor) Enable(v []int64)                { f.mu.Lock(); f.enabled = v; f.mu.Unlock() }
func (f *fakeAcceptor) Denominations() []int64          { return []int64{1000, 2000, 5000, 10000} }
func (f *fakeAcceptor) Health() device.Health           { return f.mon.Health() }
func (f *fakeAcceptor) OnHealth(fn func(device.Health)) { f.mon.OnChange(fn) }
func (f *fakeAcceptor) send(ev cash.Event) cash.Decision {
	<-f.ready
	f.mu.Lock()
	h := f.h
	f.mu.Unlock()
	return h(ev)
}

// note plays one note in: escrow, then (if stacked) vend valid and stacked.
func (f *fakeAcceptor) note(t *testing.T, v int64) {
	t.Helper()
	if d := f.send(cash.Event{Kind: cash.Escrowed, Value: v}); d != cash.Stack {
		t.Fatalf("note %d returned by the core", v)
	}
	f.send(cash.Event{Kind: cash.Credited, Value: v})
	f.send(cash.Event{Kind: cash.Stacked, Value: v})
}

type fakePlatform struct {
	mu       sync.Mutex
	down     bool
	refuse   bool
	payments map[string]uplink.PaymentRequest
	vouchers map[string]uplink.VoucherRequest // by idempotency key
	calls    int
}

func (p *fakePlatform) IssueVoucher(ctx context.Context, key string, req uplink.VoucherRequest) (uplink.Voucher, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return uplink.Voucher{}, &uplink.Error{Status: 503, Retryable: true, Message: "down"}
	}
	if p.vouchers == nil {
		p.vouchers = map[string]uplink.VoucherRequest{}
	}
	p.vouchers[key] = req
	return uplink.Voucher{VoucherID: req.VoucherID, Amount: req.Amount, Status: uplink.VoucherIssued}, nil
}

func (p *fakePlatform) voucherCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.vouchers)
}

func (p *fakePlatform) Bill(ctx context.Context, u uplink.Utility, account string) (uplink.Bill, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return uplink.Bill{}, &uplink.Error{Status: 503, Retryable: true, Message: "down"}
	}
	return uplink.Bill{Utility: u, Account: account, Payee: "县自来水公司", Holder: "张*", Period: "2026-10",
		AmountDue: 8650, Currency: "CNY", BillID: "SF-" + account}, nil
}

func (p *fakePlatform) Pay(ctx context.Context, key string, req uplink.PaymentRequest) (uplink.Payment, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	switch {
	case p.down:
		return uplink.Payment{}, &uplink.Error{Status: 503, Retryable: true, Message: "down"}
	case p.refuse:
		return uplink.Payment{}, &uplink.Error{Status: 422, Message: "refused"}
	}
	if p.payments == nil {
		p.payments = map[string]uplink.PaymentRequest{}
	}
	p.payments[key] = req
	return uplink.Payment{PaymentID: "P-" + key[:8], IdempotencyKey: key, Amount: req.Amount,
		AppliedToBill: min(req.Amount, 8650), PrepaidCredit: max(0, req.Amount-8650), VerifyURL: "http://p/verify/x", VerifyCode: "ABC123"}, nil
}

func (p *fakePlatform) Health(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return errors.New("down")
	}
	return nil
}

func (p *fakePlatform) set(down, refuse bool) {
	p.mu.Lock()
	p.down, p.refuse = down, refuse
	p.mu.Unlock()
}

func (p *fakePlatform) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.payments)
}

type fakePrinter struct {
	mu   sync.Mutex
	jobs []Receipt
	fail bool
	mon  *device.Monitor
}

func (p *fakePrinter) Print(ctx context.Context, job []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return errors.New("paper end")
	}
	var r Receipt
	json.Unmarshal(job, &r)
	p.jobs = append(p.jobs, r)
	return nil
}
func (p *fakePrinter) Health() device.Health           { return p.mon.Health() }
func (p *fakePrinter) OnHealth(fn func(device.Health)) { p.mon.OnChange(fn) }
func (p *fakePrinter) receipts() []Receipt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Receipt(nil), p.jobs...)
}

// rig is one life of the daemon over a journal file that outlives it.
type rig struct {
	t      *testing.T
	term   *Terminal
	acc    *fakeAcceptor
	plat   *fakePlatform
	prn    *fakePrinter
	j      *journal.Journal
	cancel context.CancelFunc
	done   chan struct{}
}

func start(t *testing.T, path string, plat *fakePlatform, mod func(*Config)) *rig {
	t.Helper()
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, acc: newFakeAcceptor(), plat: plat, j: j, done: make(chan struct{}),
		prn: &fakePrinter{mon: device.NewMonitor("printer", "fake", "/dev/null")}}
	cfg := Config{TerminalID: "TB-TEST", Journal: j, Platform: plat, Cash: r.acc, Printer: r.prn,
		Receipt: func(rc Receipt) ([]byte, error) { return json.Marshal(rc) }, Logger: slog.New(slog.DiscardHandler),
		SubmitPatience: 200 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	term, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.run(term)
	r.prn.mon.Set(device.Online, "")
	return r
}

// run starts this life of term; crash ends it.
func (r *rig) run(term *Terminal) {
	r.term = term
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { term.Run(ctx); close(r.done) }()
}

// crash ends this life without any goodbye, as SIGKILL would: nothing is
// written after the last journal append.
func (r *rig) crash() {
	r.cancel()
	<-r.done
	r.j.Close()
}

func (r *rig) do(name string, payload any) error {
	r.t.Helper()
	b, _ := json.Marshal(payload)
	_, err := r.term.Do(context.Background(), name, b)
	return err
}

func (r *rig) must(name string, payload any) {
	r.t.Helper()
	if err := r.do(name, payload); err != nil {
		r.t.Fatalf("%s: %v", name, err)
	}
}

func (r *rig) until(what string, ok func(Snapshot) bool) Snapshot {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := r.term.Snapshot()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(s)
			r.t.Fatalf("timed out waiting for %s; state %s", what, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *rig) toCash() {
	r.must("Session.Start", map[string]string{"utility": "water"})
	r.must("Bill.Lookup", map[string]string{"account": "100100100001"})
	r.must("Cash.Start", nil)
}

func kinds(t *testing.T, path string) []journal.Record {
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var out []journal.Record
	j.Scan(1, func(r journal.Record) error { out = append(out, r); return nil })
	return out
}

func TestEveryNoteEventIsJournaledBeforeTheDeviceActs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	r := start(t, path, &fakePlatform{}, nil)
	r.toCash()
	before := r.j.Len()
	// The handler returns Stack only after escrowed+stackOrdered are durable.
	if d := r.acc.send(cash.Event{Kind: cash.Escrowed, Value: 5000}); d != cash.Stack || r.j.Len() != before+2 {
		t.Fatalf("escrow: decision %v, journal grew by %d", d, r.j.Len()-before)
	}
	r.acc.send(cash.Event{Kind: cash.Credited, Value: 5000})
	if r.j.Len() != before+3 || r.term.Snapshot().Cash.Credit != 5000 {
		t.Fatalf("credit not journaled before the screen heard of it")
	}
	// A note offered when no session takes cash is returned.
	r.must("Payment.Confirm", nil)
	r.until("done", func(s Snapshot) bool { return s.Screen == ScreenDone })
	if d := r.acc.send(cash.Event{Kind: cash.Escrowed, Value: 1000}); d != cash.Return {
		t.Fatal("a note was stacked with no cash step open")
	}
	r.crash()
}

func TestRestartRestoresTheSessionWithItsCredit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	plat := &fakePlatform{}
	r := start(t, path, plat, nil)
	r.toCash()
	r.acc.note(t, 5000)
	r.acc.note(t, 2000)
	r.crash()

	r = start(t, path, plat, nil)
	s := r.term.Snapshot()
	if s.Screen != ScreenCash || s.Cash.Credit != 7000 || s.Notice == nil || s.Notice.Code != "sessionRestored" || s.Bill.AmountDue != 8650 {
		b, _ := json.Marshal(s)
		t.Fatalf("restored state %s", b)
	}
	r.acc.note(t, 2000)
	r.must("Payment.Confirm", nil)
	done := r.until("paid", func(s Snapshot) bool { return s.Screen == ScreenDone })
	if done.Payment.Amount != 9000 || plat.count() != 1 {
		t.Fatalf("payment %+v, platform has %d", done.Payment, plat.count())
	}
	r.crash()
	// Paid: nothing left to restore.
	r = start(t, path, plat, nil)
	if s := r.term.Snapshot(); s.Screen != ScreenHome {
		t.Fatalf("after a paid session the terminal restored %s", s.Screen)
	}
	r.crash()
}

func TestNoteInFlightAtCrashIsCreditedExactlyOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		device func(r *rig)
		credit int64
	}{
		{"vend valid after restart", func(r *rig) { r.acc.send(cash.Event{Kind: cash.Credited, Value: 5000}) }, 5000},
		{"still in escrow after restart", func(r *rig) { r.acc.note(t, 5000) }, 5000},
		{"power up with note in stacker", func(r *rig) { r.acc.send(cash.Event{Kind: cash.PowerUpWithNote, Detail: "stacker"}) }, 5000},
		{"power up with note in acceptor", func(r *rig) {
			r.acc.send(cash.Event{Kind: cash.PowerUpWithNote, Detail: "acceptor"})
			r.acc.mon.Set(device.Online, "accepting notes")
		}, 0},
		{"device says nothing: fate unknown", func(r *rig) { r.acc.mon.Set(device.Online, "accepting notes") }, 5000},
		{"back in escrow but unvalued: returned", func(r *rig) {
			if d := r.acc.send(cash.Event{Kind: cash.Escrowed, Detail: "unknown denomination code 65"}); d != cash.Return {
				t.Fatal("an unvalued note was stacked")
			}
			r.acc.send(cash.Event{Kind: cash.Returned, Detail: "note not seen in escrow"})
			r.acc.mon.Set(device.Online, "accepting notes")
		}, 0},
		{"returned unvalued after restart", func(r *rig) {
			r.acc.send(cash.Event{Kind: cash.Returned, Detail: "note not seen in escrow"})
			r.acc.mon.Set(device.Online, "accepting notes")
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.db")
			plat := &fakePlatform{}
			r := start(t, path, plat, nil)
			r.toCash()
			r.acc.note(t, 1000)
			if d := r.acc.send(cash.Event{Kind: cash.Escrowed, Value: 5000}); d != cash.Stack {
				t.Fatal("not stacked")
			}
			r.crash() // between the stack order and the credit

			r = start(t, path, plat, nil)
			tc.device(r)
			s := r.until("settled", func(s Snapshot) bool { return s.Cash != nil && !s.Cash.InFlight })
			if s.Cash.Credit != 1000+tc.credit {
				t.Fatalf("credit %d, want %d", s.Cash.Credit, 1000+tc.credit)
			}
			// Nothing more arrives however the device repeats itself.
			r.acc.mon.Set(device.Online, "inhibited")
			if got := r.term.Snapshot().Cash.Credit; got != 1000+tc.credit {
				t.Fatalf("credit moved to %d", got)
			}
			r.crash()
		})
	}
}

func TestVendValidRepeatedAfterCrashIsNotCreditedTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	plat := &fakePlatform{}
	r := start(t, path, plat, nil)
	r.toCash()
	r.acc.send(cash.Event{Kind: cash.Escrowed, Value: 5000})
	r.acc.send(cash.Event{Kind: cash.Credited, Value: 5000})
	r.crash() // credit journaled, ACK never sent: the acceptor repeats vend valid

	r = start(t, path, plat, nil)
	r.acc.send(cash.Event{Kind: cash.Credited, Value: 5000})
	r.acc.send(cash.Event{Kind: cash.Stacked, Value: 5000})
	if c := r.term.Snapshot().Cash.Credit; c != 5000 {
		t.Fatalf("credit %d after a repeated vend valid, want 5000", c)
	}
	var repeats int
	for _, rec := range kindsOf(r) {
		if rec.Kind == journal.NoteRepeat {
			repeats++
		}
	}
	if repeats != 1 {
		t.Fatalf("%d repeat records, want 1", repeats)
	}
	r.crash()
}

func kindsOf(r *rig) []journal.Record {
	var out []journal.Record
	r.j.Scan(1, func(rec journal.Record) error { out = append(out, rec); return nil })
	return out
}

func TestIdleWithCreditPrintsAVoucher(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	r := start(t, path, &fakePlatform{}, func(c *Config) { c.IdleTimeout = 100 * time.Millisecond })
	r.toCash()
	r.acc.note(t, 2000)
	s := r.until("voucher", func(s Snapshot) bool { return s.Screen == ScreenVoucher && s.Voucher.Printed == "printed" })
	if s.Voucher.Amount != 2000 {
		t.Fatalf("voucher %+v", s.Voucher)
	}
	rs := r.prn.receipts()
	if len(rs) != 1 || rs[0].Kind != "voucher" || rs[0].Amount != 2000 || rs[0].Reference != s.Voucher.ID {
		t.Fatalf("printed %+v", rs)
	}
	r.until("home after the voucher screen", func(s Snapshot) bool { return s.Screen == ScreenHome })
	r.crash()
	// Vouchered: a restart restores nothing.
	r = start(t, path, &fakePlatform{}, nil)
	if s := r.term.Snapshot(); s.Screen != ScreenHome {
		t.Fatalf("restored %s after the voucher", s.Screen)
	}
	r.crash()
}

func TestFinalRefusalBecomesAVoucherWithOnScreenQRWhenThePrinterIsOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	plat := &fakePlatform{}
	r := start(t, path, plat, nil)
	r.toCash()
	r.acc.note(t, 10000)
	plat.set(false, true)
	r.prn.mu.Lock()
	r.prn.fail = true
	r.prn.mu.Unlock()
	r.must("Payment.Confirm", nil)
	s := r.until("voucher shown", func(s Snapshot) bool { return s.Screen == ScreenVoucher && s.Voucher.Printed == "failed" })
	if s.Voucher.Amount != 10000 || s.Voucher.Payload == "" {
		t.Fatalf("voucher %+v", s.Voucher)
	}
	r.crash()
}

func TestPendingPaymentIsForwardedAfterRestartExactlyOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	plat := &fakePlatform{}
	r := start(t, path, plat, nil)
	r.toCash()
	r.acc.note(t, 10000)
	plat.set(true, false)
	r.must("Payment.Confirm", nil)
	s := r.until("pending", func(s Snapshot) bool { return s.Screen == ScreenDone })
	if s.Payment.Status != "pending" || s.Payment.Receipt != "printed" || !r.prn.receipts()[0].Pending {
		t.Fatalf("payment %+v", s.Payment)
	}
	r.crash()

	plat.set(false, false)
	r = start(t, path, plat, nil)
	deadline := time.Now().Add(5 * time.Second)
	for plat.count() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if plat.count() != 1 {
		t.Fatalf("platform has %d payments after the restart, want 1", plat.count())
	}
	r.crash()
	r = start(t, path, plat, nil)
	time.Sleep(1500 * time.Millisecond)
	if plat.count() != 1 {
		t.Fatalf("forwarded again: %d", plat.count())
	}
	r.crash()
}

func TestOfflineLimitsReturnNotesOverTheCap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	plat := &fakePlatform{}
	r := start(t, path, plat, func(c *Config) { c.OfflinePerPayment = 6000 })
	r.toCash()
	plat.set(true, false)
	r.term.mu.Lock()
	r.term.online = false // as the platform watcher would find
	r.term.mu.Unlock()
	r.acc.note(t, 5000)
	if d := r.acc.send(cash.Event{Kind: cash.Escrowed, Value: 2000}); d != cash.Return {
		t.Fatal("a note over the offline per-payment limit was stacked")
	}
	if s := r.term.Snapshot(); s.Offline == nil || s.Offline.PerPayment != 6000 || s.Notice.Code != "offlineLimit" {
		t.Fatalf("offline view %+v notice %+v", s.Offline, s.Notice)
	}
	r.crash()
}

func TestVoucherIsForwardedAndRedeemedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	plat := &fakePlatform{}
	plat.set(true, false) // the platform is away when the voucher is issued
	r := start(t, path, plat, func(c *Config) { c.IdleTimeout = 100 * time.Millisecond })
	r.term.mu.Lock()
	r.term.online = true
	r.term.mu.Unlock()
	plat.mu.Lock()
	plat.down = false // lookups work
	plat.mu.Unlock()
	r.toCash()
	r.acc.note(t, 2000)
	v := r.until("voucher", func(s Snapshot) bool { return s.Screen == ScreenVoucher }).Voucher
	r.crash() // before or after forwarding: the journal decides

	r = start(t, path, plat, nil)
	deadline := time.Now().Add(5 * time.Second)
	for plat.voucherCount() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if plat.voucherCount() != 1 {
		t.Fatalf("platform holds %d voucher records, want 1", plat.voucherCount())
	}
	// The next resident's payment uses it.
	r.toCash()
	if err := r.do("Voucher.Redeem", map[string]string{"voucherId": v.ID, "code": "000000"}); err == nil {
		t.Fatal("a wrong code redeemed the voucher")
	}
	payload := "tongban-voucher:" + v.ID + "?c=" + voucherCode(t, r, v.ID)
	r.must("Voucher.Redeem", map[string]string{"payload": payload})
	if s := r.term.Snapshot(); s.Cash.Credit != 2000 || s.Cash.Vouchers != 2000 {
		t.Fatalf("after redeeming: credit %d vouchers %d", s.Cash.Credit, s.Cash.Vouchers)
	}
	if err := r.do("Voucher.Redeem", map[string]string{"payload": payload}); err == nil {
		t.Fatal("one voucher redeemed twice")
	}
	r.acc.note(t, 10000)
	r.crash() // mid-session: the voucher's credit must come back too

	r = start(t, path, plat, nil)
	if s := r.term.Snapshot(); s.Cash == nil || s.Cash.Credit != 12000 || s.Cash.Vouchers != 2000 {
		t.Fatalf("restored cash %+v", s.Cash)
	}
	r.must("Payment.Confirm", nil)
	r.until("paid", func(s Snapshot) bool { return s.Screen == ScreenDone })
	plat.mu.Lock()
	var req uplink.PaymentRequest
	for _, p := range plat.payments {
		req = p
	}
	plat.mu.Unlock()
	if req.Amount != 12000 || len(req.Vouchers) != 1 || req.Vouchers[0].VoucherID != v.ID || req.Notes[0].Value != 10000 {
		t.Fatalf("payment request %+v", req)
	}
	r.crash()
}

// voucherCode reads the code the terminal printed on the voucher.
func voucherCode(t *testing.T, r *rig, id string) string {
	r.term.mu.Lock()
	defer r.term.mu.Unlock()
	v := r.term.vouchers[id]
	if v == nil {
		t.Fatalf("voucher %s unknown", id)
	}
	return v.Code
}

func newOnlineMonitor() *device.Monitor {
	m := device.NewMonitor("printer", "fake", "/dev/null")
	m.Set(device.Online, "")
	return m
}

func TestCoinsAreCreditedJournaledAndCountedInTheCashBox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	coins := newFakeAcceptor()
	r := start(t, path, &fakePlatform{}, func(c *Config) { c.Coins = coins })
	r.toCash()
	coins.send(cash.Event{Kind: cash.Credited, Value: 100, Detail: "10 pulses"})
	coins.send(cash.Event{Kind: cash.Credited, Value: 100, Detail: "10 pulses"})
	r.acc.note(t, 5000)
	if c := r.term.Snapshot().Cash.Credit; c != 5200 {
		t.Fatalf("credit %d, want 5200", c)
	}
	box, err := r.term.CashBox()
	if err != nil || box[100] != 2 || box[5000] != 1 {
		t.Fatalf("cash box %v %v", box, err)
	}
	r.must("Payment.Confirm", nil)
	r.until("paid", func(s Snapshot) bool { return s.Screen == ScreenDone })
	r.must("Session.Finish", nil)
	// A coin that drops with nobody at the screen is not kept: it is a voucher.
	coins.send(cash.Event{Kind: cash.Credited, Value: 100})
	var vouchers int
	for _, rec := range kindsOf(r) {
		if rec.Kind == journal.VoucherIssued && rec.Amount == 100 {
			vouchers++
		}
	}
	if vouchers != 1 {
		t.Fatalf("%d vouchers for the stray coin", vouchers)
	}
	r.crash()
}

func TestNewNoteAfterRestartSettlesTheOldOneOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	plat := &fakePlatform{}
	r := start(t, path, plat, nil)
	r.toCash()
	r.acc.note(t, 1000)
	r.acc.send(cash.Event{Kind: cash.Escrowed, Value: 5000})
	r.crash() // the 50 is ordered stacked, fate unknown

	r = start(t, path, plat, nil)
	// The acceptor says nothing of the old note and takes a new one; its
	// idle report comes late (after the new escrow).
	r.acc.note(t, 2000)
	r.acc.mon.Set(device.Online, "accepting notes")
	r.until("settled", func(s Snapshot) bool { return s.Cash != nil && !s.Cash.InFlight && s.Cash.Credit >= 8000 })
	time.Sleep(50 * time.Millisecond)
	if c := r.term.Snapshot().Cash.Credit; c != 8000 {
		t.Fatalf("credit %d, want 8000 (10 + 50 of unknown fate + 20, each once)", c)
	}
	r.crash()
}

func TestPartlyPaidSessionRestoresOnlyWhatIsLeft(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	plat := &fakePlatform{}
	r := start(t, path, plat, nil)
	r.toCash()
	r.acc.note(t, 5000)
	r.acc.note(t, 1000)
	r.must("Payment.Confirm", nil)
	r.until("paid", func(s Snapshot) bool { return s.Screen == ScreenDone })
	// A note credited to the same session after its payment (a late report).
	r.acc.send(cash.Event{Kind: cash.Credited, Value: 2000})
	r.crash()

	r = start(t, path, plat, nil)
	s := r.term.Snapshot()
	if s.Cash == nil || s.Cash.Credit != 2000 || len(s.Cash.Notes) != 1 || s.Cash.Notes[0] != (NoteCount{Value: 2000, Count: 1}) {
		t.Fatalf("restored cash %+v", s.Cash)
	}
	r.must("Payment.Confirm", nil)
	r.until("paid", func(s Snapshot) bool { return s.Screen == ScreenDone && s.Payment.Status == "acknowledged" })
	r.crash()
}
