package refplatform_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

// Test payment codes (README.md): the last digit picks the simulated wallet's answer.
const (
	codeWeChatPays     = "134512345678901230"
	codeAlipayPays     = "284512345678901230"
	codeUnionPayPays   = "6212345678901234560"
	codeWeChatDeclines = "134512345678901234" // insufficient funds
	codeAlipayConfirm  = "284512345678901237" // must confirm on the phone
)

func orderReq(id string, kind uplink.OrderKind, code string) uplink.OrderRequest {
	return uplink.OrderRequest{
		TerminalID: terminal, OrderID: id, Utility: uplink.Water, Account: "100100100001",
		BillID: "SF202610-100100100001", Amount: 8650, Kind: kind, PaymentCode: code,
	}
}

func (e *env) order(id string) uplink.Order {
	e.t.Helper()
	o, err := e.c.Order(context.Background(), id)
	if err != nil {
		e.t.Fatalf("Order %s: %v", id, err)
	}
	return o
}

func (e *env) refPay(id string, body string) (int, uplink.Order) {
	e.t.Helper()
	resp, err := e.ts.Client().Post(e.ts.URL+"/ref/orders/"+id+"/pay", "application/json", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var o uplink.Order
	_ = json.NewDecoder(resp.Body).Decode(&o)
	return resp.StatusCode, o
}

func (e *env) refOrders() []refplatform.ReceivedOrder {
	e.t.Helper()
	var out []refplatform.ReceivedOrder
	st, body := e.get("/ref/orders", nil)
	if st != 200 || json.Unmarshal(body, &out) != nil {
		e.t.Fatalf("GET /ref/orders: %d %s", st, body)
	}
	return out
}

func TestOrderPaidByPaymentCode(t *testing.T) {
	clk := newClock()
	e := newEnv(t, refplatform.Options{Now: clk.Now})
	ctx := context.Background()
	created := clk.Now()
	key := uplink.NewIdempotencyKey()
	req := orderReq("O-CODE-1", uplink.OrderPaymentCode, codeWeChatPays)
	o, err := e.c.CreateOrder(ctx, key, req)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != uplink.OrderPending || o.Wallet != uplink.WalletWeChat || o.QRPayload != "" || !o.CreatedAt.Equal(created) {
		t.Fatalf("new order: %+v", o)
	}
	clk.Add(1900 * time.Millisecond)
	if o = e.order("O-CODE-1"); o.Status != uplink.OrderPending {
		t.Fatalf("paid before the delay: %+v", o)
	}
	clk.Add(3 * time.Second) // the terminal's next query, 5 s in
	o = e.order("O-CODE-1")
	if o.Status != uplink.OrderPaid || o.PaymentID == "" || !o.PaidAt.Equal(created.Add(2*time.Second)) {
		t.Fatalf("order after the delay: %+v", o)
	}
	// The bill payment was booked like POST /v1/payments.
	p, err := e.c.PaymentByID(ctx, o.PaymentID)
	if err != nil || p.Amount != 8650 || p.AppliedToBill != 8650 || !p.AcceptedAt.Equal(*o.PaidAt) {
		t.Fatalf("booked payment: %+v %v", p, err)
	}
	if b := e.bill(uplink.Water, "100100100001"); b.AmountDue != 0 || b.PaidAt == nil {
		t.Fatalf("bill: %+v", b)
	}
	ps := e.payments()
	if len(ps) != 1 || ps[0].OrderID != "O-CODE-1" || ps[0].Request.Method != uplink.MethodMobile {
		t.Fatalf("ref payments: %+v", ps)
	}
	// Replaying the creation answers with the order as it is now.
	if again, err := e.c.CreateOrder(ctx, key, req); err != nil || again.Status != uplink.OrderPaid || again.PaymentID != o.PaymentID {
		t.Fatalf("create replay: %+v %v", again, err)
	}
	// Queries never book twice.
	for range 3 {
		clk.Add(5 * time.Second)
		e.order("O-CODE-1")
	}
	if len(e.payments()) != 1 {
		t.Fatal("queries booked more payments")
	}
	// Every wallet's test code pays; the listing masks the codes.
	for i, code := range []string{codeAlipayPays, codeUnionPayPays} {
		id := "O-CODE-W" + string(rune('0'+i))
		r := orderReq(id, uplink.OrderPaymentCode, code)
		r.Utility, r.Account, r.BillID, r.Amount = uplink.Gas, "300300300001", "RQ202610-300300300001", 100
		if _, err := e.c.CreateOrder(ctx, uplink.NewIdempotencyKey(), r); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(2 * time.Second)
	for _, ro := range e.refOrders() {
		if ro.Order.Status != uplink.OrderPaid {
			t.Errorf("ref order %s: %s", ro.Order.OrderID, ro.Order.Status)
		}
		if c := ro.Request.PaymentCode; !strings.Contains(c, "*") || strings.Contains(c, "12345678") {
			t.Errorf("payment code not masked: %q", c)
		}
	}
	if got := e.order("O-CODE-W1").Wallet; got != uplink.WalletUnionPay {
		t.Errorf("UnionPay order wallet %q", got)
	}
}

func TestOrderPaidOnThePayPage(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	ctx := context.Background()
	o, err := e.c.CreateOrder(ctx, uplink.NewIdempotencyKey(), orderReq("O-QR-1", uplink.OrderDynamicQR, ""))
	if err != nil {
		t.Fatal(err)
	}
	if o.QRPayload != e.ts.URL+"/pay/O-QR-1" || o.Wallet != "" || o.Status != uplink.OrderPending {
		t.Fatalf("QR order: %+v", o)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := func() (int, string, http.Header) {
		resp, err := noRedirect.Get(o.QRPayload)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	st, html, hdr := page()
	if st != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("pay page: %d %v", st, hdr)
	}
	for _, want := range []string{"86.50 元", "1001****0001", "县自来水公司", "水费", `data-status="pending"`, `value="wechat"`, `value="alipay"`, `value="unionpay"`, `method="post"`} {
		if !strings.Contains(html, want) {
			t.Errorf("pay page lacks %q", want)
		}
	}
	for _, bad := range []string{"100100100001", "<script", "src=", "href=", "http://", "https://", "<link"} {
		if strings.Contains(html, bad) {
			t.Errorf("pay page contains %q", bad)
		}
	}
	press := func(wallet string) int {
		resp, err := noRedirect.PostForm(o.QRPayload, url.Values{"wallet": {wallet}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := press("paypal"); st != 400 {
		t.Fatalf("unknown wallet: %d", st)
	}
	if st := press("alipay"); st != http.StatusSeeOther {
		t.Fatalf("pay button: %d", st)
	}
	paid := e.order("O-QR-1")
	if paid.Status != uplink.OrderPaid || paid.Wallet != uplink.WalletAlipay || paid.PaymentID == "" {
		t.Fatalf("after the pay button: %+v", paid)
	}
	if _, html, _ := page(); !strings.Contains(html, `data-status="paid"`) || strings.Contains(html, `value="wechat"`) || !strings.Contains(html, "支付宝") {
		t.Errorf("page after paying:\n%s", html)
	}
	// Pressing again (a reload, a double tap) pays nothing more.
	press("wechat")
	if again := e.order("O-QR-1"); again.PaymentID != paid.PaymentID || again.Wallet != uplink.WalletAlipay || len(e.payments()) != 1 {
		t.Fatalf("second press: %+v, %d payments", again, len(e.payments()))
	}
	if st, html := e.get("/pay/O-NOPE", nil); st != 404 || !strings.Contains(html2s(html), "未找到") {
		t.Errorf("unknown order page: %d", st)
	}
	if st, html := e.get("/pay/%3Cb%3Ex", nil); st != 404 || strings.Contains(html2s(html), "<b>x") {
		t.Errorf("order id not escaped: %d", st)
	}
	// The page does not pay a paymentCode order (the wallet answers for it).
	if _, err := e.c.CreateOrder(ctx, uplink.NewIdempotencyKey(), orderReq("O-QR-2", uplink.OrderPaymentCode, codeAlipayConfirm)); err != nil {
		t.Fatal(err)
	}
	if resp, err := noRedirect.PostForm(e.ts.URL+"/pay/O-QR-2", url.Values{"wallet": {"alipay"}}); err == nil {
		resp.Body.Close()
	}
	if o := e.order("O-QR-2"); o.Status != uplink.OrderPending {
		t.Fatalf("pay page paid a paymentCode order: %+v", o)
	}
}

func html2s(b []byte) string { return string(b) }

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestOrderInsufficientFundsCloses(t *testing.T) {
	clk := newClock()
	e := newEnv(t, refplatform.Options{Now: clk.Now})
	ctx := context.Background()
	before := e.bill(uplink.Water, "100100100001")
	if _, err := e.c.CreateOrder(ctx, uplink.NewIdempotencyKey(), orderReq("O-POOR", uplink.OrderPaymentCode, codeWeChatDeclines)); err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Second)
	o := e.order("O-POOR")
	if o.Status != uplink.OrderClosed || o.Reason != "insufficient_funds" || o.PaymentID != "" || !o.ClosedAt.Equal(o.CreatedAt.Add(2*time.Second)) {
		t.Fatalf("declined order: %+v", o)
	}
	if b := e.bill(uplink.Water, "100100100001"); b.AmountDue != before.AmountDue || len(e.payments()) != 0 {
		t.Fatalf("declined order booked something: %+v", b)
	}
	// Ending an ended order changes nothing.
	for _, end := range []func(context.Context, string, string, uplink.OrderActionRequest) (uplink.Order, error){e.c.ReverseOrder, e.c.CloseOrder} {
		got, err := end(ctx, uplink.NewIdempotencyKey(), "O-POOR", uplink.OrderActionRequest{Reason: "unpaid_timeout"})
		if err != nil || got.Status != uplink.OrderClosed || got.Reason != "insufficient_funds" {
			t.Fatalf("end a closed order: %+v %v", got, err)
		}
	}
	if st, _ := e.refPay("O-POOR", ""); st != 409 {
		t.Fatalf("paying a closed order: %d", st)
	}
}

func TestOrderConfirmOnPhoneAndExpiry(t *testing.T) {
	clk := newClock()
	e := newEnv(t, refplatform.Options{Now: clk.Now, OrderExpiry: time.Minute})
	ctx := context.Background()
	for _, id := range []string{"O-CONF-1", "O-CONF-2", "O-QR-X"} {
		kind, code := uplink.OrderPaymentCode, codeAlipayConfirm
		if id == "O-QR-X" {
			kind, code = uplink.OrderDynamicQR, ""
		}
		if _, err := e.c.CreateOrder(ctx, uplink.NewIdempotencyKey(), orderReq(id, kind, code)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(20 * time.Second)
	if o := e.order("O-CONF-1"); o.Status != uplink.OrderPending {
		t.Fatalf("confirm-on-phone order after 20 s: %+v", o)
	}
	st, o := e.refPay("O-CONF-1", `{"wallet":"wechat"}`)
	if st != 200 || o.Status != uplink.OrderPaid || o.Wallet != uplink.WalletAlipay || !o.PaidAt.Equal(clk.Now()) {
		t.Fatalf("resident confirmed: %d %+v", st, o)
	}
	if st, again := e.refPay("O-CONF-1", ""); st != 200 || again.PaymentID != o.PaymentID {
		t.Fatalf("second confirmation: %d %+v", st, again)
	}
	if st, _ := e.refPay("O-CONF-1", `{"wallet":"cash"}`); st != 400 {
		t.Fatalf("bad wallet: %d", st)
	}
	if st, _ := e.refPay("O-NOPE", ""); st != 404 {
		t.Fatalf("unknown order: %d", st)
	}
	clk.Add(time.Minute)
	for _, id := range []string{"O-CONF-2", "O-QR-X"} {
		o := e.order(id)
		if o.Status != uplink.OrderClosed || o.Reason != "expired" || !o.ClosedAt.Equal(o.CreatedAt.Add(time.Minute)) {
			t.Fatalf("%s after expiry: %+v", id, o)
		}
	}
	if o := e.order("O-CONF-1"); o.Status != uplink.OrderPaid {
		t.Fatalf("expiry touched a paid order: %+v", o)
	}
	if len(e.payments()) != 1 {
		t.Fatalf("%d payments, want 1", len(e.payments()))
	}
}

func TestOrderReversePending(t *testing.T) {
	clk := newClock()
	e := newEnv(t, refplatform.Options{Now: clk.Now})
	ctx := context.Background()
	if _, err := e.c.CreateOrder(ctx, uplink.NewIdempotencyKey(), orderReq("O-REV-1", uplink.OrderDynamicQR, "")); err != nil {
		t.Fatal(err)
	}
	clk.Add(uplink.OrderUnpaidTimeout)
	key := uplink.NewIdempotencyKey()
	o, err := e.c.ReverseOrder(ctx, key, "O-REV-1", uplink.OrderActionRequest{Reason: "unpaid_timeout"})
	if err != nil || o.Status != uplink.OrderReversed || o.PaymentID != "" || o.Refunded() || o.Reason != "unpaid_timeout" {
		t.Fatalf("reverse pending: %+v %v", o, err)
	}
	st, hdr, _ := e.post("/v1/orders/O-REV-1/reverse", key, uplink.OrderActionRequest{TerminalID: terminal, Reason: "unpaid_timeout"})
	if st != 200 || hdr.Get(uplink.HeaderIdempotentReplayed) != "true" {
		t.Fatalf("reverse replay: %d", st)
	}
	_, err = e.c.ReverseOrder(ctx, key, "O-REV-1", uplink.OrderActionRequest{Reason: "cancelled"})
	wantFinal(t, "reverse key with other body", err, 422, uplink.CodeIdempotencyReused)
	_, err = e.c.CloseOrder(ctx, key, "O-REV-1", uplink.OrderActionRequest{Reason: "unpaid_timeout"})
	wantFinal(t, "reverse key used to close", err, 422, uplink.CodeIdempotencyReused)
	// The resident scanning now pays nothing.
	if st, _ := e.refPay("O-REV-1", ""); st != 409 {
		t.Fatalf("paying a reversed order: %d", st)
	}
	resp, err := e.ts.Client().PostForm(e.ts.URL+"/pay/O-REV-1", url.Values{"wallet": {"wechat"}}) // follows the redirect
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `data-status="reversed"`) {
		t.Fatalf("page of a reversed order:\n%s", b)
	}
	if len(e.payments()) != 0 {
		t.Fatal("a reversed pending order booked a payment")
	}
	// A pending paymentCode order reversed before the wallet answers is never paid.
	if _, err := e.c.CreateOrder(ctx, uplink.NewIdempotencyKey(), orderReq("O-REV-2", uplink.OrderPaymentCode, codeWeChatPays)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.ReverseOrder(ctx, uplink.NewIdempotencyKey(), "O-REV-2", uplink.OrderActionRequest{}); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	if o := e.order("O-REV-2"); o.Status != uplink.OrderReversed || o.Reason != "terminal" || len(e.payments()) != 0 {
		t.Fatalf("reversed code order later: %+v", o)
	}
}

func TestOrderReversePaidRefunds(t *testing.T) {
	clk := newClock()
	e := newEnv(t, refplatform.Options{Now: clk.Now})
	ctx := context.Background()
	// An account with arrears, overpaid: applied, arrears and prepaid all move.
	before := e.bill(uplink.Water, "100100100002")
	req := orderReq("O-REFUND", uplink.OrderDynamicQR, "")
	req.Account, req.BillID, req.Amount = "100100100002", "SF202610-100100100002", 20000
	if _, err := e.c.CreateOrder(ctx, uplink.NewIdempotencyKey(), req); err != nil {
		t.Fatal(err)
	}
	clk.Add(10 * time.Second)
	if st, o := e.refPay("O-REFUND", ""); st != 200 || o.Status != uplink.OrderPaid {
		t.Fatalf("pay: %d %+v", st, o)
	}
	paidAt := clk.Now()
	if b := e.bill(uplink.Water, "100100100002"); b.AmountDue != 0 || b.Arrears != 0 || b.Prepaid != 20000-15620 || b.PaidAt == nil {
		t.Fatalf("bill after paying: %+v", b)
	}
	// Within 15 s: refused, final, nothing changes; Retry-After says when.
	clk.Add(10*time.Second + 300*time.Millisecond)
	key := uplink.NewIdempotencyKey()
	_, err := e.c.ReverseOrder(ctx, key, "O-REFUND", uplink.OrderActionRequest{Reason: "cancelled"})
	wantFinal(t, "reverse within 15 s", err, 409, uplink.CodeTooSoon)
	if ue, _ := errors.AsType[*uplink.Error](err); ue.RetryAfter != 5*time.Second {
		t.Errorf("Retry-After %v, want 5s", ue.RetryAfter)
	}
	if o := e.order("O-REFUND"); o.Status != uplink.OrderPaid {
		t.Fatalf("refused reverse changed the order: %+v", o)
	}
	_, err = e.c.CloseOrder(ctx, uplink.NewIdempotencyKey(), "O-REFUND", uplink.OrderActionRequest{})
	wantFinal(t, "close a paid order", err, 409, uplink.CodeOrderPaid)
	// At 15 s the same key goes through: refund, bill un-applied.
	clk.Add(paidAt.Add(uplink.ReverseGuard).Sub(clk.Now()))
	o, err := e.c.ReverseOrder(ctx, key, "O-REFUND", uplink.OrderActionRequest{Reason: "cancelled"})
	if err != nil || o.Status != uplink.OrderReversed || !o.Refunded() || !o.ReversedAt.Equal(clk.Now()) {
		t.Fatalf("reverse after 15 s: %+v %v", o, err)
	}
	after := e.bill(uplink.Water, "100100100002")
	if after.AmountDue != before.AmountDue || after.Arrears != before.Arrears || after.Prepaid != before.Prepaid || after.PaidAt != nil {
		t.Fatalf("bill not un-applied:\nbefore %+v\nafter  %+v", before, after)
	}
	ps := e.payments()
	if len(ps) != 1 || ps[0].RefundedAt == nil || ps[0].Payment.PaymentID != o.PaymentID {
		t.Fatalf("ref payments after the refund: %+v", ps)
	}
	// Replays and later reverses refund nothing more.
	if again, err := e.c.ReverseOrder(ctx, key, "O-REFUND", uplink.OrderActionRequest{Reason: "cancelled"}); err != nil || again.Status != uplink.OrderReversed {
		t.Fatalf("reverse replay: %+v %v", again, err)
	}
	if _, err := e.c.ReverseOrder(ctx, uplink.NewIdempotencyKey(), "O-REFUND", uplink.OrderActionRequest{}); err != nil {
		t.Fatalf("second reverse: %v", err)
	}
	if b := e.bill(uplink.Water, "100100100002"); b != after {
		t.Fatalf("bill moved again: %+v", b)
	}
	// The receipt's verification page now says the payment was refunded.
	st, page := e.get(strings.TrimPrefix(ps[0].Payment.VerifyURL, e.ts.URL), nil)
	if st != 200 || !strings.Contains(string(page), "已撤销") {
		t.Fatalf("verify page of a refunded payment: %d", st)
	}
}

func TestOrderCloseAndRejections(t *testing.T) {
	clk := newClock()
	e := newEnv(t, refplatform.Options{Now: clk.Now})
	ctx := context.Background()
	if _, err := e.c.CreateOrder(ctx, uplink.NewIdempotencyKey(), orderReq("O-CLOSE", uplink.OrderDynamicQR, "")); err != nil {
		t.Fatal(err)
	}
	key := uplink.NewIdempotencyKey()
	o, err := e.c.CloseOrder(ctx, key, "O-CLOSE", uplink.OrderActionRequest{Reason: "cancelled"})
	if err != nil || o.Status != uplink.OrderClosed || o.Reason != "cancelled" {
		t.Fatalf("close: %+v %v", o, err)
	}
	if again, err := e.c.CloseOrder(ctx, key, "O-CLOSE", uplink.OrderActionRequest{Reason: "cancelled"}); err != nil || jsonOf(again) != jsonOf(o) {
		t.Fatalf("close replay: %+v %v", again, err)
	}
	if r, err := e.c.ReverseOrder(ctx, uplink.NewIdempotencyKey(), "O-CLOSE", uplink.OrderActionRequest{}); err != nil || r.Status != uplink.OrderClosed {
		t.Fatalf("reverse a closed order: %+v %v", r, err)
	}

	cases := []struct {
		name   string
		req    uplink.OrderRequest
		status int
		code   string
	}{
		{"unknown account", func() uplink.OrderRequest {
			r := orderReq("O-R1", uplink.OrderDynamicQR, "")
			r.Account, r.BillID = "100100109999", "SF202610-100100109999"
			return r
		}(), 404, uplink.CodeAccountNotFound},
		{"bill of another account", func() uplink.OrderRequest {
			r := orderReq("O-R2", uplink.OrderDynamicQR, "")
			r.BillID = "SF202610-100100100002"
			return r
		}(), 409, uplink.CodeBillMismatch},
		{"order id taken", orderReq("O-CLOSE", uplink.OrderDynamicQR, ""), 409, uplink.CodeOrderConflict},
	}
	for _, c := range cases {
		_, err := e.c.CreateOrder(ctx, uplink.NewIdempotencyKey(), c.req)
		wantFinal(t, c.name, err, c.status, c.code)
	}
	// Bodies the client refuses to send, straight to the server.
	for name, body := range map[string]any{
		"bad payment code": orderReq("O-R3", uplink.OrderPaymentCode, "994512345678901230"),
		"QR with a code":   orderReq("O-R3", uplink.OrderDynamicQR, codeWeChatPays),
		"unknown field":    map[string]any{"terminalId": terminal, "orderId": "O-R3", "utility": "water", "account": "100100100001", "billId": "SF202610-100100100001", "amount": 1, "kind": "dynamicQR", "wallet": "wechat"},
	} {
		if st, _, b := e.post("/v1/orders", uplink.NewIdempotencyKey(), body); st != 400 {
			t.Errorf("%s: %d %s", name, st, b)
		}
	}
	if st, _, _ := e.post("/v1/orders/O-CLOSE/close", "", uplink.OrderActionRequest{TerminalID: terminal}); st != 400 {
		t.Errorf("close without key: %d", st)
	}
	// Other terminals see and end nothing of ours.
	other := uplink.NewClient(e.ts.URL, "T-OTHER")
	_, err = other.Order(ctx, "O-CLOSE")
	wantFinal(t, "other terminal's order", err, 404, uplink.CodeOrderNotFound)
	_, err = other.ReverseOrder(ctx, uplink.NewIdempotencyKey(), "O-CLOSE", uplink.OrderActionRequest{})
	wantFinal(t, "other terminal's reverse", err, 404, uplink.CodeOrderNotFound)
	_, err = e.c.Order(ctx, "O-NOPE")
	wantFinal(t, "unknown order", err, 404, uplink.CodeOrderNotFound)
}

func TestOrderConcurrentReplaysBookOnce(t *testing.T) {
	clk := newClock()
	// The wallet answers at once, so every racing create may try to book.
	e := newEnv(t, refplatform.Options{Now: clk.Now, PaymentCodeDelay: -1})
	key := uplink.NewIdempotencyKey()
	req := orderReq("O-RACE", uplink.OrderPaymentCode, codeWeChatPays)
	const n = 20
	statuses := make([]int, n)
	orders := make([]uplink.Order, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			st, _, b := e.post("/v1/orders", key, req)
			statuses[i] = st
			_ = json.Unmarshal(b, &orders[i])
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
			t.Fatalf("request %d: %d", i, st)
		}
		if orders[i].Status != uplink.OrderPaid || orders[i].PaymentID != orders[0].PaymentID {
			t.Fatalf("reply %d: %+v", i, orders[i])
		}
	}
	if created != 1 || len(e.refOrders()) != 1 || len(e.payments()) != 1 {
		t.Fatalf("%d created, %d orders, %d payments; want 1 each", created, len(e.refOrders()), len(e.payments()))
	}
	// 20 racing reverses (same key) refund once.
	clk.Add(uplink.ReverseGuard)
	rkey := uplink.NewIdempotencyKey()
	for range n {
		wg.Go(func() {
			if st, _, b := e.post("/v1/orders/O-RACE/reverse", rkey, uplink.OrderActionRequest{TerminalID: terminal}); st != 200 {
				t.Errorf("reverse: %d %s", st, b)
			}
		})
	}
	wg.Wait()
	if b := e.bill(uplink.Water, "100100100001"); b.AmountDue != 8650 || b.Prepaid != 0 || b.PaidAt != nil {
		t.Fatalf("bill after racing reverses: %+v", b)
	}
}

func TestOrderSurvivesRestart(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	srv, err := refplatform.New(refplatform.Options{DataDir: dir, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	c := uplink.NewClient(ts.URL, terminal)
	ctx := context.Background()
	key := uplink.NewIdempotencyKey()
	req := orderReq("O-RESTART", uplink.OrderPaymentCode, codeWeChatPays)
	if _, err := c.CreateOrder(ctx, key, req); err != nil {
		t.Fatal(err)
	}
	vkey := uplink.NewIdempotencyKey()
	vreq := voucherReq("VAAAAAAAAAAS1", "314159", 2600)
	if _, err := c.IssueVoucher(ctx, vkey, vreq); err != nil {
		t.Fatal(err)
	}
	ts.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	clk.Add(10 * time.Second) // the wallet answered while the platform was down
	e := newEnv(t, refplatform.Options{DataDir: dir, Now: clk.Now})
	o := e.order("O-RESTART")
	if o.Status != uplink.OrderPaid || !o.PaidAt.Equal(o.CreatedAt.Add(2*time.Second)) {
		t.Fatalf("order after restart: %+v", o)
	}
	st, hdr, _ := e.post("/v1/orders", key, req)
	if st != 200 || hdr.Get(uplink.HeaderIdempotentReplayed) != "true" {
		t.Fatalf("create replay after restart: %d", st)
	}
	st, hdr, _ = e.post("/v1/vouchers", vkey, vreq)
	if st != 200 || hdr.Get(uplink.HeaderIdempotentReplayed) != "true" {
		t.Fatalf("voucher replay after restart: %d", st)
	}
	if len(e.payments()) != 1 || len(e.vouchers()) != 1 {
		t.Fatalf("%d payments, %d vouchers after restart", len(e.payments()), len(e.vouchers()))
	}
	// The voucher still redeems once, after the restart.
	p, err := e.c.Pay(ctx, uplink.NewIdempotencyKey(), withVouchers(cash(uplink.Gas, "300300300003", "RQ202610-300300300003", 1980),
		uplink.VoucherUse{VoucherID: "VAAAAAAAAAAS1", Code: "314159", Amount: 2600}))
	if err != nil || p.AppliedToBill != 4580 {
		t.Fatalf("redeem after restart: %+v %v", p, err)
	}
}

// The test payment codes in README.md are valid and do what it says.
func TestReadmePaymentCodes(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := map[byte]uplink.OrderStatus{'4': uplink.OrderClosed, '7': uplink.OrderPending, '0': uplink.OrderPaid}
	codes := regexp.MustCompile("`([0-9]{16,24})`").FindAllStringSubmatch(string(raw), -1)
	if len(codes) < 9 {
		t.Fatalf("README lists %d payment codes, want 9", len(codes))
	}
	clk := newClock()
	e := newEnv(t, refplatform.Options{Now: clk.Now})
	for i, m := range codes {
		code := m[1]
		if _, err := uplink.WalletOfPaymentCode(code); err != nil {
			t.Errorf("README code %s: %v", code, err)
			continue
		}
		r := orderReq(fmt.Sprintf("O-README-%d", i), uplink.OrderPaymentCode, code)
		r.Utility, r.Account, r.BillID, r.Amount = uplink.Electricity, "200200200002", "DF202610-200200200002", 100
		if _, err := e.c.CreateOrder(context.Background(), uplink.NewIdempotencyKey(), r); err != nil {
			t.Fatalf("code %s: %v", code, err)
		}
	}
	clk.Add(uplink.OrderQueryInterval)
	for i, m := range codes {
		o := e.order(fmt.Sprintf("O-README-%d", i))
		if w, ok := want[m[1][len(m[1])-1]]; !ok || o.Status != w {
			t.Errorf("code %s: order %s, want %s", m[1], o.Status, w)
		}
	}
}
