package terminal

import (
	"slices"
	"testing"
	"time"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

// A refund whose answer was lost is settled by whoever is at the counter
// next: the retry resends the journaled request unchanged, so the
// platform replays it, and the resident gets the cash. (A new key under
// another staff member's name was refused as "already refunded", and the
// resident got nothing.)
func TestRefundRetriedByAnotherStaffMemberPaysOut(t *testing.T) {
	s := newStaffRig(t)
	v := s.voucher()
	s.signIn("S1001", "246810")
	s.must("Staff.Open", map[string]string{"view": string(ScreenStaffRefund)})
	if err := s.ref.SetFaults(refplatform.Faults{DropAfterCommitRate: 1, Paths: []string{"/v1/vouchers/"}}); err != nil {
		t.Fatal(err)
	}
	s.term.Scanned(v.Payload())
	s.until("voucher ready", func(x Snapshot) bool { return x.Staff.Refund != nil })
	wantCode(t, s.do("Staff.RefundConfirm", nil), "timeOut")
	s.ref.SetFaults(refplatform.Faults{})
	s.must("Staff.SignOut", nil)

	s.signIn("S1002", "135790")
	s.must("Staff.Open", map[string]string{"view": string(ScreenStaffRefund)})
	s.term.Scanned(v.Payload())
	s.until("voucher ready again", func(x Snapshot) bool { return x.Staff.Refund != nil && x.Staff.Refund.Status == "ready" })
	s.must("Staff.RefundConfirm", nil)
	snap := s.term.Snapshot()
	if snap.Staff.Refund == nil || snap.Staff.Refund.Status != "refunded" {
		t.Fatalf("the second staff member was not told to pay out: %+v", snap.Staff)
	}
	if sum := snap.Staff.Shift; sum.Refunds != 1 || sum.RefundTotal != v.Amount {
		t.Fatalf("shift %+v: the payout is not on the paying staff member's shift", sum)
	}
	vs, _ := s.ref.Vouchers()
	if len(vs) != 1 || vs[0].Voucher.Status != uplink.VoucherRefunded {
		t.Fatalf("platform vouchers %+v", vs)
	}
}

// A counter top-up the platform refuses after it went pending: the cash
// never entered the machine (the staff member holds it), so no bearer
// voucher is printed at the terminal for whoever stands there; the
// refusal is journaled and the open shift shows it.
func TestCounterTopUpRefusedLaterIssuesNoVoucher(t *testing.T) {
	s := newStaffRig(t)
	s.signIn("S1001", "246810")
	if err := s.ref.SetFaults(refplatform.Faults{Fail5xxRate: 1, Paths: []string{"/v1/payments"}}); err != nil {
		t.Fatal(err)
	}
	tu := s.topUp([]NoteCount{{Value: 5000, Count: 1}})
	if tu.Status != "pending" {
		t.Fatalf("top-up with the platform failing: %+v", tu)
	}
	// The bill changed at the platform meanwhile: the delivery is refused for good.
	s.term.mu.Lock()
	for k, pp := range s.term.pending {
		pp.Request.BillID = "B-GONE"
		s.term.pending[k] = pp
	}
	s.term.mu.Unlock()
	time.Sleep(300 * time.Millisecond) // a delivery already on its way with the old bill fails first
	s.ref.SetFaults(refplatform.Faults{})
	s.term.nudge()
	s.outboxSettled("the outbox did not settle the counter top-up")
	s.term.mu.Lock()
	nv := len(s.term.vouchers)
	s.term.mu.Unlock()
	if nv != 0 {
		t.Fatalf("%d voucher(s) issued for cash the staff member holds", nv)
	}
	time.Sleep(100 * time.Millisecond)
	if docs := s.prn2.kinds(); slices.Contains(docs, "resident") {
		t.Fatalf("a voucher was printed at the terminal: %v", docs)
	}
	snap := s.term.Snapshot()
	if snap.Staff == nil || snap.Staff.Notice == nil || snap.Staff.Notice.Code != "staffTopUpRefused" {
		t.Fatalf("the signed-in staff member is not told: %+v", snap.Staff)
	}
	if sum := snap.Staff.Shift; sum.TopUps != 1 || sum.TopUpTotal != 0 {
		t.Fatalf("shift on screen %+v: the refused cash is still counted", sum)
	}
	s.must("Staff.SignOut", nil)
	if sh := s.shiftReport(); len(sh.TopUps) != 1 || sh.TopUps[0].Status != "refused" || sh.CashToDeposit != 0 {
		t.Fatalf("shift report %+v", *sh)
	}
}

// While staff mode holds the screen, a scan that is not staff mode's (a
// receipt's tracking QR, a bill barcode, a payment code) does not open a
// resident's session over it.
func TestScansDoNotTakeOverStaffMode(t *testing.T) {
	s := newStaffRig(t)
	s.term.Scanned(s.badge("S1001"))
	s.until("PIN pad", func(x Snapshot) bool { return x.Screen == ScreenStaffPIN })
	codes := []string{s.url + "/track/CHTP2VYD8Q7SHGSC3", "100100100001", "134567890123456789"}
	for _, c := range codes {
		s.term.Scanned(c)
	}
	time.Sleep(100 * time.Millisecond)
	if snap := s.term.Snapshot(); snap.Screen != ScreenStaffPIN || snap.Session != "" {
		t.Fatalf("a scan left the PIN pad for %s (session %q)", snap.Screen, snap.Session)
	}
	s.must("Staff.SignIn", map[string]string{"pin": "246810"})
	s.until("staff menu", func(x Snapshot) bool { return x.Screen == ScreenStaffMenu })
	s.must("Staff.Open", map[string]string{"view": string(ScreenStaffTopUp)})
	for _, c := range codes {
		s.term.Scanned(c)
	}
	time.Sleep(100 * time.Millisecond)
	if snap := s.term.Snapshot(); snap.Screen != ScreenStaffTopUp || snap.Session != "" {
		t.Fatalf("a scan took the staff member's screen: %s (session %q)", snap.Screen, snap.Session)
	}
	s.must("Staff.Touch", nil) // still signed in, still staff mode
}
