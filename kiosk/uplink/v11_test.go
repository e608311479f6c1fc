package uplink_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"tongban/kiosk/uplink"
)

// Tests of API v1.1: vouchers and mobile orders, client side.

const (
	testVoucherID = "VABCDEFGH2345"
	testOrderID   = "O-TEST-0001"
)

func TestVoucherValidators(t *testing.T) {
	for s, want := range map[string]bool{
		"VABCDEFGH2345": true, "V0123456789AB": true, "VABCDEFGHJKMN": true,
		"VABCDEFGH234": false, "VABCDEFGH23456": false, "vABCDEFGH2345": false, "VabcdEFGH2345": false,
		"XABCDEFGH2345": false, "VABCDEFGH234-": false, "": false,
	} {
		if got := uplink.ValidVoucherID(s); got != want {
			t.Errorf("ValidVoucherID(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{
		"123456": true, "ABCD2345": true, "A1B2C3D": true,
		"12345": false, "123456789": false, "abc123": false, "ABC 12": false, "": false,
	} {
		if got := uplink.ValidVoucherCode(s); got != want {
			t.Errorf("ValidVoucherCode(%q) = %v", s, got)
		}
	}
	if got := uplink.NormalizeVoucherCode(" ab12-cd 3"); got != "AB12CD3" {
		t.Errorf("NormalizeVoucherCode = %q", got)
	}
	seen := map[string]bool{}
	for range 100 {
		id, code := uplink.NewVoucherID(), uplink.NewVoucherCode()
		if !uplink.ValidVoucherID(id) || !uplink.ValidVoucherCode(code) || seen[id] {
			t.Fatalf("bad or repeated voucher id/code %q %q", id, code)
		}
		seen[id] = true
		if o := uplink.NewOrderID(); !uplink.ValidOrderID(o) {
			t.Fatalf("bad order id %q", o)
		}
	}
	for s, want := range map[string]bool{"timeout": true, "unpaid_timeout": true, "r2": true, "": false, "Timeout": false, "2x": false, "a-b": false, strings.Repeat("a", 33): false} {
		if got := uplink.ValidReason(s); got != want {
			t.Errorf("ValidReason(%q) = %v", s, got)
		}
	}
}

func TestWalletOfPaymentCode(t *testing.T) {
	cases := []struct {
		code string
		want uplink.Wallet
	}{
		{"134512345678901230", uplink.WalletWeChat},
		{"104512345678901230", uplink.WalletWeChat},
		{"154512345678901230", uplink.WalletWeChat},
		{"2845123456789012", uplink.WalletAlipay},         // 16
		{"284512345678901230", uplink.WalletAlipay},       // 18
		{"300012345678901234567890", uplink.WalletAlipay}, // 24
		{"251234567890123456", uplink.WalletAlipay},
		{"6212345678901234560", uplink.WalletUnionPay},
		{"164512345678901230", ""},        // 16 is no WeChat prefix
		{"13451234567890123", ""},         // WeChat with 17 digits
		{"1345123456789012301", ""},       // WeChat with 19 digits
		{"621234567890123456", ""},        // UnionPay with 18 digits
		{"3100123456789012", ""},          // 31 is no Alipay prefix
		{"284512345678901", ""},           // 15 digits
		{"2845123456789012345678901", ""}, // 25 digits
		{"13451234567890123a", ""},
		{"", ""},
	}
	for _, c := range cases {
		got, err := uplink.WalletOfPaymentCode(c.code)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("WalletOfPaymentCode(%q) = %q, %v; want %q", c.code, got, err, c.want)
		}
	}
}

func goodVoucher() uplink.VoucherRequest {
	return uplink.VoucherRequest{
		TerminalID: terminal, VoucherID: testVoucherID, Code: "482913", Amount: 5000,
		Reason: uplink.VoucherReasonTimeout, Session: "S-1", Utility: uplink.Water, Account: "100100100001",
		IssuedAt: time.Date(2026, 11, 27, 8, 31, 0, 0, time.UTC),
	}
}

func TestVoucherRequestValidate(t *testing.T) {
	if err := goodVoucher().Validate(); err != nil {
		t.Fatalf("good voucher: %v", err)
	}
	orphan := goodVoucher()
	orphan.Session, orphan.Utility, orphan.Account = "", "", ""
	if err := orphan.Validate(); err != nil {
		t.Fatalf("voucher without session or account: %v", err)
	}
	cases := map[string]func(*uplink.VoucherRequest){
		"bad id":            func(r *uplink.VoucherRequest) { r.VoucherID = "V123" },
		"lower-case code":   func(r *uplink.VoucherRequest) { r.Code = "abcdef" },
		"short code":        func(r *uplink.VoucherRequest) { r.Code = "12345" },
		"zero amount":       func(r *uplink.VoucherRequest) { r.Amount = 0 },
		"huge amount":       func(r *uplink.VoucherRequest) { r.Amount = uplink.MaxPaymentAmount + 1 },
		"no reason":         func(r *uplink.VoucherRequest) { r.Reason = "" },
		"bad session":       func(r *uplink.VoucherRequest) { r.Session = "a b" },
		"bad utility":       func(r *uplink.VoucherRequest) { r.Utility = "phone" },
		"account alone":     func(r *uplink.VoucherRequest) { r.Utility = "" },
		"bad account":       func(r *uplink.VoucherRequest) { r.Account = "12" },
		"no issuedAt":       func(r *uplink.VoucherRequest) { r.IssuedAt = time.Time{} },
		"no terminal":       func(r *uplink.VoucherRequest) { r.TerminalID = "" },
		"code with a space": func(r *uplink.VoucherRequest) { r.Code = "ABC 12" },
	}
	for name, mut := range cases {
		r := goodVoucher()
		mut(&r)
		if err := r.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := (uplink.VoucherRefundRequest{TerminalID: terminal, StaffID: "staff-7", Code: "482913"}).Validate(); err != nil {
		t.Errorf("good refund: %v", err)
	}
	for _, r := range []uplink.VoucherRefundRequest{
		{TerminalID: terminal, StaffID: "", Code: "482913"},
		{TerminalID: terminal, StaffID: "staff 7", Code: "482913"},
		{TerminalID: terminal, StaffID: "staff-7", Code: "48291"},
		{TerminalID: "", StaffID: "staff-7", Code: "482913"},
	} {
		if r.Validate() == nil {
			t.Errorf("refund %+v accepted", r)
		}
	}
}

func TestPaymentWithVouchersValidate(t *testing.T) {
	mixed := goodRequest() // 8650 in cash
	mixed.Amount = 8650 + 5000 + 1200
	mixed.Vouchers = []uplink.VoucherUse{{VoucherID: "VAAAAAAAAAAA2", Code: "111111", Amount: 1200}, {VoucherID: testVoucherID, Code: "482913", Amount: 5000}}
	if err := mixed.Validate(); err != nil {
		t.Fatalf("cash + vouchers: %v", err)
	}
	only := goodRequest()
	only.Method, only.Notes, only.Amount = uplink.MethodVoucher, nil, 5000
	only.Vouchers = []uplink.VoucherUse{{VoucherID: testVoucherID, Code: "482913", Amount: 5000}}
	if err := only.Validate(); err != nil {
		t.Fatalf("vouchers only: %v", err)
	}
	cases := map[string]func(*uplink.PaymentRequest){
		"sum short":           func(r *uplink.PaymentRequest) { r.Amount++ },
		"voucher twice":       func(r *uplink.PaymentRequest) { r.Vouchers[0].VoucherID = r.Vouchers[1].VoucherID },
		"bad voucher code":    func(r *uplink.PaymentRequest) { r.Vouchers[0].Code = "x" },
		"zero voucher amount": func(r *uplink.PaymentRequest) { r.Amount -= r.Vouchers[0].Amount; r.Vouchers[0].Amount = 0 },
		"voucher method with notes": func(r *uplink.PaymentRequest) {
			r.Method = uplink.MethodVoucher
		},
		"mobile method": func(r *uplink.PaymentRequest) { r.Method = uplink.MethodMobile },
		"too many vouchers": func(r *uplink.PaymentRequest) {
			for i := range uplink.MaxVoucherLines {
				id := "VZZZZZZZZZZ" + string(rune('A'+i/10)) + string(rune('0'+i%10))
				r.Vouchers = append(r.Vouchers, uplink.VoucherUse{VoucherID: id, Code: "111111", Amount: 1})
				r.Amount++
			}
		},
	}
	for name, mut := range cases {
		r := mixed
		r.Vouchers = append([]uplink.VoucherUse(nil), mixed.Vouchers...)
		mut(&r)
		if err := r.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	noVouchers := only
	noVouchers.Vouchers = nil
	if noVouchers.Validate() == nil {
		t.Error("method voucher without vouchers accepted")
	}
	// Canonical: voucher order does not matter, nil and empty notes are one.
	a, b := mixed, mixed
	b.Vouchers = []uplink.VoucherUse{mixed.Vouchers[1], mixed.Vouchers[0]}
	ja, _ := json.Marshal(a.Canonical())
	jb, _ := json.Marshal(b.Canonical())
	if string(ja) != string(jb) {
		t.Errorf("voucher order changes the canonical form:\n%s\n%s", ja, jb)
	}
	c, d := only, only
	d.Notes = []uplink.Note{}
	jc, _ := json.Marshal(c.Canonical())
	jd, _ := json.Marshal(d.Canonical())
	if string(jc) != string(jd) {
		t.Errorf("nil and empty notes differ:\n%s\n%s", jc, jd)
	}
	// A v1.0 cash request keeps its v1.0 canonical bytes (stored hashes stay valid).
	j0, _ := json.Marshal(goodRequest().Canonical())
	if strings.Contains(string(j0), "vouchers") {
		t.Errorf("cash-only canonical form mentions vouchers: %s", j0)
	}
}

func goodOrder(kind uplink.OrderKind) uplink.OrderRequest {
	r := uplink.OrderRequest{
		TerminalID: terminal, OrderID: testOrderID, Utility: uplink.Water, Account: "100100100001",
		BillID: "SF202610-100100100001", Amount: 8650, Kind: kind,
	}
	if kind == uplink.OrderPaymentCode {
		r.PaymentCode = "134512345678901230"
	}
	return r
}

func TestOrderRequestValidate(t *testing.T) {
	for _, k := range []uplink.OrderKind{uplink.OrderDynamicQR, uplink.OrderPaymentCode} {
		if err := goodOrder(k).Validate(); err != nil {
			t.Fatalf("good %s order: %v", k, err)
		}
	}
	cases := map[string]func(*uplink.OrderRequest){
		"QR with code":  func(r *uplink.OrderRequest) { r.Kind = uplink.OrderDynamicQR },
		"code missing":  func(r *uplink.OrderRequest) { r.PaymentCode = "" },
		"code bad":      func(r *uplink.OrderRequest) { r.PaymentCode = "994512345678901230" },
		"bad kind":      func(r *uplink.OrderRequest) { r.Kind = "cash" },
		"bad order id":  func(r *uplink.OrderRequest) { r.OrderID = "O 1" },
		"no order id":   func(r *uplink.OrderRequest) { r.OrderID = "" },
		"zero amount":   func(r *uplink.OrderRequest) { r.Amount = 0 },
		"bad account":   func(r *uplink.OrderRequest) { r.Account = "1" },
		"no bill":       func(r *uplink.OrderRequest) { r.BillID = "" },
		"bad utility":   func(r *uplink.OrderRequest) { r.Utility = "" },
		"bad terminal":  func(r *uplink.OrderRequest) { r.TerminalID = "a/b" },
		"huge amount":   func(r *uplink.OrderRequest) { r.Amount = uplink.MaxPaymentAmount + 1 },
		"long order id": func(r *uplink.OrderRequest) { r.OrderID = strings.Repeat("o", 65) },
	}
	for name, mut := range cases {
		r := goodOrder(uplink.OrderPaymentCode)
		mut(&r)
		if err := r.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if (uplink.OrderActionRequest{TerminalID: terminal, Reason: "Bad Reason"}).Validate() == nil {
		t.Error("bad action reason accepted")
	}
}

// Replies a well-behaved platform would send.
const (
	voucherReply  = `{"voucherId":"VABCDEFGH2345","terminalId":"T-TEST-0001","amount":5000,"status":"issued","issuedAt":"2026-11-27T08:31:00Z"}`
	refundedReply = `{"voucherId":"VABCDEFGH2345","terminalId":"T-TEST-0001","amount":5000,"status":"refunded","issuedAt":"2026-11-27T08:31:00Z","refundedAt":"2026-11-27T09:00:00Z","refundedBy":"staff-7"}`
	orderReply    = `{"orderId":"O-TEST-0001","terminalId":"T-TEST-0001","utility":"water","account":"100100100001","billId":"SF202610-100100100001","amount":8650,"kind":"paymentCode","status":"pending","wallet":"wechat","createdAt":"2026-11-27T08:30:00Z"}`
	reversedReply = `{"orderId":"O-TEST-0001","terminalId":"T-TEST-0001","utility":"water","account":"100100100001","billId":"SF202610-100100100001","amount":8650,"kind":"paymentCode","status":"reversed","wallet":"wechat","createdAt":"2026-11-27T08:30:00Z","reversedAt":"2026-11-27T08:31:00Z","reason":"unpaid_timeout"}`
	closedReply   = `{"orderId":"O-TEST-0001","terminalId":"T-TEST-0001","utility":"water","account":"100100100001","billId":"SF202610-100100100001","amount":8650,"kind":"paymentCode","status":"closed","wallet":"wechat","createdAt":"2026-11-27T08:30:00Z","closedAt":"2026-11-27T08:31:00Z","reason":"terminal"}`
)

// v11Calls runs every v1.1 client method once against c; each returns the error.
func v11Calls(c *uplink.Client, key string) map[string]func() error {
	ctx := context.Background()
	return map[string]func() error{
		"IssueVoucher": func() error { _, err := c.IssueVoucher(ctx, key, goodVoucher()); return err },
		"Voucher":      func() error { _, err := c.Voucher(ctx, testVoucherID); return err },
		"RefundVoucher": func() error {
			_, err := c.RefundVoucher(ctx, key, testVoucherID, uplink.VoucherRefundRequest{StaffID: "staff-7", Code: "482913"})
			return err
		},
		"CreateOrder": func() error { _, err := c.CreateOrder(ctx, key, goodOrder(uplink.OrderPaymentCode)); return err },
		"Order":       func() error { _, err := c.Order(ctx, testOrderID); return err },
		"ReverseOrder": func() error {
			_, err := c.ReverseOrder(ctx, key, testOrderID, uplink.OrderActionRequest{Reason: "unpaid_timeout"})
			return err
		},
		"CloseOrder": func() error { _, err := c.CloseOrder(ctx, key, testOrderID, uplink.OrderActionRequest{}); return err },
	}
}

func TestV11ClientSendsContract(t *testing.T) {
	key := uplink.NewIdempotencyKey()
	type seen struct {
		method, path, term, idem, ctype string
		body                            map[string]any
	}
	var got seen
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		got = seen{method: r.Method, path: r.URL.RequestURI(), term: r.Header.Get("X-Terminal-Id"),
			idem: r.Header.Get("Idempotency-Key"), ctype: r.Header.Get("Content-Type")}
		_ = json.NewDecoder(r.Body).Decode(&got.body)
		switch r.URL.Path {
		case "/v1/vouchers", "/v1/vouchers/" + testVoucherID:
			jsonReply(w, 201, voucherReply)
		case "/v1/vouchers/" + testVoucherID + "/refund":
			jsonReply(w, 200, refundedReply)
		case "/v1/orders", "/v1/orders/" + testOrderID:
			jsonReply(w, 201, orderReply)
		case "/v1/orders/" + testOrderID + "/reverse":
			jsonReply(w, 200, reversedReply)
		case "/v1/orders/" + testOrderID + "/close":
			jsonReply(w, 200, closedReply)
		default:
			jsonReply(w, 404, `{"error":{"code":"not_found","message":"nope","retryable":false}}`)
		}
	})
	want := map[string]struct {
		method, path string
		keyed        bool
		fields       []string
	}{
		"IssueVoucher":  {"POST", "/v1/vouchers", true, []string{"terminalId", "voucherId", "code", "amount", "reason", "session", "utility", "account", "issuedAt"}},
		"Voucher":       {"GET", "/v1/vouchers/" + testVoucherID, false, nil},
		"RefundVoucher": {"POST", "/v1/vouchers/" + testVoucherID + "/refund", true, []string{"terminalId", "staffId", "code"}},
		"CreateOrder":   {"POST", "/v1/orders", true, []string{"terminalId", "orderId", "utility", "account", "billId", "amount", "kind", "paymentCode"}},
		"Order":         {"GET", "/v1/orders/" + testOrderID, false, nil},
		"ReverseOrder":  {"POST", "/v1/orders/" + testOrderID + "/reverse", true, []string{"terminalId", "reason"}},
		"CloseOrder":    {"POST", "/v1/orders/" + testOrderID + "/close", true, []string{"terminalId"}},
	}
	for name, call := range v11Calls(c, key) {
		if err := call(); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		w := want[name]
		if got.method != w.method || got.path != w.path || got.term != terminal {
			t.Errorf("%s: sent %s %s (terminal %q)", name, got.method, got.path, got.term)
		}
		if w.keyed != (got.idem == key) || (w.keyed && got.ctype != "application/json") {
			t.Errorf("%s: Idempotency-Key %q, Content-Type %q", name, got.idem, got.ctype)
		}
		for _, f := range w.fields {
			if _, ok := got.body[f]; !ok {
				t.Errorf("%s: body lacks %q: %v", name, f, got.body)
			}
		}
		if w.keyed && got.body["terminalId"] != terminal {
			t.Errorf("%s: terminalId not filled from the client: %v", name, got.body)
		}
	}

	// A voucher-only payment sends "notes": [] and the vouchers.
	c2 := fake(t, func(w http.ResponseWriter, r *http.Request) {
		got.body = nil
		_ = json.NewDecoder(r.Body).Decode(&got.body)
		jsonReply(w, 500, `{}`)
	})
	req := goodRequest()
	req.Method, req.Notes, req.Amount = uplink.MethodVoucher, nil, 5000
	req.Vouchers = []uplink.VoucherUse{{VoucherID: testVoucherID, Code: "482913", Amount: 5000}}
	_, _ = c2.Pay(context.Background(), key, req)
	if notes, ok := got.body["notes"].([]any); !ok || len(notes) != 0 {
		t.Errorf("voucher payment notes: %#v", got.body["notes"])
	}
	if v, ok := got.body["vouchers"].([]any); !ok || len(v) != 1 {
		t.Errorf("voucher payment vouchers: %#v", got.body["vouchers"])
	}

	// Refused before sending: bad key, bad ids, foreign terminal, invalid bodies.
	calls := 0
	c3 := fake(t, func(w http.ResponseWriter, _ *http.Request) { calls++; jsonReply(w, 500, `{}`) })
	ctx := context.Background()
	foreign := goodVoucher()
	foreign.TerminalID = "T-OTHER"
	badOrder := goodOrder(uplink.OrderPaymentCode)
	badOrder.PaymentCode = "1"
	refused := map[string]error{}
	_, refused["voucher key"] = c3.IssueVoucher(ctx, "KEY", goodVoucher())
	_, refused["voucher terminal"] = c3.IssueVoucher(ctx, key, foreign)
	_, refused["voucher id"] = c3.Voucher(ctx, "V1")
	_, refused["refund code"] = c3.RefundVoucher(ctx, key, testVoucherID, uplink.VoucherRefundRequest{StaffID: "s", Code: "x"})
	_, refused["refund id"] = c3.RefundVoucher(ctx, key, "nope", uplink.VoucherRefundRequest{StaffID: "s", Code: "123456"})
	_, refused["order code"] = c3.CreateOrder(ctx, key, badOrder)
	_, refused["order id"] = c3.Order(ctx, "a/b")
	_, refused["reverse key"] = c3.ReverseOrder(ctx, "", testOrderID, uplink.OrderActionRequest{})
	_, refused["close reason"] = c3.CloseOrder(ctx, key, testOrderID, uplink.OrderActionRequest{Reason: "NO"})
	for name, err := range refused {
		if !uplink.IsFinal(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if calls != 0 {
		t.Errorf("%d refused calls reached the server", calls)
	}
}

func TestV11HostileReplies(t *testing.T) {
	key := uplink.NewIdempotencyKey()
	cases := []struct {
		name      string
		h         http.HandlerFunc
		retryable bool
		status    int
		code      string
	}{
		{"garbage JSON 200", func(w http.ResponseWriter, _ *http.Request) { jsonReply(w, 200, `{"orderId":"O`) }, true, 200, uplink.CodeBadReply},
		{"JSON null 201", func(w http.ResponseWriter, _ *http.Request) { jsonReply(w, 201, `null`) }, true, 201, uplink.CodeBadReply},
		{"JSON array 200", func(w http.ResponseWriter, _ *http.Request) { jsonReply(w, 200, `[]`) }, true, 200, uplink.CodeBadReply},
		{"empty object 200", func(w http.ResponseWriter, _ *http.Request) { jsonReply(w, 200, `{}`) }, true, 200, uplink.CodeBadReply},
		{"HTML 200", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html>portal</html>")
		}, true, 200, uplink.CodeBadReply},
		{"10 MiB 200", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"pad":"`+strings.Repeat("x", 10<<20)+`"}`)
		}, true, 200, uplink.CodeBadReply},
		{"HTML 502", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "<h1>Bad Gateway</h1>")
		}, true, 502, "http_502"},
		{"409 body claims retryable", func(w http.ResponseWriter, _ *http.Request) {
			jsonReply(w, 409, `{"error":{"code":"too_soon","message":"m","retryable":true}}`)
		}, false, 409, uplink.CodeTooSoon},
		{"empty 404", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(404) }, false, 404, "http_404"},
		{"429", func(w http.ResponseWriter, _ *http.Request) {
			jsonReply(w, 429, `{"error":{"code":"rate_limited","message":"slow","retryable":true}}`)
		}, true, 429, uplink.CodeRateLimited},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://192.0.2.1/x", http.StatusFound)
		}, true, 302, "http_302"},
		// Well-formed, but for something else or inconsistent: the call may
		// have committed, so only a resend with the same key can tell.
		{"reply for other ids", func(w http.ResponseWriter, r *http.Request) {
			body := voucherReply
			if strings.Contains(r.URL.Path, "orders") {
				body = orderReply
			}
			body = strings.NewReplacer(testVoucherID, "VZZZZZZZZZZZZ", testOrderID, "O-OTHER").Replace(body)
			jsonReply(w, 200, body)
		}, true, 200, uplink.CodeBadReply},
		{"inconsistent states", func(w http.ResponseWriter, r *http.Request) {
			body := strings.Replace(voucherReply, `"issued"`, `"redeemed"`, 1) // redeemed without redeemedBy
			if strings.Contains(r.URL.Path, "orders") {
				body = strings.Replace(orderReply, `"pending"`, `"paid"`, 1) // paid without paymentId
			}
			jsonReply(w, 200, body)
		}, true, 200, uplink.CodeBadReply},
		{"other terminal's", func(w http.ResponseWriter, r *http.Request) {
			body := voucherReply
			if strings.Contains(r.URL.Path, "orders") {
				body = orderReply
			}
			jsonReply(w, 200, strings.Replace(body, terminal, "T-OTHER", 1))
		}, true, 200, uplink.CodeBadReply},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for name, call := range v11Calls(fake(t, c.h), key) {
				err := call()
				ue, ok := errors.AsType[*uplink.Error](err)
				if !ok {
					t.Errorf("%s: not an *uplink.Error: %v", name, err)
					continue
				}
				if uplink.IsRetryable(err) != c.retryable || uplink.IsFinal(err) == c.retryable {
					t.Errorf("%s: retryable = %v, want %v: %v", name, uplink.IsRetryable(err), c.retryable, err)
				}
				// Clients report a reply they could not use as status 200 (like Pay).
				if st := c.status; ue.Code != c.code || (ue.Status != st && !(c.code == uplink.CodeBadReply && ue.Status == 200)) {
					t.Errorf("%s: status/code = %d/%s, want %d/%s: %v", name, ue.Status, ue.Code, c.status, c.code, err)
				}
			}
		})
	}

	// A successful reply that does not show the asked-for outcome.
	t.Run("wrong outcome", func(t *testing.T) {
		ctx := context.Background()
		c := fake(t, func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/refund"):
				jsonReply(w, 200, voucherReply) // still issued
			default:
				jsonReply(w, 200, orderReply) // still pending
			}
		})
		_, err := c.RefundVoucher(ctx, key, testVoucherID, uplink.VoucherRefundRequest{StaffID: "s", Code: "482913"})
		checkErr(t, err, true, 200, uplink.CodeBadReply)
		_, err = c.ReverseOrder(ctx, key, testOrderID, uplink.OrderActionRequest{})
		checkErr(t, err, true, 200, uplink.CodeBadReply)
		_, err = c.CloseOrder(ctx, key, testOrderID, uplink.OrderActionRequest{})
		checkErr(t, err, true, 200, uplink.CodeBadReply)
		_, err = c.CreateOrder(ctx, key, goodOrder(uplink.OrderDynamicQR)) // pending paymentCode reply for a QR order
		checkErr(t, err, true, 200, uplink.CodeBadReply)
	})
}

func TestTooSoonRetryAfter(t *testing.T) {
	c := fake(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "12")
		jsonReply(w, 409, `{"error":{"code":"too_soon","message":"paid 3 s ago","retryable":false}}`)
	})
	_, err := c.ReverseOrder(context.Background(), uplink.NewIdempotencyKey(), testOrderID, uplink.OrderActionRequest{})
	checkErr(t, err, false, 409, uplink.CodeTooSoon)
	if ue, _ := errors.AsType[*uplink.Error](err); ue.RetryAfter != 12*time.Second {
		t.Errorf("RetryAfter = %v", ue.RetryAfter)
	}
}

func TestOrderValidate(t *testing.T) {
	var o uplink.Order
	if err := json.Unmarshal([]byte(orderReply), &o); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("good order: %v", err)
	}
	now := time.Now()
	paid := o
	paid.Status, paid.PaymentID, paid.PaidAt = uplink.OrderPaid, "P1", &now
	if err := paid.Validate(); err != nil {
		t.Fatalf("paid: %v", err)
	}
	refunded := paid
	refunded.Status, refunded.ReversedAt = uplink.OrderReversed, &now
	if err := refunded.Validate(); err != nil || !refunded.Refunded() {
		t.Fatalf("reversed after paid: %v", err)
	}
	bad := map[string]uplink.Order{}
	b := o
	b.Kind, b.QRPayload = uplink.OrderDynamicQR, ""
	bad["QR without payload"] = b
	b = o
	b.Wallet = ""
	bad["code without wallet"] = b
	b = paid
	b.PaidAt = nil
	bad["paid without paidAt"] = b
	b = o
	b.Status, b.ClosedAt, b.PaymentID = uplink.OrderClosed, &now, "P1"
	bad["closed with payment"] = b
	b = o
	b.Status = "lost"
	bad["unknown status"] = b
	b = o
	b.PaymentID = "P1"
	bad["pending with payment"] = b
	for name, o := range bad {
		if o.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
