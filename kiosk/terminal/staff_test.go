package terminal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/drivers/scanner/codec"
	"tongban/kiosk/journal"
	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

// staffPrinter keeps every staff document it is given.
type staffPrinter struct {
	mu   sync.Mutex
	docs []StaffDoc
	fail bool
	mon  *device.Monitor
}

func (p *staffPrinter) Print(ctx context.Context, job []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return errors.New("paper end")
	}
	var d StaffDoc
	if err := json.Unmarshal(job, &d); err != nil {
		return err
	}
	p.docs = append(p.docs, d)
	return nil
}
func (p *staffPrinter) Health() device.Health           { return p.mon.Health() }
func (p *staffPrinter) OnHealth(fn func(device.Health)) { p.mon.OnChange(fn) }
func (p *staffPrinter) kinds() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, d := range p.docs {
		out = append(out, d.Kind)
	}
	return out
}

// lockedBuffer collects the daemon's log, to prove a PIN never reaches it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// staffClock is the core's Now, moved by the test.
type staffClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *staffClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *staffClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// staffRig is a terminal against the real reference platform over
// loopback HTTP, with a fake bill validator and a printer of staff
// documents.
type staffRig struct {
	*rig
	dir   string
	ref   *refplatform.Server
	url   string
	prn2  *staffPrinter
	clock *staffClock
	logs  *lockedBuffer
}

func newStaffPlatform(t *testing.T, dir string) (*refplatform.Server, string) {
	t.Helper()
	p, err := refplatform.New(refplatform.Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(func() { srv.Close(); p.Close() })
	return p, srv.URL
}

func startStaff(t *testing.T, dir string, ref *refplatform.Server, url string, clock *staffClock) *staffRig {
	t.Helper()
	j, err := journal.Open(filepath.Join(dir, "journal.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	sr := &staffRig{dir: dir, ref: ref, url: url, clock: clock, logs: logs,
		prn2: &staffPrinter{mon: newOnlineMonitor()}}
	r := &rig{t: t, acc: newFakeAcceptor(), j: j, done: make(chan struct{}), plat: &fakePlatform{}}
	r.prn = &fakePrinter{mon: newOnlineMonitor()}
	term, err := New(Config{TerminalID: "TB-TEST", Journal: j, Platform: uplink.NewClient(url, "TB-TEST"), Cash: r.acc, Printer: sr.prn2,
		Receipt: func(rc Receipt) ([]byte, error) { return json.Marshal(StaffDoc{Kind: "resident", TopUp: &rc}) },
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), SubmitPatience: time.Second,
		Now:   clock.now,
		Staff: StaffConfig{Lockout: 10 * time.Minute, Print: func(d StaffDoc) ([]byte, error) { return json.Marshal(d) }}})
	if err != nil {
		t.Fatal(err)
	}
	r.run(term)
	sr.rig = r
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			r.crash()
		}
	})
	return sr
}

func (s *staffRig) badge(staffID string) string {
	s.t.Helper()
	b, err := s.ref.IssueStaffBadge(staffID)
	if err != nil {
		s.t.Fatal(err)
	}
	return b.QR
}

func (s *staffRig) signIn(staffID, pin string) {
	s.t.Helper()
	s.term.Scanned(s.badge(staffID))
	s.until("PIN pad", func(x Snapshot) bool { return x.Screen == ScreenStaffPIN })
	s.must("Staff.SignIn", map[string]string{"pin": pin})
	s.until("staff menu", func(x Snapshot) bool {
		return x.Screen == ScreenStaffMenu && x.Staff != nil && x.Staff.StaffID == staffID
	})
}

// outboxSettled waits (10 s at most) until the outbox holds nothing
// more to deliver, and fails with msg if it does not get there.
func (s *staffRig) outboxSettled(msg string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.term.mu.Lock()
		n := len(s.term.pending)
		s.term.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shiftReport waits (5 s at most) for a shift report at the platform and
// returns it (the last, if there are several).
func (s *staffRig) shiftReport() *uplink.ShiftReport {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		reps, _ := s.ref.StaffReports()
		var shift *uplink.ShiftReport
		for _, r := range reps {
			if r.Shift != nil {
				shift = r.Shift
			}
		}
		if shift != nil {
			return shift
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no shift report at the platform: %+v", reps)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newStaffRig(t *testing.T) *staffRig {
	dir := t.TempDir()
	ref, url := newStaffPlatform(t, filepath.Join(dir, "platform"))
	return startStaff(t, dir, ref, url, &staffClock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)})
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var te *Error
	if !errors.As(err, &te) || te.Code != code {
		t.Fatalf("got %v, want a %s refusal", err, code)
	}
}

func TestStaffSignInWithTheRightPINAndNoPINAtRest(t *testing.T) {
	s := newStaffRig(t)
	s.signIn("S1001", "246810")
	snap := s.term.Snapshot()
	if snap.Staff.Name != "王芳" || snap.Staff.Shift == nil || snap.Session != "" {
		t.Fatalf("staff view %+v", snap.Staff)
	}
	s.must("Staff.SignOut", nil)
	s.until("home", func(x Snapshot) bool { return x.Screen == ScreenHome && x.Staff == nil })
	s.crash()
	var all bytes.Buffer
	for _, r := range kinds(t, filepath.Join(s.dir, "journal.db")) {
		b, _ := json.Marshal(r)
		all.Write(b)
	}
	if !strings.Contains(all.String(), string(journal.StaffSignedIn)) || !strings.Contains(all.String(), string(journal.StaffSignedOut)) {
		t.Fatalf("sign-in and sign-out not journaled: %s", all.String())
	}
	if strings.Contains(all.String(), "246810") || strings.Contains(s.logs.String(), "246810") {
		t.Fatal("the PIN reached the journal or the log")
	}
}

func TestStaffLockoutAfterFiveWrongPINsAndItsExpiry(t *testing.T) {
	s := newStaffRig(t)
	qr := s.badge("S1002")
	s.term.Scanned(qr)
	for i := 1; i <= 5; i++ {
		wantCode(t, s.do("Staff.SignIn", map[string]string{"pin": "000000"}), "accessDenied")
		if left := s.term.Snapshot().Staff.TriesLeft; i < 5 && left != 5-i {
			t.Fatalf("after %d wrong PINs %d tries left, want %d", i, left, 5-i)
		}
	}
	snap := s.term.Snapshot()
	if snap.Staff.LockedUntil != s.clock.now().Add(10*time.Minute).UnixMilli() || snap.Staff.Notice.Code != "staffLocked" {
		t.Fatalf("after five wrong PINs: %+v", snap.Staff)
	}
	// The right PIN does not open a locked badge, and is not even sent.
	wantCode(t, s.do("Staff.SignIn", map[string]string{"pin": "135790"}), "accessDenied")
	if s.term.Snapshot().Screen != ScreenStaffPIN {
		t.Fatal("a locked badge signed in")
	}
	s.clock.add(9 * time.Minute)
	wantCode(t, s.do("Staff.SignIn", map[string]string{"pin": "135790"}), "accessDenied")
	s.clock.add(61 * time.Second)
	s.must("Staff.SignIn", map[string]string{"pin": "135790"})
	s.until("signed in after the lockout", func(x Snapshot) bool { return x.Screen == ScreenStaffMenu })
}

func TestStaffLockoutSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	ref, url := newStaffPlatform(t, filepath.Join(dir, "platform"))
	clock := &staffClock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	s := startStaff(t, dir, ref, url, clock)
	qr := s.badge("S1001")
	s.term.Scanned(qr)
	for range 3 {
		wantCode(t, s.do("Staff.SignIn", map[string]string{"pin": "111111"}), "accessDenied")
	}
	s.crash()
	// Three wrong before the restart, two after: the count is journaled.
	s = startStaff(t, dir, ref, url, clock)
	s.term.Scanned(qr)
	if left := s.until("PIN pad", func(x Snapshot) bool { return x.Screen == ScreenStaffPIN }).Staff.TriesLeft; left != 2 {
		t.Fatalf("%d tries left after a restart, want 2", left)
	}
	for range 2 {
		wantCode(t, s.do("Staff.SignIn", map[string]string{"pin": "111111"}), "accessDenied")
	}
	s.crash()
	s = startStaff(t, dir, ref, url, clock)
	s.term.Scanned(qr)
	snap := s.until("PIN pad", func(x Snapshot) bool { return x.Screen == ScreenStaffPIN })
	if snap.Staff.LockedUntil == 0 {
		t.Fatal("the lockout did not survive the restart")
	}
	wantCode(t, s.do("Staff.SignIn", map[string]string{"pin": "246810"}), "accessDenied")
	clock.add(10*time.Minute + time.Second)
	s.must("Staff.SignIn", map[string]string{"pin": "246810"})
}

func TestForgedStaffBadgeIsRefused(t *testing.T) {
	s := newStaffRig(t)
	real, err := codec.ParseStaffBadge(s.badge("S1001"))
	if err != nil {
		t.Fatal(err)
	}
	forged := real
	forged.StaffID = "S1002" // S1001's signature on S1002's badge
	other := real
	other.Sig = bytes.Repeat([]byte{7}, 64)
	for _, b := range []codec.StaffBadge{forged, other} {
		s.term.Scanned(codec.StaffBadgeURI(b))
		s.until("PIN pad", func(x Snapshot) bool { return x.Screen == ScreenStaffPIN })
		wantCode(t, s.do("Staff.SignIn", map[string]string{"pin": "135790"}), "accessDenied")
		snap := s.term.Snapshot()
		if snap.Screen != ScreenHome || snap.Staff != nil {
			t.Fatalf("a forged badge left the terminal at %s", snap.Screen)
		}
	}
	// A forged badge counts against nobody's lockout.
	s.term.Scanned(s.badge("S1002"))
	if left := s.until("PIN pad", func(x Snapshot) bool { return x.Screen == ScreenStaffPIN }).Staff.TriesLeft; left != 5 {
		t.Fatalf("%d tries left on the real badge after forged ones, want 5", left)
	}
}

func TestEveryStaffIntentIsRefusedWithoutSignIn(t *testing.T) {
	s := newStaffRig(t)
	payloads := map[string]any{"Staff.SignIn": map[string]string{"pin": "246810"}, "Staff.Open": map[string]string{"view": "staffTopUp"},
		"Staff.TopUpLookup": map[string]string{"utility": "water", "account": "100100100001"},
		"Staff.TopUpPay":    map[string]any{"notes": []NoteCount{{Value: 10000, Count: 1}}},
		"Staff.CashCount":   map[string]any{"counts": []NoteCount{{Value: 10000, Count: 1}}}}
	check := func(where string) {
		for _, name := range StaffCommands {
			if !slices.Contains(Commands, name) {
				t.Errorf("%s is not in Commands", name)
			}
			if err := s.do(name, payloads[name]); err == nil {
				t.Errorf("%s accepted from %s", name, where)
			} else {
				wantCode(t, err, "sequenceError")
			}
		}
	}
	check("home")
	s.must("Session.Start", map[string]string{"utility": "water"})
	check("a resident's account screen")
	s.must("Bill.Lookup", map[string]string{"account": "100100100001"})
	check("a resident's bill")
	if snap := s.term.Snapshot(); snap.Screen != ScreenBill || snap.Staff != nil {
		t.Fatalf("the resident's screen changed: %s", snap.Screen)
	}
	// A badge read during a resident's cash payment is ignored.
	s.must("Cash.Start", nil)
	s.acc.note(t, 1000)
	s.term.Scanned(s.badge("S1001"))
	time.Sleep(50 * time.Millisecond)
	if snap := s.term.Snapshot(); snap.Screen != ScreenCash || snap.Staff != nil {
		t.Fatalf("a staff badge took over a resident's payment: %s", snap.Screen)
	}
	check("a resident's cash screen")
}

func TestStaffSessionEndsWhenIdle(t *testing.T) {
	dir := t.TempDir()
	ref, url := newStaffPlatform(t, filepath.Join(dir, "platform"))
	s := startStaff(t, dir, ref, url, &staffClock{t: time.Now()})
	s.term.mu.Lock()
	s.term.cfg.Staff.IdleTimeout = 300 * time.Millisecond
	s.term.mu.Unlock()
	s.signIn("S1001", "246810")
	s.until("signed out when idle", func(x Snapshot) bool { return x.Screen == ScreenHome && x.Staff == nil })
	deadline := time.Now().Add(5 * time.Second)
	for {
		reps, _ := ref.StaffReports()
		if len(reps) == 1 && reps[0].Shift.EndedBy == "idle" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shift report of an idle sign-out not at the platform: %+v", reps)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *staffRig) topUp(notes []NoteCount) StaffTopUpView {
	s.t.Helper()
	s.must("Staff.Open", map[string]string{"view": string(ScreenStaffTopUp)})
	s.must("Staff.TopUpLookup", map[string]string{"utility": "water", "account": "100100100001"})
	s.must("Staff.TopUpPay", map[string]any{"notes": notes})
	snap := s.until("top-up done", func(x Snapshot) bool {
		return x.Staff != nil && x.Staff.TopUp != nil && (x.Staff.TopUp.Receipt == "printed" || x.Staff.TopUp.Receipt == "failed")
	})
	return *snap.Staff.TopUp
}

func TestCounterTopUpIsForwardedExactlyOnceWithAReceipt(t *testing.T) {
	s := newStaffRig(t)
	s.signIn("S1001", "246810")
	// The platform commits the payment but its reply is lost: the terminal
	// resends under the same key and the platform replays it.
	if err := s.ref.SetFaults(refplatform.Faults{DropAfterCommitRate: 1, Paths: []string{"/v1/payments"}}); err != nil {
		t.Fatal(err)
	}
	s.must("Staff.Open", map[string]string{"view": string(ScreenStaffTopUp)})
	s.must("Staff.TopUpLookup", map[string]string{"utility": "water", "account": "100100100001"})
	s.must("Staff.TopUpPay", map[string]any{"notes": []NoteCount{{Value: 10000, Count: 1}, {Value: 2000, Count: 2}}})
	s.until("pending", func(x Snapshot) bool { return x.Staff.TopUp.Receipt == "printed" })
	if st := s.term.Snapshot().Staff.TopUp.Status; st != "pending" {
		t.Fatalf("status %s while the platform's replies are lost, want pending", st)
	}
	s.ref.SetFaults(refplatform.Faults{})
	s.term.nudge()
	s.outboxSettled("the outbox did not deliver the counter top-up")
	pays, err := s.ref.Payments()
	if err != nil {
		t.Fatal(err)
	}
	if len(pays) != 1 || pays[0].Payment.Amount != 14000 || pays[0].Request.Method != uplink.MethodCash {
		t.Fatalf("platform holds %d payments (%+v), want exactly one of 140 yuan", len(pays), pays)
	}
	docs := s.prn2.kinds()
	if !slices.Contains(docs, "topUp") {
		t.Fatalf("no resident receipt printed: %v", docs)
	}
	// With the printer out, the resident gets the receipt as a QR on screen.
	s.prn2.mu.Lock()
	s.prn2.fail = true
	s.prn2.mu.Unlock()
	tu := s.topUp([]NoteCount{{Value: 5000, Count: 1}})
	if tu.Status != "acknowledged" || tu.Receipt != "failed" || !strings.Contains(tu.VerifyURL, "/verify/") {
		t.Fatalf("top-up with the printer out: %+v", tu)
	}
	if pays, _ := s.ref.Payments(); len(pays) != 2 {
		t.Fatalf("platform holds %d payments, want 2", len(pays))
	}
	if sum := s.term.Snapshot().Staff.Shift; sum.TopUps != 2 || sum.TopUpTotal != 19000 {
		t.Fatalf("shift %+v, want 2 top-ups of 190 yuan", sum)
	}
}

// stack puts a note into the cash box through the validator's events, as
// a resident's payment would.
func (s *staffRig) stack(v int64) {
	s.acc.send(cash.Event{Kind: cash.Stacked, Value: v})
}

func TestCashBoxRemovalCountMismatchIsFlaggedAndSent(t *testing.T) {
	s := newStaffRig(t)
	for _, v := range []int64{10000, 10000, 5000, 1000} {
		s.stack(v)
	}
	s.acc.mon.Set(device.Online, "inhibited")
	s.acc.mon.Set(device.UserError, "stacker open (cash box removed)")
	s.signIn("S1001", "246810")
	s.until("removal noticed", func(x Snapshot) bool { return x.Staff.BoxRemoved })
	if box, _ := s.term.CashBox(); len(box) != 0 {
		t.Fatalf("the journal's counters did not restart at the removal: %v", box)
	}
	s.must("Staff.Open", map[string]string{"view": string(ScreenStaffCashBox)})
	// One 100 short and an unexpected 20.
	s.must("Staff.CashCount", map[string]any{"counts": []NoteCount{{Value: 10000, Count: 1}, {Value: 5000, Count: 1}, {Value: 1000, Count: 1}, {Value: 2000, Count: 1}}})
	snap := s.term.Snapshot()
	res := snap.Staff.CashBox.Result
	if res == nil || !res.Mismatch || res.Difference != -8000 || res.ExpectedTotal != 26000 || res.CountedTotal != 18000 {
		t.Fatalf("count result %+v", res)
	}
	if snap.Staff.Notice == nil || snap.Staff.Notice.Code != "staffBoxMismatch" {
		t.Fatalf("the difference is not flagged on screen: %+v", snap.Staff.Notice)
	}
	if snap.Staff.BoxRemoved {
		t.Fatal("the removal still waits for a count")
	}
	// Counting again without a new removal is refused: nothing is adjusted.
	wantCode(t, s.do("Staff.CashCount", map[string]any{"counts": []NoteCount{{Value: 10000, Count: 2}}}), "sequenceError")
	s.until("report sent", func(x Snapshot) bool { return x.Staff.CashBox.Sent })
	reps, err := s.ref.StaffReports()
	if err != nil || len(reps) != 1 || !reps[0].Flagged || reps[0].CashBox == nil || reps[0].CashBox.Difference != -8000 {
		t.Fatalf("platform reports %+v (%v), want one flagged cash-box report", reps, err)
	}
	s.until("Z report printed", func(x Snapshot) bool { return x.Staff.CashBox.Printed == "printed" })
	// The box goes back in; new notes count from zero.
	s.acc.mon.Set(device.Online, "inhibited")
	s.until("box back", func(Snapshot) bool { s.term.mu.Lock(); defer s.term.mu.Unlock(); return !s.term.staff.boxOut })
	s.stack(2000)
	if box, _ := s.term.CashBox(); len(box) != 1 || box[2000] != 1 {
		t.Fatalf("cash box after the removal: %v", box)
	}
}

// voucher makes the terminal owe a voucher: credit with no session.
func (s *staffRig) voucher() Voucher {
	s.t.Helper()
	s.acc.send(cash.Event{Kind: cash.Credited, Value: 5000})
	var v Voucher
	s.until("voucher issued", func(Snapshot) bool {
		s.term.mu.Lock()
		defer s.term.mu.Unlock()
		for _, x := range s.term.vouchers {
			v = *x
		}
		return v.ID != "" && !s.term.unsent[v.ID]
	})
	return v
}

func TestVoucherRefundAtTheCounterOnceOnly(t *testing.T) {
	s := newStaffRig(t)
	v := s.voucher()
	s.signIn("S1001", "246810")
	s.must("Staff.Open", map[string]string{"view": string(ScreenStaffRefund)})
	wantCode(t, s.do("Staff.RefundConfirm", nil), "sequenceError")
	s.term.Scanned(v.Payload())
	snap := s.until("voucher ready", func(x Snapshot) bool { return x.Staff.Refund != nil })
	if snap.Staff.Refund.Amount != 5000 || snap.Staff.Refund.Status != "ready" {
		t.Fatalf("refund view %+v", snap.Staff.Refund)
	}
	s.must("Staff.RefundConfirm", nil)
	if st := s.term.Snapshot().Staff.Refund.Status; st != "refunded" {
		t.Fatalf("refund status %s", st)
	}
	vs, _ := s.ref.Vouchers()
	if len(vs) != 1 || vs[0].Voucher.Status != uplink.VoucherRefunded || vs[0].Voucher.RefundedBy != "S1001" {
		t.Fatalf("platform vouchers %+v", vs)
	}
	// Scanned again: refused plainly, nothing paid out twice.
	s.term.Scanned(v.Payload())
	snap = s.until("refused", func(x Snapshot) bool { return x.Staff.Notice != nil })
	if snap.Staff.Notice.Code != "voucherUsed" || snap.Staff.Refund != nil {
		t.Fatalf("second scan: %+v", snap.Staff)
	}
	wantCode(t, s.do("Staff.RefundConfirm", nil), "sequenceError")
	if sum := s.term.Snapshot().Staff.Shift; sum.Refunds != 1 || sum.RefundTotal != 5000 {
		t.Fatalf("shift %+v, want one refund of 50 yuan", sum)
	}
	// Nor can a resident redeem it now, even after a restart.
	s.must("Staff.SignOut", nil)
	s.crash()
	s = startStaff(t, s.dir, s.ref, s.url, s.clock)
	s.toCash()
	wantCode(t, s.do("Voucher.Redeem", map[string]string{"payload": v.Payload()}), "invalidData")
	if n := s.term.Snapshot().Notice; n == nil || n.Code != "voucherUsed" {
		t.Fatalf("redeeming a refunded voucher: %+v", n)
	}
}

func TestShiftReportSumsTheShift(t *testing.T) {
	s := newStaffRig(t)
	v := s.voucher()
	s.stack(10000)
	s.signIn("S1002", "135790")
	s.acc.mon.Set(device.UserError, "cash box removed")
	s.topUp([]NoteCount{{Value: 10000, Count: 2}})
	s.must("Staff.Open", map[string]string{"view": string(ScreenStaffRefund)})
	s.term.Scanned(v.Payload())
	s.until("voucher ready", func(x Snapshot) bool { return x.Staff.Refund != nil })
	s.must("Staff.RefundConfirm", nil)
	s.must("Staff.Open", map[string]string{"view": string(ScreenStaffCashBox)})
	s.must("Staff.CashCount", map[string]any{"counts": []NoteCount{{Value: 10000, Count: 1}}})
	s.must("Staff.SignOut", nil)
	shift := s.shiftReport()
	if shift.StaffID != "S1002" || shift.EndedBy != "signOut" || len(shift.TopUps) != 1 || shift.TopUps[0].Status != "acknowledged" ||
		shift.TopUps[0].PaymentID == "" || shift.TopUpTotal != 20000 || len(shift.Refunds) != 1 || shift.Refunds[0].VoucherID != v.ID ||
		shift.RefundTotal != 5000 || len(shift.CashBoxes) != 1 || shift.Differences != 0 || shift.CashToDeposit != 15000 {
		t.Fatalf("shift report %+v", *shift)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(s.prn2.kinds(), "shift") {
		if time.Now().After(deadline) {
			t.Fatalf("shift report not printed: %v", s.prn2.kinds())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, k := range []string{"topUp", "refund", "cashBox"} {
		if !slices.Contains(s.prn2.kinds(), k) {
			t.Errorf("%s not printed: %v", k, s.prn2.kinds())
		}
	}
}

func TestShiftOpenAtACrashEndsWithItsReport(t *testing.T) {
	s := newStaffRig(t)
	s.signIn("S1001", "246810")
	s.topUp([]NoteCount{{Value: 5000, Count: 1}})
	s.crash()
	s = startStaff(t, s.dir, s.ref, s.url, s.clock)
	if snap := s.term.Snapshot(); snap.Staff != nil || snap.Screen != ScreenHome {
		t.Fatalf("a staff session came back after a restart: %s", snap.Screen)
	}
	if sh := s.shiftReport(); sh.EndedBy != "restart" || sh.TopUpTotal != 5000 {
		t.Fatalf("shift report after the restart %+v", *sh)
	}
}

func TestVoucherRefundWhoseAnswerIsLostIsHeldAndReplayed(t *testing.T) {
	s := newStaffRig(t)
	v := s.voucher()
	s.signIn("S1001", "246810")
	s.must("Staff.Open", map[string]string{"view": string(ScreenStaffRefund)})
	// The platform records the refund but the answer never arrives.
	if err := s.ref.SetFaults(refplatform.Faults{DropAfterCommitRate: 1, Paths: []string{"/v1/vouchers/"}}); err != nil {
		t.Fatal(err)
	}
	s.term.Scanned(v.Payload())
	s.until("voucher ready", func(x Snapshot) bool { return x.Staff.Refund != nil })
	wantCode(t, s.do("Staff.RefundConfirm", nil), "timeOut")
	if snap := s.term.Snapshot(); snap.Staff.Refund.Status != "ready" || snap.Staff.Notice.Code != "platformOffline" {
		t.Fatalf("after a lost answer: %+v", snap.Staff)
	}
	// Held: the restart keeps it from being redeemed, and the retry
	// resends the same key, which the platform replays.
	s.crash()
	s.ref.SetFaults(refplatform.Faults{})
	s = startStaff(t, s.dir, s.ref, s.url, s.clock)
	s.toCash()
	wantCode(t, s.do("Voucher.Redeem", map[string]string{"payload": v.Payload()}), "invalidData")
	s.must("Session.Cancel", nil)
	s.signIn("S1001", "246810")
	s.must("Staff.Open", map[string]string{"view": string(ScreenStaffRefund)})
	s.term.Scanned(v.Payload())
	s.until("voucher ready again", func(x Snapshot) bool { return x.Staff.Refund != nil && x.Staff.Refund.Status == "ready" })
	s.must("Staff.RefundConfirm", nil)
	vs, _ := s.ref.Vouchers()
	if len(vs) != 1 || vs[0].Voucher.Status != uplink.VoucherRefunded {
		t.Fatalf("platform vouchers %+v", vs)
	}
	s.term.Scanned(v.Payload())
	if snap := s.until("refused", func(x Snapshot) bool { return x.Staff.Notice != nil }); snap.Staff.Notice.Code != "voucherUsed" {
		t.Fatalf("third scan: %+v", snap.Staff.Notice)
	}
}
