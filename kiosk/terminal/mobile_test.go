package terminal

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tongban/kiosk/journal"
	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

// mobileRig is a terminal against the real reference platform (the acquirer).
type mobileRig struct {
	*rig
	plat *refplatform.Server
	url  string
}

func startMobile(t *testing.T, dir string, plat *refplatform.Server, url string) *mobileRig {
	t.Helper()
	client := uplink.NewClient(url, "TB-TEST")
	j, err := journal.Open(filepath.Join(dir, "journal.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, acc: newFakeAcceptor(), j: j, done: make(chan struct{}), plat: &fakePlatform{}}
	r.prn = &fakePrinter{mon: newOnlineMonitor()}
	term, err := New(Config{TerminalID: "TB-TEST", Journal: j, Platform: client, Cash: r.acc, Printer: r.prn,
		Receipt: func(rc Receipt) ([]byte, error) { return json.Marshal(rc) }, Logger: slog.New(slog.DiscardHandler),
		OrderQueryInterval: 40 * time.Millisecond, OrderUnpaidTimeout: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r.run(term)
	return &mobileRig{rig: r, plat: plat, url: url}
}

func newPlatform(t *testing.T, dir string) (*refplatform.Server, string) {
	t.Helper()
	p, err := refplatform.New(refplatform.Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler), PaymentCodeDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(func() { srv.Close(); p.Close() })
	return p, srv.URL
}

func (m *mobileRig) toBill() {
	m.must("Session.Start", map[string]string{"utility": "water"})
	m.must("Bill.Lookup", map[string]string{"account": "100100100001"})
}

func (m *mobileRig) orderEnds(id string) string {
	var end string
	m.j.Scan(1, func(r journal.Record) error {
		if r.Kind == journal.OrderFinished && r.Ref == id {
			end = r.Detail
		}
		return nil
	})
	return end
}

func TestDynamicQRPaidOnThePhone(t *testing.T) {
	dir := t.TempDir()
	plat, url := newPlatform(t, dir)
	m := startMobile(t, dir, plat, url)
	m.toBill()
	m.must("Mobile.Start", nil)
	s := m.until("QR shown", func(s Snapshot) bool { return s.Order != nil && s.Order.QRPayload != "" })
	if !strings.Contains(s.Order.QRPayload, "/pay/"+s.Order.OrderID) || s.Order.Amount != 8650 {
		t.Fatalf("order %+v", s.Order)
	}
	// The resident's phone pays (the reference platform's pay page).
	resp, err := http.Post(url+"/ref/orders/"+s.Order.OrderID+"/pay", "application/json", strings.NewReader("{}"))
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("pay: %v %v", err, resp)
	}
	resp.Body.Close()
	done := m.until("done", func(s Snapshot) bool { return s.Screen == ScreenDone })
	if done.Payment.Status != "acknowledged" || done.Payment.VerifyURL == "" || done.Payment.Receipt != "printed" {
		t.Fatalf("payment %+v", done.Payment)
	}
	if rs := m.prn.receipts(); len(rs) != 1 || rs[0].Method != "mobile" || rs[0].Amount != 8650 {
		t.Fatalf("receipt %+v", rs)
	}
	if end := m.orderEnds(s.Order.OrderID); end != "paid" {
		t.Fatalf("journal says the order ended %q", end)
	}
	ps, _ := plat.Payments()
	if len(ps) != 1 {
		t.Fatalf("platform booked %d payments", len(ps))
	}
	m.crash()
}

func TestUnpaidOrderIsReversedAfterTheTimeout(t *testing.T) {
	dir := t.TempDir()
	plat, url := newPlatform(t, dir)
	m := startMobile(t, dir, plat, url)
	m.toBill()
	m.must("Mobile.Start", nil)
	s := m.until("QR shown", func(s Snapshot) bool { return s.Order != nil && s.Order.Status == "pending" })
	back := m.until("back at the bill", func(s Snapshot) bool { return s.Screen == ScreenBill })
	if back.Notice == nil || back.Notice.Code != "mobileNotPaid" {
		t.Fatalf("notice %+v", back.Notice)
	}
	if end := m.orderEnds(s.Order.OrderID); end != "reversed" {
		t.Fatalf("order ended %q, want reversed", end)
	}
	if ps, _ := plat.Payments(); len(ps) != 0 {
		t.Fatalf("an unpaid order booked %d payments", len(ps))
	}
	m.crash()
}

func TestScannedPaymentCodeSettlesOnce(t *testing.T) {
	dir := t.TempDir()
	plat, url := newPlatform(t, dir)
	m := startMobile(t, dir, plat, url)
	m.toBill()
	m.term.Scanned("134512345678901230") // WeChat: paid after the wallet's delay
	done := m.until("done", func(s Snapshot) bool { return s.Screen == ScreenDone })
	if done.Payment.Amount != 8650 {
		t.Fatalf("payment %+v", done.Payment)
	}
	// The code is never at rest in the journal.
	m.j.Scan(1, func(r journal.Record) error {
		if strings.Contains(string(r.Data), "134512345678901230") {
			t.Fatalf("payment code journaled in %s", r.Kind)
		}
		return nil
	})
	m.crash()
	// Insufficient funds closes the order, charging nothing.
	m = startMobile(t, dir, plat, url)
	m.must("Session.Start", map[string]string{"utility": "water"})
	m.must("Bill.Lookup", map[string]string{"account": "100100100002"})
	m.term.Scanned("134512345678901234")
	back := m.until("back at the bill", func(s Snapshot) bool { return s.Screen == ScreenBill && s.Notice != nil })
	if back.Notice.Code != "mobileNotPaid" {
		t.Fatalf("notice %+v", back.Notice)
	}
	if ps, _ := plat.Payments(); len(ps) != 1 {
		t.Fatalf("platform holds %d payments, want 1", len(ps))
	}
	m.crash()
}

func TestOrderOpenAtCrashEndsAfterRestart(t *testing.T) {
	dir := t.TempDir()
	plat, url := newPlatform(t, dir)
	m := startMobile(t, dir, plat, url)
	m.toBill()
	m.must("Mobile.Start", nil)
	s := m.until("created", func(s Snapshot) bool { return s.Order != nil && s.Order.Status == "pending" })
	m.crash()
	m = startMobile(t, dir, plat, url)
	deadline := time.Now().Add(5 * time.Second)
	for m.orderEnds(s.Order.OrderID) == "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if end := m.orderEnds(s.Order.OrderID); end != "reversed" {
		t.Fatalf("recovered order ended %q, want reversed", end)
	}
	m.crash()
}
