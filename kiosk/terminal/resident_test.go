package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/scanner/codec"
	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// personal is what the fake platform's bill says about the resident.
var personal = []string{"100100100001", "县自来水公司", "张*", "SF-100100100001", "86.50", "8650"}

// leftovers lists the personal strings still in v's JSON.
func leftovers(t *testing.T, v any) []string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range personal {
		if strings.Contains(string(b), p) {
			out = append(out, p)
		}
	}
	return out
}

func (r *rig) session() *session {
	r.term.mu.Lock()
	defer r.term.mu.Unlock()
	return r.term.sess
}

// assertWiped checks that nothing of ended session ss is reachable from the
// terminal: no session pointer, the struct itself emptied (goroutines may
// still hold it), and neither the last snapshot nor a new subscriber's
// first one carries the person's data.
func assertWiped(t *testing.T, r *rig, ss *session) {
	t.Helper()
	r.term.mu.Lock()
	defer r.term.mu.Unlock()
	if r.term.sess != nil {
		t.Fatalf("session still open: %+v", r.term.sess)
	}
	if ss.account != "" || ss.bill != nil || ss.utility != "" || ss.notes != nil || ss.pay != nil || ss.notice != nil ||
		ss.resident.lastReceipt != nil || ss.order != nil || ss.voucher != nil || ss.credit != 0 {
		t.Fatalf("ended session still holds data: %+v", *ss)
	}
	if left := leftovers(t, r.term.lastSnap); len(left) > 0 {
		t.Fatalf("last snapshot still holds %v", left)
	}
	if left := leftovers(t, r.term.snapshotLocked()); len(left) > 0 {
		t.Fatalf("a new snapshot holds %v", left)
	}
	if len(r.term.pending) != 0 || len(r.term.orders) != 0 {
		t.Fatalf("forwarding state left: pending %v orders %v", r.term.pending, r.term.orders)
	}
}

func TestIdleAsksForMoreTimeThenEndsAndWipesTheSession(t *testing.T) {
	r := start(t, filepath.Join(t.TempDir(), "j.db"), &fakePlatform{}, func(c *Config) {
		c.IdleTimeout, c.IdleWarning = 900*time.Millisecond, 600*time.Millisecond
	})
	defer r.crash()
	r.must("Session.Start", map[string]string{"utility": "water"})
	r.must("Bill.Lookup", map[string]string{"account": "100100100001"})
	ss := r.session()
	before := time.Now()
	s := r.until("the question", func(s Snapshot) bool { return s.Idle != nil && s.Idle.Warning })
	if waited := time.Since(before); waited < 250*time.Millisecond {
		t.Fatalf("warning came after %v, before its time (300 ms)", waited)
	}
	if left := time.Until(time.UnixMilli(s.Idle.Deadline)); left <= 0 || left > 700*time.Millisecond || s.Idle.Credit {
		t.Fatalf("idle view %+v: %v left", s.Idle, left)
	}
	// "Yes, more time": the question goes and the deadline moves.
	r.must("Session.Extend", nil)
	s2 := r.term.Snapshot()
	if s2.Idle == nil || s2.Idle.Warning || s2.Idle.Deadline <= s.Idle.Deadline || s2.Screen != ScreenBill {
		t.Fatalf("after extend: %+v on %s", s2.Idle, s2.Screen)
	}
	r.until("the question again", func(s Snapshot) bool { return s.Idle != nil && s.Idle.Warning })
	r.until("home after the timeout", func(s Snapshot) bool { return s.Screen == ScreenHome })
	assertWiped(t, r, ss)
	if err := r.do("Session.Extend", nil); err == nil {
		t.Fatal("extend with no session accepted")
	}
}

func TestFinishedPaymentIsWipedWithItsReceipt(t *testing.T) {
	r := start(t, filepath.Join(t.TempDir(), "j.db"), &fakePlatform{}, nil)
	defer r.crash()
	r.toCash()
	ss := r.session()
	r.acc.note(t, 10000)
	r.must("Payment.Confirm", nil)
	r.until("done", func(s Snapshot) bool { return s.Screen == ScreenDone && s.Payment.Receipt == "printed" })
	if s := r.term.Snapshot(); s.Receipt == nil || !s.Receipt.CanReprint {
		t.Fatalf("no reprint offered: %+v", s.Receipt)
	}
	r.must("Session.Finish", nil)
	assertWiped(t, r, ss)
	// A new subscriber (a screen that connects now) sees nothing of it.
	ch, cancel := r.term.Subscribe()
	defer cancel()
	if left := leftovers(t, <-ch); len(left) > 0 {
		t.Fatalf("new subscriber sees %v", left)
	}
}

func TestCancelWipesTheSession(t *testing.T) {
	r := start(t, filepath.Join(t.TempDir(), "j.db"), &fakePlatform{}, nil)
	defer r.crash()
	r.must("Session.Start", map[string]string{"utility": "water"})
	r.must("Bill.Lookup", map[string]string{"account": "100100100001"})
	ss := r.session()
	r.must("Session.Cancel", nil)
	assertWiped(t, r, ss)
}

func TestReprintIsJournaledAndMarkedAsACopy(t *testing.T) {
	r := start(t, filepath.Join(t.TempDir(), "j.db"), &fakePlatform{}, nil)
	defer r.crash()
	if err := r.do("Receipt.Reprint", nil); err == nil {
		t.Fatal("reprint with no session accepted")
	}
	r.toCash()
	r.acc.note(t, 10000)
	r.must("Payment.Confirm", nil)
	r.until("done", func(s Snapshot) bool { return s.Screen == ScreenDone && s.Payment.Receipt == "printed" })
	r.must("Receipt.Reprint", nil)
	s := r.until("copy printed", func(s Snapshot) bool { return s.Receipt != nil && s.Receipt.Reprint == "printed" })
	if s.Receipt.Copies != 1 {
		t.Fatalf("receipt view %+v", s.Receipt)
	}
	rs := r.prn.receipts()
	if len(rs) != 2 || rs[0].Copy || !rs[1].Copy || rs[1].Amount != rs[0].Amount || rs[1].VerifyCode != rs[0].VerifyCode {
		t.Fatalf("printed %+v", rs)
	}
	// Journaled before printing: the reprint record precedes the copy's receipt.printed.
	var order []journal.Kind
	r.j.Scan(1, func(rec journal.Record) error {
		if rec.Kind == journal.ReceiptReprinted || rec.Kind == journal.ReceiptPrinted {
			order = append(order, rec.Kind)
		}
		return nil
	})
	if len(order) != 3 || order[1] != journal.ReceiptReprinted || order[2] != journal.ReceiptPrinted {
		t.Fatalf("journal order %v", order)
	}
	r.must("Receipt.Reprint", nil)
	r.until("second copy", func(s Snapshot) bool { return s.Receipt.Copies == 2 && s.Receipt.Reprint == "printed" })
	r.must("Receipt.Reprint", nil)
	r.until("third copy", func(s Snapshot) bool { return s.Receipt.Copies == 3 && s.Receipt.Reprint == "printed" })
	if err := r.do("Receipt.Reprint", nil); err == nil {
		t.Fatal("a fourth copy was accepted")
	}
	if s := r.term.Snapshot(); s.Receipt.CanReprint {
		t.Fatal("reprint still offered after the cap")
	}
}

func TestPrinterDownIsSaidAndOnScreenReceiptOfferedBeforeAnyMoney(t *testing.T) {
	r := start(t, filepath.Join(t.TempDir(), "j.db"), &fakePlatform{}, nil)
	defer r.crash()
	r.until("printer online", func(s Snapshot) bool { return s.Services.PrinterReady })
	r.prn.mon.Set(device.UserError, "paper end")
	r.until("printer down", func(s Snapshot) bool { return !s.Services.PrinterReady })
	r.must("Session.Start", map[string]string{"utility": "water"})
	r.must("Bill.Lookup", map[string]string{"account": "100100100001"})
	var te *Error
	if err := r.do("Cash.Start", nil); !errors.As(err, &te) || te.Code != "deviceNotReady" {
		t.Fatalf("cash with the printer down: %v", err)
	}
	s := r.term.Snapshot()
	if s.Screen != ScreenBill || s.Notice == nil || s.Notice.Code != "printerDownOffer" || s.Receipt.OnScreen {
		t.Fatalf("screen %s notice %+v receipt %+v", s.Screen, s.Notice, s.Receipt)
	}
	for _, rec := range kindsOf(r) {
		if rec.Kind == journal.SessionOpened {
			t.Fatal("cash intake opened before the resident accepted the on-screen receipt")
		}
	}
	r.must("Receipt.OnScreen", nil)
	r.must("Cash.Start", nil)
	r.acc.note(t, 10000)
	r.must("Payment.Confirm", nil)
	done := r.until("done", func(s Snapshot) bool { return s.Screen == ScreenDone })
	if done.Payment.Status != "acknowledged" || done.Payment.VerifyURL == "" || !done.Receipt.OnScreen || done.Payment.Receipt == "printed" {
		t.Fatalf("done %+v receipt %+v", done.Payment, done.Receipt)
	}
	if n := len(r.prn.receipts()); n != 0 {
		t.Fatalf("%d receipts printed on a printer the resident was told is down", n)
	}
	if r.plat.count() != 1 {
		t.Fatalf("platform has %d payments", r.plat.count())
	}
	// No copy from a printer that is down; the resident is told, not asked to pay.
	if err := r.do("Receipt.Reprint", nil); !errors.As(err, &te) || te.Code != "deviceNotReady" {
		t.Fatalf("reprint with the printer down: %v", err)
	}
}

func TestBillPaidAtAnotherTerminalIsSaidBeforeAnyMoney(t *testing.T) {
	dir := t.TempDir()
	plat, url := newPlatform(t, dir)
	m := startMobile(t, dir, plat, url)
	defer m.crash()
	m.toBill()
	s := m.term.Snapshot()
	if s.Bill.Paid || s.Bill.LastPayment != nil {
		t.Fatalf("fresh bill %+v", s.Bill)
	}
	// Someone pays the whole bill at another terminal meanwhile.
	other := uplink.NewClient(url, "TB-OTHER")
	bill, err := other.Bill(context.Background(), uplink.Water, "100100100001")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Pay(context.Background(), uplink.NewIdempotencyKey(), uplink.PaymentRequest{TerminalID: "TB-OTHER",
		Utility: uplink.Water, Account: "100100100001", BillID: bill.BillID, Amount: bill.AmountDue, Method: uplink.MethodCash,
		Notes:       []uplink.Note{{Value: 5000, Count: 1}, {Value: 2000, Count: 1}, {Value: 1000, Count: 1}, {Value: 500, Count: 1}, {Value: 100, Count: 1}, {Value: 50, Count: 1}},
		JournaledAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	var te *Error
	if err := m.do("Cash.Start", nil); !errors.As(err, &te) || te.Code != "sequenceError" {
		t.Fatalf("cash on a bill paid meanwhile: %v", err)
	}
	s = m.term.Snapshot()
	lp := s.Bill.LastPayment
	if s.Screen != ScreenBill || !s.Bill.Paid || s.Bill.PaidAt == 0 || s.Notice == nil || s.Notice.Code != "billChanged" ||
		lp == nil || !lp.Elsewhere || !lp.Recent || lp.Amount != bill.AmountDue {
		t.Fatalf("screen %s bill %+v last %+v notice %+v", s.Screen, s.Bill, lp, s.Notice)
	}
	for _, rec := range kindsOf(m.rig) {
		if rec.Kind == journal.SessionOpened || rec.Kind == journal.OrderCreated {
			t.Fatalf("money intake started: %s", rec.Kind)
		}
	}
	// Told once, the resident may still top up (it becomes prepaid credit).
	m.must("Cash.Start", nil)
	// A new look-up shows it at once.
	m.must("Session.Cancel", nil)
	m.toBill()
	if s := m.term.Snapshot(); !s.Bill.Paid || s.Bill.LastPayment == nil || !s.Bill.LastPayment.Elsewhere {
		t.Fatalf("looked up again: %+v", s.Bill)
	}
}

func TestScannedBillBarcodeStartsTheSessionAndShowsTheBill(t *testing.T) {
	r := start(t, filepath.Join(t.TempDir(), "j.db"), &fakePlatform{}, nil)
	defer r.crash()
	code, err := codec.BillBarcode("water", "100100100001")
	if err != nil {
		t.Fatal(err)
	}
	r.term.Scanned(code)
	s := r.until("bill", func(s Snapshot) bool { return s.Screen == ScreenBill })
	if s.Utility != "water" || s.Account != "100100100001" || s.Bill.AmountDue != 8650 {
		t.Fatalf("scanned: %s %s %+v", s.Utility, s.Account, s.Bill)
	}
	// Another bill replaces it while nothing is paid...
	gas, _ := codec.BillBarcode("gas", "300300300003")
	r.term.Scanned(gas)
	r.until("gas bill", func(s Snapshot) bool {
		return s.Screen == ScreenBill && s.Utility == "gas" && s.Account == "300300300003"
	})
	// ...but never once cash is in.
	r.must("Cash.Start", nil)
	r.acc.note(t, 1000)
	r.term.Scanned(code)
	s = r.term.Snapshot()
	if s.Screen != ScreenCash || s.Account != "300300300003" || s.Notice == nil || s.Notice.Code != "scanBillBusy" || s.Cash.Credit != 1000 {
		t.Fatalf("scan during cash: screen %s account %s notice %+v", s.Screen, s.Account, s.Notice)
	}
}
