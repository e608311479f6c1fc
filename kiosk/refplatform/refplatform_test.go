package refplatform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

const terminal = "T-TEST-0001"

type env struct {
	t   *testing.T
	dir string
	srv *refplatform.Server
	ts  *httptest.Server
	c   *uplink.Client
}

func newEnv(t *testing.T, opts refplatform.Options) *env {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Rand == nil {
		opts.Rand = rand.NewPCG(1, 2)
	}
	srv, err := refplatform.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(srv.Handler()) // 127.0.0.1
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close()
	})
	return &env{t: t, dir: opts.DataDir, srv: srv, ts: ts, c: uplink.NewClient(ts.URL, terminal)}
}

func (e *env) bill(u uplink.Utility, acct string) uplink.Bill {
	e.t.Helper()
	b, err := e.c.Bill(context.Background(), u, acct)
	if err != nil {
		e.t.Fatalf("Bill %s/%s: %v", u, acct, err)
	}
	return b
}

func (e *env) payments() []refplatform.ReceivedPayment {
	e.t.Helper()
	p, err := e.srv.Payments()
	if err != nil {
		e.t.Fatalf("Payments: %v", err)
	}
	return p
}

// cash builds a valid cash request for amount fen out of 1-yuan coins and
// 100-yuan notes.
func cash(u uplink.Utility, acct, billID string, amount int64) uplink.PaymentRequest {
	var notes []uplink.Note
	if n := amount / 10000; n > 0 {
		notes = append(notes, uplink.Note{Value: 10000, Count: int(n)})
	}
	rest := amount % 10000
	if n := rest / 100; n > 0 {
		notes = append(notes, uplink.Note{Value: 100, Count: int(n)})
	}
	if n := rest % 100 / 10; n > 0 {
		notes = append(notes, uplink.Note{Value: 10, Count: int(n)})
	}
	if n := rest % 10; n > 0 {
		notes = append(notes, uplink.Note{Value: 1, Count: int(n)})
	}
	return uplink.PaymentRequest{
		TerminalID: terminal, Utility: u, Account: acct, BillID: billID, Amount: amount,
		Method: uplink.MethodCash, Notes: notes,
		JournaledAt: time.Date(2026, 11, 27, 8, 30, 0, 0, time.UTC),
	}
}

// rawPay posts a payment without the client, to see status and headers.
func (e *env) rawPay(key string, req uplink.PaymentRequest) (int, http.Header, []byte) {
	e.t.Helper()
	body, _ := json.Marshal(req)
	hr, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/v1/payments", bytes.NewReader(body))
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(uplink.HeaderTerminalID, terminal)
	hr.Header.Set(uplink.HeaderIdempotencyKey, key)
	resp, err := e.ts.Client().Do(hr)
	if err != nil {
		e.t.Fatalf("raw pay: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (e *env) get(path string, hdr map[string]string) (int, []byte) {
	e.t.Helper()
	hr, _ := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
	for k, v := range hdr {
		hr.Header.Set(k, v)
	}
	resp, err := e.ts.Client().Do(hr)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func samePayment(t *testing.T, a, b uplink.Payment) {
	t.Helper()
	if !a.AcceptedAt.Equal(b.AcceptedAt) {
		t.Fatalf("acceptedAt differs: %v vs %v", a.AcceptedAt, b.AcceptedAt)
	}
	a.AcceptedAt, b.AcceptedAt = time.Time{}, time.Time{}
	if a != b {
		t.Fatalf("payments differ:\n%+v\n%+v", a, b)
	}
}

func TestBillEachUtility(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	cases := []struct {
		u                     uplink.Utility
		acct, payee, period   string
		due, arrears, prepaid int64
		paid                  bool
	}{
		{uplink.Water, "100100100001", "县自来水公司", "2026-10", 8650, 0, 0, false},
		{uplink.Water, "100100100002", "县自来水公司", "2026-10", 15620, 7310, 0, false},
		{uplink.Water, "100100100003", "县自来水公司", "2026-10", 0, 0, 0, true},
		{uplink.Electricity, "200200200001", "国网县供电公司", "2026-10", 12830, 0, 0, false},
		{uplink.Electricity, "200200200002", "国网县供电公司", "2026-10", 0, 0, 2345, false},
		{uplink.Gas, "300300300002", "县燃气公司", "2026-10", 21960, 12000, 0, false},
		{uplink.Heating, "400400400001", "县热力公司", "2026-2027", 198000, 0, 0, false},
	}
	for _, c := range cases {
		b := e.bill(c.u, c.acct)
		if b.Utility != c.u || b.Account != c.acct || b.Payee != c.payee || b.Period != c.period {
			t.Errorf("%s/%s: got %+v", c.u, c.acct, b)
		}
		if b.AmountDue != c.due || b.Arrears != c.arrears || b.Prepaid != c.prepaid || (b.PaidAt != nil) != c.paid {
			t.Errorf("%s/%s: amounts %d/%d/%d paid=%v, want %d/%d/%d paid=%v",
				c.u, c.acct, b.AmountDue, b.Arrears, b.Prepaid, b.PaidAt != nil, c.due, c.arrears, c.prepaid, c.paid)
		}
		if b.Currency != "CNY" || b.BillID == "" {
			t.Errorf("%s/%s: currency %q billId %q", c.u, c.acct, b.Currency, b.BillID)
		}
		// Personal data leaves the platform masked only.
		if r := []rune(b.Holder); len(r) != 2 || r[1] != '*' {
			t.Errorf("%s/%s: holder %q not masked", c.u, c.acct, b.Holder)
		}
		if !strings.HasSuffix(b.Address, "****") || strings.ContainsAny(b.Address, "0123456789") {
			t.Errorf("%s/%s: address %q not masked", c.u, c.acct, b.Address)
		}
	}
	if b := e.bill(uplink.Water, "100100100001"); b.Holder != "张*" {
		t.Errorf("holder %q, want 张*", b.Holder)
	}
	// Every utility has several demo accounts.
	var accts []uplink.Bill
	_, body := e.get("/ref/accounts", nil)
	if err := json.Unmarshal(body, &accts); err != nil {
		t.Fatalf("ref accounts: %v", err)
	}
	per := map[uplink.Utility]int{}
	for _, a := range accts {
		per[a.Utility]++
	}
	for _, u := range uplink.Utilities() {
		if per[u] < 3 {
			t.Errorf("%s: %d demo accounts, want ≥ 3", u, per[u])
		}
	}
}

func TestBillErrorsAreFinal(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	_, err := e.c.Bill(context.Background(), uplink.Water, "999999999999")
	if !uplink.IsNotFound(err) || !uplink.IsFinal(err) || uplink.IsRetryable(err) {
		t.Fatalf("unknown account: %v (final=%v retryable=%v)", err, uplink.IsFinal(err), uplink.IsRetryable(err))
	}
	if ue, ok := errors.AsType[*uplink.Error](err); !ok || ue.Code != uplink.CodeAccountNotFound {
		t.Fatalf("unknown account: code %v", err)
	}
	// Malformed requests straight to the server: 400 with the error body.
	hdr := map[string]string{uplink.HeaderTerminalID: terminal}
	for _, p := range []string{"/v1/bills/phone/123456789", "/v1/bills/water/12ab56", "/v1/bills/water/12345"} {
		st, body := e.get(p, hdr)
		var eb uplink.ErrorBody
		if st != 400 || json.Unmarshal(body, &eb) != nil || eb.Error.Code == "" || eb.Error.Retryable {
			t.Errorf("GET %s: %d %s", p, st, body)
		}
	}
	// The client refuses the same before sending, as a final error.
	if _, err := e.c.Bill(context.Background(), "phone", "123456789"); !uplink.IsFinal(err) {
		t.Errorf("client-side bad utility: %v", err)
	}
	// Missing X-Terminal-Id.
	if st, _ := e.get("/v1/bills/water/100100100001", nil); st != 400 {
		t.Errorf("missing terminal id: %d", st)
	}
}

func TestPayReplayAndConflict(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	key := uplink.NewIdempotencyKey()
	req := cash(uplink.Water, "100100100001", "SF202610-100100100001", 10050)

	st, hdr, body := e.rawPay(key, req)
	if st != http.StatusCreated || hdr.Get(uplink.HeaderIdempotentReplayed) != "" {
		t.Fatalf("first pay: %d %s", st, body)
	}
	var first uplink.Payment
	if err := json.Unmarshal(body, &first); err != nil {
		t.Fatal(err)
	}
	if first.IdempotencyKey != key || first.Amount != 10050 || first.AppliedToBill != 8650 || first.PrepaidCredit != 1400 {
		t.Fatalf("first payment: %+v", first)
	}
	if !strings.HasPrefix(first.VerifyURL, e.ts.URL+"/verify/"+first.PaymentID) || len(first.VerifyCode) < 4 {
		t.Fatalf("verify url/code: %q %q", first.VerifyURL, first.VerifyCode)
	}

	// Same key, same body (notes reordered, same instant in another zone).
	again := req
	again.Notes = slices.Clone(req.Notes)
	slices.Reverse(again.Notes)
	again.JournaledAt = req.JournaledAt.In(time.FixedZone("CST", 8*3600))
	st, hdr, body2 := e.rawPay(key, again)
	if st != http.StatusOK || hdr.Get(uplink.HeaderIdempotentReplayed) != "true" {
		t.Fatalf("replay: %d %v %s", st, hdr, body2)
	}
	if !bytes.Equal(body, body2) {
		t.Fatalf("replay body differs:\n%s\n%s", body, body2)
	}
	// And through the client.
	p, err := e.c.Pay(context.Background(), key, req)
	if err != nil {
		t.Fatalf("client replay: %v", err)
	}
	samePayment(t, first, p)

	// Same key, different body: 422, final.
	diff := cash(uplink.Water, "100100100001", "SF202610-100100100001", 9000)
	st, _, body3 := e.rawPay(key, diff)
	if st != http.StatusUnprocessableEntity || !strings.Contains(string(body3), uplink.CodeIdempotencyReused) {
		t.Fatalf("conflict: %d %s", st, body3)
	}
	_, err = e.c.Pay(context.Background(), key, diff)
	if !uplink.IsFinal(err) || uplink.IsRetryable(err) {
		t.Fatalf("client conflict: %v", err)
	}

	if ps := e.payments(); len(ps) != 1 {
		t.Fatalf("%d payments recorded, want 1", len(ps))
	}
	if b := e.bill(uplink.Water, "100100100001"); b.AmountDue != 0 || b.Prepaid != 1400 || b.PaidAt == nil {
		t.Fatalf("bill after pay+replays: %+v", b)
	}

	// Lookups.
	byKey, err := e.c.PaymentByKey(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	samePayment(t, first, byKey)
	byID, err := e.c.PaymentByID(context.Background(), first.PaymentID)
	if err != nil {
		t.Fatal(err)
	}
	samePayment(t, first, byID)
	if _, err := e.c.PaymentByKey(context.Background(), uplink.NewIdempotencyKey()); !uplink.IsNotFound(err) {
		t.Fatalf("unknown key: %v", err)
	}
	// Another terminal cannot see it.
	other := uplink.NewClient(e.ts.URL, "T-OTHER")
	if _, err := other.PaymentByKey(context.Background(), key); !uplink.IsNotFound(err) {
		t.Fatalf("other terminal by key: %v", err)
	}
	if _, err := other.PaymentByID(context.Background(), first.PaymentID); !uplink.IsNotFound(err) {
		t.Fatalf("other terminal by id: %v", err)
	}
}

func TestPayRejections(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	ctx := context.Background()
	cases := []struct {
		name   string
		req    uplink.PaymentRequest
		status int
	}{
		{"unknown account", cash(uplink.Water, "100100109999", "SF202610-100100109999", 100), 404},
		{"bill of another account", cash(uplink.Water, "100100100001", "SF202610-100100100002", 100), 409},
		{"account of another utility", cash(uplink.Gas, "100100100001", "SF202610-100100100001", 100), 404},
	}
	for _, c := range cases {
		_, err := e.c.Pay(ctx, uplink.NewIdempotencyKey(), c.req)
		ue, ok := errors.AsType[*uplink.Error](err)
		if !ok || ue.Status != c.status || !uplink.IsFinal(err) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// Bodies the client would never send: straight to the server.
	bad := cash(uplink.Water, "100100100001", "SF202610-100100100001", 1000)
	bad.Notes[0].Count = 9 // notes no longer add up
	if st, _, body := e.rawPay(uplink.NewIdempotencyKey(), bad); st != 400 {
		t.Errorf("notes mismatch: %d %s", st, body)
	}
	if st, _, body := e.rawPay("not-a-uuid", cash(uplink.Water, "100100100001", "SF202610-100100100001", 1000)); st != 400 {
		t.Errorf("bad key: %d %s", st, body)
	}
	hr, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/v1/payments",
		strings.NewReader(`{"terminalId":"T-TEST-0001","utility":"water","account":"100100100001","billId":"SF202610-100100100001","amout":100,"amount":100,"method":"cash","notes":[{"value":100,"count":1}],"journaledAt":"2026-11-27T08:30:00Z"}`))
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(uplink.HeaderTerminalID, terminal)
	hr.Header.Set(uplink.HeaderIdempotencyKey, uplink.NewIdempotencyKey())
	resp, err := e.ts.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("unknown field: %d", resp.StatusCode)
	}
	if ps := e.payments(); len(ps) != 0 {
		t.Fatalf("rejected requests committed %d payments", len(ps))
	}
}

func TestConcurrentReplaysCommitOnce(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	key := uplink.NewIdempotencyKey()
	req := cash(uplink.Gas, "300300300001", "RQ202610-300300300001", 6400)
	const n = 20
	var wg sync.WaitGroup
	statuses := make([]int, n)
	bodies := make([]uplink.Payment, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			st, _, body := e.rawPay(key, req)
			statuses[i] = st
			_ = json.Unmarshal(body, &bodies[i])
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
			t.Fatalf("request %d: status %d", i, st)
		}
		samePayment(t, bodies[0], bodies[i])
	}
	if created != 1 {
		t.Fatalf("%d requests got 201, want exactly 1", created)
	}
	if ps := e.payments(); len(ps) != 1 {
		t.Fatalf("%d payments, want 1", len(ps))
	}
	if b := e.bill(uplink.Gas, "300300300001"); b.AmountDue != 0 || b.Prepaid != 0 || b.PaidAt == nil {
		t.Fatalf("bill applied more than once: %+v", b)
	}
}

func TestAmountsApplied(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	ctx := context.Background()
	pay := func(u uplink.Utility, acct, billID string, amount int64) uplink.Payment {
		t.Helper()
		p, err := e.c.Pay(ctx, uplink.NewIdempotencyKey(), cash(u, acct, billID, amount))
		if err != nil {
			t.Fatalf("pay %s/%s %d: %v", u, acct, amount, err)
		}
		return p
	}
	// Partial payment: arrears first, bill not yet paid.
	p := pay(uplink.Water, "100100100002", "SF202610-100100100002", 5000)
	if p.AppliedToBill != 5000 || p.PrepaidCredit != 0 {
		t.Fatalf("partial: %+v", p)
	}
	b := e.bill(uplink.Water, "100100100002")
	if b.AmountDue != 10620 || b.Arrears != 2310 || b.PaidAt != nil {
		t.Fatalf("after partial: %+v", b)
	}
	// Overpayment: rest of the bill, the remainder prepaid, bill paid.
	p = pay(uplink.Water, "100100100002", "SF202610-100100100002", 20000)
	if p.AppliedToBill != 10620 || p.PrepaidCredit != 9380 {
		t.Fatalf("overpay: %+v", p)
	}
	b = e.bill(uplink.Water, "100100100002")
	if b.AmountDue != 0 || b.Arrears != 0 || b.Prepaid != 9380 || b.PaidAt == nil {
		t.Fatalf("after overpay: %+v", b)
	}
	// Already paid bill: all prepaid, paidAt unchanged.
	before := e.bill(uplink.Water, "100100100003")
	p = pay(uplink.Water, "100100100003", "SF202610-100100100003", 3000)
	if p.AppliedToBill != 0 || p.PrepaidCredit != 3000 {
		t.Fatalf("paid bill: %+v", p)
	}
	b = e.bill(uplink.Water, "100100100003")
	if b.Prepaid != 3000 || b.PaidAt == nil || !b.PaidAt.Equal(*before.PaidAt) {
		t.Fatalf("paid bill after: %+v", b)
	}
	// Prepaid meter with nothing billed: top-up.
	pay(uplink.Electricity, "200200200002", "DF202610-200200200002", 5000)
	if b = e.bill(uplink.Electricity, "200200200002"); b.Prepaid != 7345 || b.AmountDue != 0 || b.PaidAt != nil {
		t.Fatalf("top-up: %+v", b)
	}
	// Newest last.
	ps := e.payments()
	if len(ps) != 4 || ps[3].Payment.Account != "200200200002" || ps[0].Seq >= ps[3].Seq {
		t.Fatalf("ref payments order: %+v", ps)
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	srv, err := refplatform.New(refplatform.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	c := uplink.NewClient(ts.URL, terminal)
	key := uplink.NewIdempotencyKey()
	req := cash(uplink.Heating, "400400400001", "GN2026-400400400001", 200000)
	first, err := c.Pay(context.Background(), key, req)
	if err != nil {
		t.Fatal(err)
	}
	ts.Close()
	if err := srv.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}

	e := newEnv(t, refplatform.Options{DataDir: dir})
	b := e.bill(uplink.Heating, "400400400001")
	if b.AmountDue != 0 || b.Prepaid != 2000 || b.PaidAt == nil {
		t.Fatalf("bill after restart (re-seeded or lost?): %+v", b)
	}
	c2 := uplink.NewClient(e.ts.URL, terminal)
	got, err := c2.PaymentByKey(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	samePayment(t, first, got)
	// A retry after the restart is a replay, not a second payment.
	st, hdr, _ := e.rawPay(key, req)
	if st != 200 || hdr.Get(uplink.HeaderIdempotentReplayed) != "true" {
		t.Fatalf("replay after restart: %d", st)
	}
	if ps := e.payments(); len(ps) != 1 {
		t.Fatalf("%d payments after restart, want 1", len(ps))
	}
	if b := e.bill(uplink.Heating, "400400400001"); b.Prepaid != 2000 {
		t.Fatalf("replay after restart applied again: %+v", b)
	}
}

func TestFault5xxRetryable(t *testing.T) {
	e := newEnv(t, refplatform.Options{Faults: refplatform.Faults{Fail5xxRate: 1}})
	ctx := context.Background()
	_, err := e.c.Bill(ctx, uplink.Water, "100100100001")
	ue, ok := errors.AsType[*uplink.Error](err)
	if !ok || ue.Status < 500 || !uplink.IsRetryable(err) || uplink.IsFinal(err) {
		t.Fatalf("bill under 5xx: %v", err)
	}
	key := uplink.NewIdempotencyKey()
	req := cash(uplink.Water, "100100100001", "SF202610-100100100001", 8650)
	seen := map[int]bool{}
	for range 12 {
		_, err := e.c.Pay(ctx, key, req)
		ue, ok := errors.AsType[*uplink.Error](err)
		if !ok || !uplink.IsRetryable(err) {
			t.Fatalf("pay under 5xx: %v", err)
		}
		seen[ue.Status] = true
	}
	if len(seen) < 2 {
		t.Errorf("5xx statuses seen: %v, want a mix", seen)
	}
	if ps := e.payments(); len(ps) != 0 {
		t.Fatalf("a 5xx committed %d payments", len(ps))
	}
	if err := e.c.Health(ctx); !uplink.IsRetryable(err) {
		t.Fatalf("health under 5xx: %v", err)
	}
	// Faults off: the same key goes through once.
	if err := e.srv.SetFaults(refplatform.Faults{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Pay(ctx, key, req); err != nil {
		t.Fatalf("pay after faults off: %v", err)
	}
	if err := e.c.Health(ctx); err != nil {
		t.Fatalf("health: %v", err)
	}
}

func TestFaultTimeoutRetryable(t *testing.T) {
	e := newEnv(t, refplatform.Options{Faults: refplatform.Faults{TimeoutRate: 1}})
	hc := uplink.NewHTTPClient()
	hc.Timeout = 300 * time.Millisecond
	c := &uplink.Client{BaseURL: e.ts.URL, TerminalID: terminal, HTTP: hc}
	key := uplink.NewIdempotencyKey()
	req := cash(uplink.Water, "100100100001", "SF202610-100100100001", 8650)

	t0 := time.Now()
	_, err := c.Pay(context.Background(), key, req)
	if !uplink.IsRetryable(err) || uplink.IsFinal(err) {
		t.Fatalf("client timeout: %v", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	// A deadline on the caller's context is retryable as well...
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = e.c.Pay(ctx, key, req)
	if !errors.Is(err, context.DeadlineExceeded) || !uplink.IsRetryable(err) {
		t.Fatalf("caller deadline: %v", err)
	}
	// ...but a cancel by the caller is neither retryable nor final.
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel2)
	_, err = e.c.Pay(ctx2, key, req)
	if !errors.Is(err, context.Canceled) || uplink.IsRetryable(err) || uplink.IsFinal(err) {
		t.Fatalf("caller cancel: %v (retryable=%v final=%v)", err, uplink.IsRetryable(err), uplink.IsFinal(err))
	}
	if ps := e.payments(); len(ps) != 0 {
		t.Fatalf("a timed-out request committed %d payments", len(ps))
	}
	if err := e.srv.SetFaults(refplatform.Faults{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pay(context.Background(), key, req); err != nil {
		t.Fatalf("retry: %v", err)
	}
	// Held requests ended when their clients gave up (Close waits for them).
	t0 = time.Now()
	e.ts.Close()
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("held requests outlived their clients by %v", d)
	}
}

func TestFaultDropAfterCommit(t *testing.T) {
	e := newEnv(t, refplatform.Options{Faults: refplatform.Faults{DropAfterCommitRate: 1, Paths: []string{"/v1/payments"}}})
	ctx := context.Background()
	// Bills are outside the path filter.
	bill := e.bill(uplink.Electricity, "200200200001")
	key := uplink.NewIdempotencyKey()
	req := cash(uplink.Electricity, "200200200001", bill.BillID, 13000)

	_, err := e.c.Pay(ctx, key, req)
	if err == nil || !uplink.IsRetryable(err) || uplink.IsFinal(err) {
		t.Fatalf("drop after commit: %v (retryable=%v)", err, uplink.IsRetryable(err))
	}
	ps := e.payments()
	if len(ps) != 1 {
		t.Fatalf("drop after commit: %d payments committed, want 1", len(ps))
	}
	committed := ps[0].Payment

	if err := e.srv.SetFaults(refplatform.Faults{}); err != nil {
		t.Fatal(err)
	}
	got, err := e.c.Pay(ctx, key, req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	samePayment(t, committed, got)
	if ps := e.payments(); len(ps) != 1 {
		t.Fatalf("%d payments after retry, want 1", len(ps))
	}
	if b := e.bill(uplink.Electricity, "200200200001"); b.AmountDue != 0 || b.Prepaid != 170 {
		t.Fatalf("bill after drop+retry: %+v", b)
	}
}

func TestFaultDuplicateDelivery(t *testing.T) {
	e := newEnv(t, refplatform.Options{Faults: refplatform.Faults{DuplicateReplyRate: 1}})
	key := uplink.NewIdempotencyKey()
	req := cash(uplink.Gas, "300300300003", "RQ202610-300300300003", 4580)
	st, hdr, _ := e.rawPay(key, req)
	if st != 200 || hdr.Get(uplink.HeaderIdempotentReplayed) != "true" {
		t.Fatalf("duplicate delivery: %d, want the replay's 200", st)
	}
	if _, err := e.c.Pay(context.Background(), key, req); err != nil {
		t.Fatalf("client under duplicate delivery: %v", err)
	}
	if ps := e.payments(); len(ps) != 1 {
		t.Fatalf("%d payments, want 1", len(ps))
	}
	if b := e.bill(uplink.Gas, "300300300003"); b.AmountDue != 0 || b.Prepaid != 0 {
		t.Fatalf("applied twice: %+v", b)
	}
}

func TestFaultsOverHTTPAndPathFilter(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	post := func(body string) int {
		resp, err := e.ts.Client().Post(e.ts.URL+"/ref/faults", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post(`{"fail5xxRate":1.5}`); st != 400 {
		t.Fatalf("bad rate: %d", st)
	}
	if st := post(`{"fail5xxRat":1}`); st != 400 {
		t.Fatalf("unknown field: %d", st)
	}
	if st := post(`{"fail5xxRate":1,"latencyMs":20,"paths":["/v1/payments"]}`); st != 200 {
		t.Fatalf("set faults: %d", st)
	}
	if f := e.srv.Faults(); f.Fail5xxRate != 1 || f.LatencyMs != 20 {
		t.Fatalf("faults not applied: %+v", f)
	}
	ctx := context.Background()
	if _, err := e.c.Bill(ctx, uplink.Water, "100100100001"); err != nil {
		t.Fatalf("bills are outside the filter: %v", err)
	}
	if _, err := e.c.PaymentByKey(ctx, uplink.NewIdempotencyKey()); !uplink.IsRetryable(err) {
		t.Fatalf("payments are inside the filter: %v", err)
	}
	// Operator endpoints never fail.
	if st, _ := e.get("/ref/payments", nil); st != 200 {
		t.Fatalf("/ref/payments under faults: %d", st)
	}
	if st := post(`{}`); st != 200 {
		t.Fatal("reset")
	}
	if _, err := e.c.PaymentByKey(ctx, uplink.NewIdempotencyKey()); !uplink.IsNotFound(err) {
		t.Fatalf("after reset: %v", err)
	}
}

func TestFaultsReproducible(t *testing.T) {
	run := func() []bool {
		e := newEnv(t, refplatform.Options{Rand: rand.NewPCG(42, 7), Faults: refplatform.Faults{Fail5xxRate: 0.5}})
		var out []bool
		for range 24 {
			out = append(out, e.c.Health(context.Background()) == nil)
		}
		return out
	}
	a, b := run(), run()
	ok, fail := 0, 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("run differs at %d: %v vs %v", i, a, b)
		}
		if a[i] {
			ok++
		} else {
			fail++
		}
	}
	if ok == 0 || fail == 0 {
		t.Fatalf("rate 0.5 gave %d ok / %d failed", ok, fail)
	}
}

func TestVerifyPage(t *testing.T) {
	e := newEnv(t, refplatform.Options{
		Now: func() time.Time { return time.Date(2026, 11, 27, 2, 5, 9, 0, time.UTC) },
	})
	p, err := e.c.Pay(context.Background(), uplink.NewIdempotencyKey(), cash(uplink.Water, "100100100001", "SF202610-100100100001", 8650))
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(url string) (int, string, http.Header) {
		resp, err := e.ts.Client().Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	st, page, hdr := fetch(p.VerifyURL) // carries ?c=<code>
	if st != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("verify page: %d %s", st, hdr.Get("Content-Type"))
	}
	for _, want := range []string{"86.50 元", "1001****0001", "2026-11-27 10:05:09", "县自来水公司", "水费", p.PaymentID, `data-match="true"`, "核验码一致"} {
		if !strings.Contains(page, want) {
			t.Errorf("verify page lacks %q", want)
		}
	}
	for _, bad := range []string{"100100100001", "<script", "src=", "href=", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("verify page contains %q", bad)
		}
	}
	base := e.ts.URL + "/verify/" + p.PaymentID
	if _, page, _ := fetch(base + "?c=" + strings.ToLower(p.VerifyCode)); !strings.Contains(page, `data-match="true"`) {
		t.Errorf("lower-case code not accepted")
	}
	if st, page, _ := fetch(base + "?c=WRONG1"); st != 200 || !strings.Contains(page, `data-match="false"`) || !strings.Contains(page, "核验码不一致") {
		t.Errorf("wrong code not flagged: %d", st)
	}
	if _, page, _ := fetch(base); strings.Contains(page, "data-match") || !strings.Contains(page, "86.50 元") {
		t.Errorf("page without code")
	}
	if st, page, _ := fetch(e.ts.URL + "/verify/P20261127NOSUCHPAY"); st != 404 || !strings.Contains(page, "未找到") {
		t.Errorf("unknown payment: %d", st)
	}
	if st, page, _ := fetch(e.ts.URL + "/verify/%3Cb%3Ex"); st != 404 || strings.Contains(page, "<b>x") {
		t.Errorf("id not escaped: %d", st)
	}
}

func TestListenAndServe(t *testing.T) {
	srv, err := refplatform.New(refplatform.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:0", "[::]:0"} {
		if err := srv.ListenAndServe(context.Background(), addr, nil); err == nil {
			t.Errorf("listened on non-loopback %s", addr)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx, "127.0.0.1:0", func(a string) { addrc <- a }) }()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("ListenAndServe: %v", err)
	}
	c := uplink.NewClient("http://"+addr, terminal)
	if err := c.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	p, err := c.Pay(context.Background(), uplink.NewIdempotencyKey(), cash(uplink.Gas, "300300300002", "RQ202610-300300300002", 21960))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.VerifyURL, "http://"+addr+"/verify/") {
		t.Errorf("verifyUrl %q not derived from %s", p.VerifyURL, addr)
	}
	// A request held by a timeout fault must not keep shutdown waiting.
	if err := srv.SetFaults(refplatform.Faults{TimeoutRate: 1}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Health(context.Background()) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ListenAndServe returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not return after cancel")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	if _, err := refplatform.New(refplatform.Options{}); err == nil {
		t.Error("no DataDir accepted")
	}
	if _, err := refplatform.New(refplatform.Options{DataDir: t.TempDir(), Faults: refplatform.Faults{TimeoutRate: -1}}); err == nil {
		t.Error("negative rate accepted")
	}
	// A second server on the same store fails instead of hanging (bbolt lock + Timeout).
	dir := t.TempDir()
	s1, err := refplatform.New(refplatform.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	if s2, err := refplatform.New(refplatform.Options{DataDir: dir}); err == nil {
		s2.Close()
		t.Error("two servers opened one store")
	}
}
