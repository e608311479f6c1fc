package main

import (
	"bytes"
	"net/http"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"tongban/drivers/escpos/codec"
	"tongban/kiosk/terminal"
)

// TestWaterBillPaidInCashEndToEnd drives the whole terminal through the
// real WebSocket: account → amount due → two notes → confirm → printed
// receipt with a verification QR → exactly one payment at the platform.
func TestWaterBillPaidInCashEndToEnd(t *testing.T) {
	s := startStack(t)
	c := s.dial()
	c.until("bill validator online", func(sn terminal.Snapshot) bool { return sn.Services.CashAvailable && sn.Services.PrinterReady })

	if code, desc := c.do("Session.Start", map[string]string{"utility": "water"}); code != "success" {
		t.Fatalf("start: %s %s", code, desc)
	}
	if code, _ := c.do("Bill.Lookup", map[string]string{"account": "12"}); code != "invalidData" {
		t.Fatalf("short account: %s, want invalidData", code)
	}
	if code, _ := c.do("Payment.Confirm", nil); code != "sequenceError" {
		t.Fatalf("confirm before any bill: %s, want sequenceError", code)
	}
	if code, desc := c.do("Bill.Lookup", map[string]string{"account": "100100100001"}); code != "success" {
		t.Fatalf("lookup: %s %s", code, desc)
	}
	sn := c.until("bill shown", func(sn terminal.Snapshot) bool { return sn.Screen == terminal.ScreenBill })
	if sn.Bill.AmountDue != 8650 || sn.Bill.Payee != "县自来水公司" {
		t.Fatalf("bill %+v", sn.Bill)
	}
	if code, desc := c.do("Cash.Start", nil); code != "success" {
		t.Fatalf("cash: %s %s", code, desc)
	}
	// The acceptor takes notes once the enable command has reached it.
	c.until("acceptor enabled", func(sn terminal.Snapshot) bool { return sn.Devices["billValidator"].Detail == "accepting notes" })
	bv := s.sim.BillValidator()
	if err := bv.Insert(5000); err != nil {
		t.Fatal(err)
	}
	c.until("first note credited", func(sn terminal.Snapshot) bool { return sn.Cash != nil && sn.Cash.Credit == 5000 })
	if code, _ := c.do("Session.Cancel", nil); code != "sequenceError" {
		t.Fatalf("cancel with cash inside: %s, want sequenceError", code)
	}
	if err := bv.Insert(5000); err != nil {
		t.Fatal(err)
	}
	c.until("second note credited", func(sn terminal.Snapshot) bool { return sn.Cash != nil && sn.Cash.Credit == 10000 && !sn.Cash.InFlight })
	if code, desc := c.do("Payment.Confirm", nil); code != "success" {
		t.Fatalf("confirm: %s %s", code, desc)
	}
	done := c.until("done", func(sn terminal.Snapshot) bool { return sn.Screen == terminal.ScreenDone })
	p := done.Payment
	if p.Status != "acknowledged" || p.Amount != 10000 || p.AppliedToBill != 8650 || p.Prepaid != 1350 || p.Receipt != "printed" {
		t.Fatalf("payment %+v", p)
	}

	// The credit rose note by note on the screen.
	seen := map[int64]bool{}
	for _, h := range c.history() {
		if h.Cash != nil {
			seen[h.Cash.Credit] = true
		}
	}
	if !seen[5000] || !seen[10000] {
		t.Fatalf("credits seen %v, want 50.00 then 100.00", seen)
	}

	// The printed receipt carries the amount and a QR with the verify URL.
	rs := s.sim.Printer().Receipts()
	if len(rs) != 1 {
		t.Fatalf("%d receipts printed, want 1", len(rs))
	}
	raw := rs[0].Raw
	if !bytes.Contains(raw, []byte("100.00")) {
		t.Fatalf("receipt lacks the amount:\n%s", rs[0].Text)
	}
	gb, _ := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte("实缴金额"))
	if !bytes.Contains(raw, gb) {
		t.Fatalf("receipt lacks 实缴金额 in GB18030")
	}
	var qrs []string
	cmds, _ := codec.Parse(raw)
	for _, cmd := range cmds {
		if sym, ok := cmd.(codec.Symbol); ok {
			if q, ok := sym.QRPayload(); ok {
				qrs = append(qrs, q)
			}
		}
	}
	if len(qrs) != 1 || qrs[0] != p.VerifyURL {
		t.Fatalf("receipt QR payloads %q, want [%s]", qrs, p.VerifyURL)
	}
	resp, err := http.Get(qrs[0])
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("verify URL %s: %v %v", qrs[0], err, resp)
	}
	resp.Body.Close()

	// Exactly one payment at the platform, under the journaled key.
	pays, err := s.platform.Payments()
	if err != nil {
		t.Fatal(err)
	}
	if len(pays) != 1 || pays[0].Payment.Amount != 10000 || pays[0].Payment.PaymentID != p.PaymentID {
		t.Fatalf("platform payments %+v", pays)
	}
	if box := bv.CashBox(); box[5000] != 2 {
		t.Fatalf("cash box %v, want two 50-yuan notes", box)
	}

	if code, _ := c.do("Session.Finish", nil); code != "success" {
		t.Fatalf("finish: %s", code)
	}
	home := c.until("home", func(sn terminal.Snapshot) bool { return sn.Screen == terminal.ScreenHome })
	if home.Account != "" || home.Bill != nil || home.Payment != nil {
		t.Fatalf("session not wiped: %+v", home)
	}
}
