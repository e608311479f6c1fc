package refplatform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

// clock is a settable Options.Now for tests that need time to pass.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 27, 8, 30, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// post sends body as JSON with the terminal header (term, default the test
// terminal) and, if key is not empty, an Idempotency-Key.
func (e *env) post(path, key string, body any, term ...string) (int, http.Header, []byte) {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	hr, _ := http.NewRequest(http.MethodPost, e.ts.URL+path, bytes.NewReader(b))
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(uplink.HeaderTerminalID, append(term, terminal)[0])
	if key != "" {
		hr.Header.Set(uplink.HeaderIdempotencyKey, key)
	}
	resp, err := e.ts.Client().Do(hr)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

func (e *env) vouchers() []refplatform.ReceivedVoucher {
	e.t.Helper()
	v, err := e.srv.Vouchers()
	if err != nil {
		e.t.Fatalf("Vouchers: %v", err)
	}
	return v
}

func errCode(err error) string {
	if ue, ok := errors.AsType[*uplink.Error](err); ok {
		return ue.Code
	}
	return ""
}

// wantFinal fails unless err is a final *uplink.Error with this status and code.
func wantFinal(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	ue, ok := errors.AsType[*uplink.Error](err)
	if !ok || ue.Status != status || ue.Code != code || !uplink.IsFinal(err) || uplink.IsRetryable(err) {
		t.Fatalf("%s: %v, want final %d %s", what, err, status, code)
	}
}

func voucherReq(id, code string, amount int64) uplink.VoucherRequest {
	return uplink.VoucherRequest{
		TerminalID: terminal, VoucherID: id, Code: code, Amount: amount, Reason: uplink.VoucherReasonTimeout,
		Session: "S-0001", Utility: uplink.Water, Account: "100100100001",
		IssuedAt: time.Date(2026, 11, 27, 8, 20, 0, 0, time.UTC),
	}
}

// withVouchers turns a cash request into one that also redeems vouchers.
func withVouchers(req uplink.PaymentRequest, uses ...uplink.VoucherUse) uplink.PaymentRequest {
	for _, u := range uses {
		req.Vouchers = append(req.Vouchers, u)
		req.Amount += u.Amount
	}
	return req
}

func TestVoucherIssueReplayAndConflict(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	ctx := context.Background()
	key := uplink.NewIdempotencyKey()
	req := voucherReq("VAAAAAAAAAAA1", "482913", 5000)

	st, hdr, body := e.post("/v1/vouchers", key, req)
	if st != http.StatusCreated || hdr.Get(uplink.HeaderIdempotentReplayed) != "" {
		t.Fatalf("issue: %d %s", st, body)
	}
	var v uplink.Voucher
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if v.Status != uplink.VoucherIssued || v.Amount != 5000 || v.TerminalID != terminal || !v.IssuedAt.Equal(req.IssuedAt) {
		t.Fatalf("voucher: %+v", v)
	}
	if bytes.Contains(body, []byte("482913")) {
		t.Fatal("the platform returned the voucher code")
	}
	// Replay: same instant in another zone.
	again := req
	again.IssuedAt = req.IssuedAt.In(time.FixedZone("CST", 8*3600))
	st, hdr, body2 := e.post("/v1/vouchers", key, again)
	if st != http.StatusOK || hdr.Get(uplink.HeaderIdempotentReplayed) != "true" || !bytes.Equal(body, body2) {
		t.Fatalf("replay: %d %v\n%s\n%s", st, hdr, body, body2)
	}
	if got, err := e.c.IssueVoucher(ctx, key, req); err != nil || got.VoucherID != v.VoucherID {
		t.Fatalf("client replay: %+v %v", got, err)
	}
	// Same key, other body: 422. Same voucher, other key: 409.
	diff := req
	diff.Amount = 4000
	_, err := e.c.IssueVoucher(ctx, key, diff)
	wantFinal(t, "key reused", err, 422, uplink.CodeIdempotencyReused)
	_, err = e.c.IssueVoucher(ctx, uplink.NewIdempotencyKey(), req)
	wantFinal(t, "voucher under a second key", err, 409, uplink.CodeVoucherConflict)
	// A key names one call: not a payment as well, and a payment's key not a voucher.
	_, err = e.c.Pay(ctx, key, cash(uplink.Water, "100100100001", "SF202610-100100100001", 100))
	wantFinal(t, "voucher key as payment key", err, 422, uplink.CodeIdempotencyReused)
	payKey := uplink.NewIdempotencyKey()
	if _, err := e.c.Pay(ctx, payKey, cash(uplink.Water, "100100100001", "SF202610-100100100001", 100)); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.IssueVoucher(ctx, payKey, voucherReq("VAAAAAAAAAAA2", "111111", 100))
	wantFinal(t, "payment key as voucher key", err, 422, uplink.CodeIdempotencyReused)

	// Look-ups: own only.
	if got, err := e.c.Voucher(ctx, v.VoucherID); err != nil || got != v {
		t.Fatalf("GET voucher: %+v %v", got, err)
	}
	other := uplink.NewClient(e.ts.URL, "T-OTHER")
	_, err = other.Voucher(ctx, v.VoucherID)
	wantFinal(t, "other terminal's voucher", err, 404, uplink.CodeVoucherNotFound)
	_, err = e.c.Voucher(ctx, "VZZZZZZZZZZZZ")
	wantFinal(t, "unknown voucher", err, 404, uplink.CodeVoucherNotFound)
	if st, _ := e.get("/v1/vouchers/v-bad", map[string]string{uplink.HeaderTerminalID: terminal}); st != 400 {
		t.Fatalf("bad voucher id: %d", st)
	}
	// A voucher issued by another terminal under the same id is a conflict.
	foreign := req
	foreign.TerminalID = "T-OTHER"
	_, err = other.IssueVoucher(ctx, uplink.NewIdempotencyKey(), foreign)
	wantFinal(t, "same id from another terminal", err, 409, uplink.CodeVoucherConflict)

	// Malformed bodies straight to the server.
	for name, b := range map[string]any{
		"no code":       map[string]any{"terminalId": terminal, "voucherId": "VAAAAAAAAAAA3", "amount": 1, "reason": "timeout", "session": "", "issuedAt": "2026-11-27T08:20:00Z"},
		"unknown field": map[string]any{"terminalId": terminal, "voucherId": "VAAAAAAAAAAA3", "code": "123456", "amount": 1, "amout": 1, "reason": "timeout", "session": "", "issuedAt": "2026-11-27T08:20:00Z"},
		"other terminal in body": func() uplink.VoucherRequest {
			r := voucherReq("VAAAAAAAAAAA3", "123456", 1)
			r.TerminalID = "T-OTHER"
			return r
		}(),
	} {
		if st, _, body := e.post("/v1/vouchers", uplink.NewIdempotencyKey(), b); st != 400 {
			t.Errorf("%s: %d %s", name, st, body)
		}
	}
	if st, _, _ := e.post("/v1/vouchers", "", req); st != 400 {
		t.Errorf("no key: %d", st)
	}
	if vs := e.vouchers(); len(vs) != 1 || vs[0].Request == nil || vs[0].Request.Code != "482913" || vs[0].RedeemedBeforeIssue {
		t.Fatalf("ref vouchers: %+v", vs)
	}
	var listed []refplatform.ReceivedVoucher
	if st, body := e.get("/ref/vouchers", nil); st != 200 || json.Unmarshal(body, &listed) != nil || len(listed) != 1 {
		t.Fatalf("GET /ref/vouchers: %d %s", st, body)
	}
}

func TestVoucherConcurrentReplaysIssueOnce(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	key := uplink.NewIdempotencyKey()
	req := voucherReq("VAAAAAAAAAAC1", "777777", 1234)
	const n = 20
	statuses := make([]int, n)
	bodies := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			st, _, b := e.post("/v1/vouchers", key, req)
			statuses[i], bodies[i] = st, string(b)
		})
	}
	close(start)
	wg.Wait()
	created := 0
	for i, st := range statuses {
		switch st {
		case 201:
			created++
		case 200:
		default:
			t.Fatalf("request %d: %d %s", i, st, bodies[i])
		}
		if bodies[i] != bodies[0] {
			t.Fatalf("replies differ:\n%s\n%s", bodies[0], bodies[i])
		}
	}
	if created != 1 || len(e.vouchers()) != 1 {
		t.Fatalf("%d created, %d vouchers; want 1 and 1", created, len(e.vouchers()))
	}
}

func TestVoucherRedeemedOnce(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	ctx := context.Background()
	if _, err := e.c.IssueVoucher(ctx, uplink.NewIdempotencyKey(), voucherReq("VAAAAAAAAAAR1", "135790", 5000)); err != nil {
		t.Fatal(err)
	}
	use := uplink.VoucherUse{VoucherID: "VAAAAAAAAAAR1", Code: "135790", Amount: 5000}
	// 36.50 in cash + the 50.00 voucher pays the 86.50 bill.
	key := uplink.NewIdempotencyKey()
	req := withVouchers(cash(uplink.Water, "100100100001", "SF202610-100100100001", 3650), use)
	p, err := e.c.Pay(ctx, key, req)
	if err != nil {
		t.Fatalf("pay with voucher: %v", err)
	}
	if p.Amount != 8650 || p.AppliedToBill != 8650 {
		t.Fatalf("payment: %+v", p)
	}
	v, err := e.c.Voucher(ctx, use.VoucherID)
	if err != nil || v.Status != uplink.VoucherRedeemed || v.RedeemedBy != p.PaymentID || v.RedeemedAt == nil {
		t.Fatalf("voucher after payment: %+v %v", v, err)
	}
	// The same payment again is a replay, not a second redemption.
	again, err := e.c.Pay(ctx, key, req)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	samePayment(t, p, again)

	// A second payment with the voucher: final, and nothing of it commits.
	before := e.bill(uplink.Gas, "300300300001")
	second := withVouchers(cash(uplink.Gas, "300300300001", "RQ202610-300300300001", 1400), use)
	_, err = e.c.Pay(ctx, uplink.NewIdempotencyKey(), second)
	wantFinal(t, "second redemption", err, 409, uplink.CodeVoucherUnavailable)
	if after := e.bill(uplink.Gas, "300300300001"); after.AmountDue != before.AmountDue || len(e.payments()) != 1 {
		t.Fatalf("refused payment committed: %+v, %d payments", after, len(e.payments()))
	}
	// Nor can staff refund it now.
	_, err = e.c.RefundVoucher(ctx, uplink.NewIdempotencyKey(), use.VoucherID, uplink.VoucherRefundRequest{StaffID: "staff-1", Code: use.Code})
	wantFinal(t, "refund of a redeemed voucher", err, 409, uplink.CodeVoucherUnavailable)

	// Wrong code or amount, another terminal's voucher, voucher-only payments.
	if _, err := e.c.IssueVoucher(ctx, uplink.NewIdempotencyKey(), voucherReq("VAAAAAAAAAAR2", "246802", 6400)); err != nil {
		t.Fatal(err)
	}
	only := func(u uplink.VoucherUse) uplink.PaymentRequest {
		r := cash(uplink.Gas, "300300300001", "RQ202610-300300300001", 0)
		r.Method, r.Notes = uplink.MethodVoucher, nil
		return withVouchers(r, u)
	}
	_, err = e.c.Pay(ctx, uplink.NewIdempotencyKey(), only(uplink.VoucherUse{VoucherID: "VAAAAAAAAAAR2", Code: "246800", Amount: 6400}))
	wantFinal(t, "wrong code", err, 422, uplink.CodeVoucherMismatch)
	_, err = e.c.Pay(ctx, uplink.NewIdempotencyKey(), only(uplink.VoucherUse{VoucherID: "VAAAAAAAAAAR2", Code: "246802", Amount: 6500}))
	wantFinal(t, "wrong amount", err, 422, uplink.CodeVoucherMismatch)
	other := uplink.NewClient(e.ts.URL, "T-OTHER")
	foreign := only(uplink.VoucherUse{VoucherID: "VAAAAAAAAAAR2", Code: "246802", Amount: 6400})
	foreign.TerminalID = "T-OTHER"
	_, err = other.Pay(ctx, uplink.NewIdempotencyKey(), foreign)
	wantFinal(t, "another terminal's voucher", err, 409, uplink.CodeVoucherUnavailable)
	// A payment with one good and one spent voucher redeems neither.
	both := withVouchers(only(uplink.VoucherUse{VoucherID: "VAAAAAAAAAAR2", Code: "246802", Amount: 6400}), use)
	_, err = e.c.Pay(ctx, uplink.NewIdempotencyKey(), both)
	wantFinal(t, "one spent voucher", err, 409, uplink.CodeVoucherUnavailable)
	if v, _ := e.c.Voucher(ctx, "VAAAAAAAAAAR2"); v.Status != uplink.VoucherIssued {
		t.Fatalf("good voucher of a refused payment: %+v", v)
	}
	p2, err := e.c.Pay(ctx, uplink.NewIdempotencyKey(), only(uplink.VoucherUse{VoucherID: "VAAAAAAAAAAR2", Code: "246802", Amount: 6400}))
	if err != nil || p2.AppliedToBill != 6400 {
		t.Fatalf("voucher-only payment: %+v %v", p2, err)
	}
	if b := e.bill(uplink.Gas, "300300300001"); b.AmountDue != 0 || b.PaidAt == nil {
		t.Fatalf("bill after voucher payment: %+v", b)
	}
	ps := e.payments()
	if last := ps[len(ps)-1]; last.Request.Method != uplink.MethodVoucher || len(last.Request.Vouchers) != 1 {
		t.Fatalf("ref payment of a voucher payment: %+v", last.Request)
	}
}

func TestVoucherConcurrentRedemptionsOnlyOneWins(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	ctx := context.Background()
	if _, err := e.c.IssueVoucher(ctx, uplink.NewIdempotencyKey(), voucherReq("VAAAAAAAAAAX1", "999111", 1000)); err != nil {
		t.Fatal(err)
	}
	use := uplink.VoucherUse{VoucherID: "VAAAAAAAAAAX1", Code: "999111", Amount: 1000}
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			req := withVouchers(cash(uplink.Heating, "400400400003", "GN2026-400400400003", 100), use)
			_, errs[i] = e.c.Pay(ctx, uplink.NewIdempotencyKey(), req)
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errCode(err) != uplink.CodeVoucherUnavailable || !uplink.IsFinal(err):
			t.Fatalf("payment %d: %v", i, err)
		}
	}
	if ok != 1 || len(e.payments()) != 1 {
		t.Fatalf("%d payments succeeded, %d recorded; want 1", ok, len(e.payments()))
	}
	if b := e.bill(uplink.Heating, "400400400003"); b.AmountDue != 158400-1100 {
		t.Fatalf("bill: %+v", b)
	}
}

func TestVoucherRedeemedBeforeIssue(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	ctx := context.Background()
	use := uplink.VoucherUse{VoucherID: "VAAAAAAAAAAO1", Code: "ABC123", Amount: 2000}
	// The terminal was offline: the payment arrives before the voucher.
	p, err := e.c.Pay(ctx, uplink.NewIdempotencyKey(), withVouchers(cash(uplink.Water, "100100100002", "SF202610-100100100002", 1000), use))
	if err != nil {
		t.Fatalf("offline redemption: %v", err)
	}
	v, err := e.c.Voucher(ctx, use.VoucherID)
	if err != nil || v.Status != uplink.VoucherRedeemed || v.RedeemedBy != p.PaymentID || v.Amount != 2000 {
		t.Fatalf("voucher created by the payment: %+v %v", v, err)
	}
	if vs := e.vouchers(); len(vs) != 1 || !vs[0].RedeemedBeforeIssue || vs[0].Request != nil {
		t.Fatalf("ref voucher before issue: %+v", vs)
	}
	// A second payment with it is refused.
	_, err = e.c.Pay(ctx, uplink.NewIdempotencyKey(), withVouchers(cash(uplink.Water, "100100100002", "SF202610-100100100002", 100), use))
	wantFinal(t, "second redemption before issue", err, 409, uplink.CodeVoucherUnavailable)
	// The issue that disagrees (code) is a conflict; the true one succeeds.
	req := voucherReq(use.VoucherID, use.Code, use.Amount)
	wrong := req
	wrong.Code = "ABC124"
	_, err = e.c.IssueVoucher(ctx, uplink.NewIdempotencyKey(), wrong)
	wantFinal(t, "issue with another code", err, 409, uplink.CodeVoucherConflict)
	key := uplink.NewIdempotencyKey()
	st, hdr, body := e.post("/v1/vouchers", key, req)
	var issued uplink.Voucher
	if st != 201 || hdr.Get(uplink.HeaderIdempotentReplayed) != "" || json.Unmarshal(body, &issued) != nil {
		t.Fatalf("late issue: %d %s", st, body)
	}
	if issued.Status != uplink.VoucherRedeemed || issued.RedeemedBy != p.PaymentID || !issued.IssuedAt.Equal(req.IssuedAt) {
		t.Fatalf("late issue reply: %+v", issued)
	}
	got, err := e.c.IssueVoucher(ctx, key, req)
	if err != nil || got.Status != uplink.VoucherRedeemed {
		t.Fatalf("late issue replay: %+v %v", got, err)
	}
	_, err = e.c.IssueVoucher(ctx, uplink.NewIdempotencyKey(), req)
	wantFinal(t, "late issue under a second key", err, 409, uplink.CodeVoucherConflict)
	if vs := e.vouchers(); len(vs) != 1 || !vs[0].RedeemedBeforeIssue || vs[0].Request == nil || vs[0].Voucher.Status != uplink.VoucherRedeemed {
		t.Fatalf("ref voucher after issue: %+v", vs)
	}
	_, err = e.c.RefundVoucher(ctx, uplink.NewIdempotencyKey(), use.VoucherID, uplink.VoucherRefundRequest{StaffID: "staff-1", Code: use.Code})
	wantFinal(t, "refund of an offline-redeemed voucher", err, 409, uplink.CodeVoucherUnavailable)
}

func TestVoucherRefund(t *testing.T) {
	clk := newClock()
	e := newEnv(t, refplatform.Options{Now: clk.Now})
	ctx := context.Background()
	id := "VAAAAAAAAAAF1"
	_, err := e.c.RefundVoucher(ctx, uplink.NewIdempotencyKey(), id, uplink.VoucherRefundRequest{StaffID: "staff-1", Code: "123456"})
	wantFinal(t, "refund before issue", err, 404, uplink.CodeVoucherNotFound)
	if _, err := e.c.IssueVoucher(ctx, uplink.NewIdempotencyKey(), voucherReq(id, "123456", 3000)); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.RefundVoucher(ctx, uplink.NewIdempotencyKey(), id, uplink.VoucherRefundRequest{StaffID: "staff-1", Code: "654321"})
	wantFinal(t, "wrong code", err, 422, uplink.CodeVoucherMismatch)
	other := uplink.NewClient(e.ts.URL, "T-OTHER")
	_, err = other.RefundVoucher(ctx, uplink.NewIdempotencyKey(), id, uplink.VoucherRefundRequest{StaffID: "staff-1", Code: "123456"})
	wantFinal(t, "refund by another terminal", err, 404, uplink.CodeVoucherNotFound)

	clk.Add(time.Hour)
	key := uplink.NewIdempotencyKey()
	refund := uplink.VoucherRefundRequest{StaffID: "staff-1", Code: "123456"}
	v, err := e.c.RefundVoucher(ctx, key, id, refund)
	if err != nil || v.Status != uplink.VoucherRefunded || v.RefundedBy != "staff-1" || !v.RefundedAt.Equal(clk.Now()) {
		t.Fatalf("refund: %+v %v", v, err)
	}
	refund.TerminalID = terminal
	st, hdr, body := e.post("/v1/vouchers/"+id+"/refund", key, refund)
	if st != 200 || hdr.Get(uplink.HeaderIdempotentReplayed) != "true" {
		t.Fatalf("refund replay: %d %s", st, body)
	}
	_, err = e.c.RefundVoucher(ctx, key, id, uplink.VoucherRefundRequest{StaffID: "staff-2", Code: "123456"})
	wantFinal(t, "refund key reused", err, 422, uplink.CodeIdempotencyReused)
	_, err = e.c.RefundVoucher(ctx, uplink.NewIdempotencyKey(), id, uplink.VoucherRefundRequest{StaffID: "staff-2", Code: "123456"})
	wantFinal(t, "second refund", err, 409, uplink.CodeVoucherUnavailable)
	_, err = e.c.Pay(ctx, uplink.NewIdempotencyKey(), withVouchers(cash(uplink.Water, "100100100001", "SF202610-100100100001", 100),
		uplink.VoucherUse{VoucherID: id, Code: "123456", Amount: 3000}))
	wantFinal(t, "redeem a refunded voucher", err, 409, uplink.CodeVoucherUnavailable)
	// The refund key is bound to this voucher.
	if _, err := e.c.IssueVoucher(ctx, uplink.NewIdempotencyKey(), voucherReq("VAAAAAAAAAAF2", "123456", 3000)); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.RefundVoucher(ctx, key, "VAAAAAAAAAAF2", uplink.VoucherRefundRequest{StaffID: "staff-1", Code: "123456"})
	wantFinal(t, "refund key on another voucher", err, 422, uplink.CodeIdempotencyReused)
}
