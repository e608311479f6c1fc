package uplink_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"tongban/kiosk/uplink"
)

const terminal = "T-TEST-0001"

func TestValidators(t *testing.T) {
	for _, u := range uplink.Utilities() {
		if !uplink.ValidUtility(u) {
			t.Errorf("%s invalid", u)
		}
	}
	for _, u := range []uplink.Utility{"", "Water", "phone", "water "} {
		if uplink.ValidUtility(u) {
			t.Errorf("%q valid", u)
		}
	}
	for s, want := range map[string]bool{
		"123456": true, "12345678901234567890": true, "000100": true,
		"12345": false, "123456789012345678901": false, "12345a": false, "１２３４５６": false, "": false, "123 456": false,
	} {
		if got := uplink.ValidAccount(s); got != want {
			t.Errorf("ValidAccount(%q) = %v", s, got)
		}
	}
	seen := map[string]bool{}
	for range 100 {
		k := uplink.NewIdempotencyKey()
		if !uplink.ValidIdempotencyKey(k) || seen[k] || k[14] != '4' {
			t.Fatalf("bad or repeated key %q", k)
		}
		seen[k] = true
	}
	for _, k := range []string{"", "6F9619FF-8B86-D011-B42D-00C04FC964FF", "6f9619ff8b86d011b42d00c04fc964ff", "6f9619ff-8b86-d011-b42d-00c04fc964f", "6f9619ff-8b86-d011-b42d_00c04fc964ff"} {
		if uplink.ValidIdempotencyKey(k) {
			t.Errorf("key %q valid", k)
		}
	}
	if uplink.ValidTerminalID("") || uplink.ValidTerminalID("T 1") || uplink.ValidTerminalID(strings.Repeat("a", 65)) || !uplink.ValidTerminalID("TB-370-0001.a_b") {
		t.Error("ValidTerminalID")
	}
}

func goodRequest() uplink.PaymentRequest {
	return uplink.PaymentRequest{
		TerminalID: terminal, Utility: uplink.Water, Account: "100100100001", BillID: "SF202610-100100100001",
		Amount: 8650, Method: uplink.MethodCash,
		Notes:       []uplink.Note{{Value: 5000, Count: 1}, {Value: 1000, Count: 3}, {Value: 500, Count: 1}, {Value: 100, Count: 1}, {Value: 50, Count: 1}},
		JournaledAt: time.Date(2026, 11, 27, 8, 30, 0, 0, time.UTC),
	}
}

func TestPaymentRequestValidate(t *testing.T) {
	if err := goodRequest().Validate(); err != nil {
		t.Fatalf("good request: %v", err)
	}
	cases := map[string]func(*uplink.PaymentRequest){
		"zero amount":      func(r *uplink.PaymentRequest) { r.Amount = 0; r.Notes = nil },
		"negative amount":  func(r *uplink.PaymentRequest) { r.Amount = -100 },
		"notes != amount":  func(r *uplink.PaymentRequest) { r.Amount = 8600 },
		"no notes":         func(r *uplink.PaymentRequest) { r.Notes = nil },
		"odd denomination": func(r *uplink.PaymentRequest) { r.Notes = []uplink.Note{{Value: 8650, Count: 1}} },
		"zero count":       func(r *uplink.PaymentRequest) { r.Notes[0].Count = 0; r.Amount -= 5000 },
		"method":           func(r *uplink.PaymentRequest) { r.Method = "wechat" },
		"no journaledAt":   func(r *uplink.PaymentRequest) { r.JournaledAt = time.Time{} },
		"bad account":      func(r *uplink.PaymentRequest) { r.Account = "12" },
		"bad utility":      func(r *uplink.PaymentRequest) { r.Utility = "phone" },
		"no billId":        func(r *uplink.PaymentRequest) { r.BillID = "" },
		"too large": func(r *uplink.PaymentRequest) {
			r.Amount = 6_000_000
			r.Notes = []uplink.Note{{Value: 10000, Count: 600}}
		},
	}
	for name, mut := range cases {
		r := goodRequest()
		mut(&r)
		if err := r.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Canonical form ignores note order and time zone.
	a, b := goodRequest(), goodRequest()
	b.Notes = []uplink.Note{b.Notes[4], b.Notes[2], b.Notes[0], b.Notes[3], b.Notes[1]}
	b.JournaledAt = b.JournaledAt.In(time.FixedZone("CST", 8*3600))
	ja, _ := json.Marshal(a.Canonical())
	jb, _ := json.Marshal(b.Canonical())
	if string(ja) != string(jb) {
		t.Errorf("canonical forms differ:\n%s\n%s", ja, jb)
	}
	if b.Notes[0].Value != 50 {
		t.Error("Canonical modified its receiver's notes")
	}
}

func TestIsRetryable(t *testing.T) {
	ctxCancelled := fmt.Errorf("pay: %w", &url.Error{Op: "Post", URL: "http://x", Err: context.Canceled})
	cases := []struct {
		name             string
		err              error
		retryable, final bool
	}{
		{"nil", nil, false, false},
		{"503", &uplink.Error{Status: 503, Retryable: true}, true, false},
		{"404 wrapped", fmt.Errorf("bill: %w", &uplink.Error{Status: 404}), false, true},
		{"caller cancel", ctxCancelled, false, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), true, false},
		{"dial", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true, false},
		{"url error", &url.Error{Op: "Get", URL: "http://x", Err: io.EOF}, true, false},
		{"unexpected EOF", io.ErrUnexpectedEOF, true, false},
		{"plain", errors.New("something"), false, false},
	}
	for _, c := range cases {
		if got := uplink.IsRetryable(c.err); got != c.retryable {
			t.Errorf("%s: IsRetryable = %v", c.name, got)
		}
		if got := uplink.IsFinal(c.err); got != c.final {
			t.Errorf("%s: IsFinal = %v", c.name, got)
		}
	}
}

// fake starts a loopback server with handler h and a client for it.
func fake(t *testing.T, h http.HandlerFunc) *uplink.Client {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	hc := uplink.NewHTTPClient()
	hc.Timeout = 2 * time.Second
	return &uplink.Client{BaseURL: ts.URL + "/", TerminalID: terminal, HTTP: hc}
}

func jsonReply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

const goodBill = `{"utility":"water","account":"100100100001","payee":"县自来水公司","holder":"张*","address":"城关镇幸福路****","period":"2026-10","amountDue":8650,"arrears":0,"prepaid":0,"currency":"CNY","billId":"SF202610-100100100001","extra":"ignored"}`

func TestClientSendsContract(t *testing.T) {
	key := uplink.NewIdempotencyKey()
	var got struct {
		method, path, term, idem, ctype string
		body                            map[string]any
	}
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		got.method, got.path = r.Method, r.URL.RequestURI()
		got.term, got.idem, got.ctype = r.Header.Get("X-Terminal-Id"), r.Header.Get("Idempotency-Key"), r.Header.Get("Content-Type")
		got.body = nil
		_ = json.NewDecoder(r.Body).Decode(&got.body)
		switch {
		case r.URL.Path == "/v1/bills/water/100100100001":
			jsonReply(w, 200, goodBill)
		case r.URL.Path == "/v1/payments" && r.Method == "POST":
			jsonReply(w, 201, `{"paymentId":"P1","idempotencyKey":"`+key+`","terminalId":"`+terminal+`","utility":"water","account":"100100100001","billId":"SF202610-100100100001","amount":8650,"appliedToBill":8650,"prepaidCredit":0,"acceptedAt":"2026-11-27T08:30:01Z","verifyUrl":"http://p/verify/P1?c=ABC123","verifyCode":"ABC123"}`)
		default:
			jsonReply(w, 404, `{"error":{"code":"not_found","message":"nope","retryable":false}}`)
		}
	})
	ctx := context.Background()
	b, err := c.Bill(ctx, uplink.Water, "100100100001")
	if err != nil || b.AmountDue != 8650 || b.Holder != "张*" {
		t.Fatalf("bill: %+v %v", b, err)
	}
	if got.method != "GET" || got.term != terminal || got.idem != "" {
		t.Fatalf("bill request: %+v", got)
	}
	req := goodRequest()
	req.TerminalID = "" // filled from the client
	p, err := c.Pay(ctx, key, req)
	if err != nil || p.PaymentID != "P1" {
		t.Fatalf("pay: %+v %v", p, err)
	}
	if got.method != "POST" || got.path != "/v1/payments" || got.idem != key || got.term != terminal || got.ctype != "application/json" {
		t.Fatalf("pay request: %+v", got)
	}
	for _, f := range []string{"terminalId", "utility", "account", "billId", "amount", "method", "notes", "journaledAt"} {
		if _, ok := got.body[f]; !ok {
			t.Errorf("pay body lacks %q: %v", f, got.body)
		}
	}
	if got.body["terminalId"] != terminal || got.body["amount"] != float64(8650) {
		t.Errorf("pay body: %v", got.body)
	}
	_, err = c.PaymentByKey(ctx, key)
	if got.path != "/v1/payments?idempotencyKey="+key || !uplink.IsNotFound(err) || !uplink.IsFinal(err) {
		t.Fatalf("by key: %s %v", got.path, err)
	}
	if ue, _ := errors.AsType[*uplink.Error](err); ue.Code != "not_found" || ue.Message != "nope" {
		t.Fatalf("error body not used: %+v", ue)
	}
	// Refused before sending: bad key, terminal mismatch, invalid body.
	before := got.path
	if _, err := c.Pay(ctx, "KEY", goodRequest()); !uplink.IsFinal(err) {
		t.Errorf("bad key: %v", err)
	}
	other := goodRequest()
	other.TerminalID = "T-OTHER"
	if _, err := c.Pay(ctx, key, other); !uplink.IsFinal(err) {
		t.Errorf("terminal mismatch: %v", err)
	}
	bad := goodRequest()
	bad.Amount++
	if _, err := c.Pay(ctx, key, bad); !uplink.IsFinal(err) {
		t.Errorf("invalid request: %v", err)
	}
	if got.path != before {
		t.Error("a refused call reached the server")
	}
}

func TestHostileReplies(t *testing.T) {
	key := uplink.NewIdempotencyKey()
	ctx := context.Background()
	cases := []struct {
		name      string
		h         http.HandlerFunc
		retryable bool
		status    int
		code      string
	}{
		{"garbage JSON 200", func(w http.ResponseWriter, _ *http.Request) { jsonReply(w, 200, `{"utility":"wat`) }, true, 200, uplink.CodeBadReply},
		{"JSON null 200", func(w http.ResponseWriter, _ *http.Request) { jsonReply(w, 200, `null`) }, true, 200, uplink.CodeBadReply},
		{"JSON array 200", func(w http.ResponseWriter, _ *http.Request) { jsonReply(w, 200, `[1,2]`) }, true, 200, uplink.CodeBadReply},
		{"trailing data", func(w http.ResponseWriter, _ *http.Request) { jsonReply(w, 200, goodBill+`{}`) }, true, 200, uplink.CodeBadReply},
		{"empty object 200", func(w http.ResponseWriter, _ *http.Request) { jsonReply(w, 200, `{}`) }, true, 200, uplink.CodeBadReply},
		{"wrong account 200", func(w http.ResponseWriter, _ *http.Request) {
			jsonReply(w, 200, strings.Replace(goodBill, "100100100001", "100100100009", 1))
		}, true, 200, uplink.CodeBadReply},
		{"negative amount 200", func(w http.ResponseWriter, _ *http.Request) {
			jsonReply(w, 200, strings.Replace(goodBill, `"amountDue":8650`, `"amountDue":-1`, 1))
		}, true, 200, uplink.CodeBadReply},
		{"HTML 200", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html><body>Wi-Fi login</body></html>")
		}, true, 200, uplink.CodeBadReply},
		{"10 MiB 200", func(w http.ResponseWriter, _ *http.Request) {
			// A well-formed reply, only too large: the cap alone must refuse it.
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"pad":"`)
			chunk := strings.Repeat("x", 64<<10)
			for range 160 {
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
			_, _ = io.WriteString(w, `",`+goodBill[1:])
		}, true, 200, uplink.CodeBadReply},
		{"10 MiB 500", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(500)
			_, _ = io.WriteString(w, strings.Repeat("y", 10<<20))
		}, true, 500, "http_500"},
		{"HTML 502", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "<h1>Bad Gateway</h1>")
		}, true, 502, "http_502"},
		{"empty 404", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(404) }, false, 404, "http_404"},
		{"error body 400", func(w http.ResponseWriter, _ *http.Request) {
			jsonReply(w, 400, `{"error":{"code":"bad_request","message":"m","retryable":true}}`) // status wins over the body's flag
		}, false, 400, "bad_request"},
		{"429", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "7")
			jsonReply(w, 429, `{"error":{"code":"rate_limited","message":"slow down","retryable":true}}`)
		}, true, 429, "rate_limited"},
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusFound)
		}, true, 302, "http_302"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := fake(t, c.h)
			_, err := cl.Bill(ctx, uplink.Water, "100100100001")
			checkErr(t, err, c.retryable, c.status, c.code)
			if c.name == "429" {
				if ue, _ := errors.AsType[*uplink.Error](err); ue.RetryAfter != 7*time.Second {
					t.Errorf("RetryAfter = %v", ue.RetryAfter)
				}
			}
			_, err = cl.Pay(ctx, key, goodRequest())
			checkErr(t, err, c.retryable, c.status, c.code)
		})
	}
}

func checkErr(t *testing.T, err error, retryable bool, status int, code string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	ue, ok := errors.AsType[*uplink.Error](err)
	if !ok {
		t.Fatalf("not an *uplink.Error: %v", err)
	}
	if ue.Retryable != retryable || uplink.IsRetryable(err) != retryable || uplink.IsFinal(err) == retryable {
		t.Errorf("retryable = %v, want %v: %v", ue.Retryable, retryable, err)
	}
	if ue.Status != status || ue.Code != code {
		t.Errorf("status/code = %d/%s, want %d/%s: %v", ue.Status, ue.Code, status, code, err)
	}
}

func TestPayReplyMismatchIsRetryable(t *testing.T) {
	// A 201 for another key must not be taken as this payment's receipt.
	c := fake(t, func(w http.ResponseWriter, _ *http.Request) {
		jsonReply(w, 201, `{"paymentId":"P1","idempotencyKey":"`+uplink.NewIdempotencyKey()+`","terminalId":"T","utility":"water","account":"100100100001","billId":"b","amount":8650,"appliedToBill":8650,"prepaidCredit":0,"acceptedAt":"2026-11-27T08:30:01Z","verifyUrl":"http://p/v","verifyCode":"ABC123"}`)
	})
	_, err := c.Pay(context.Background(), uplink.NewIdempotencyKey(), goodRequest())
	checkErr(t, err, true, 200, uplink.CodeBadReply)
}

func TestTransportFailures(t *testing.T) {
	ctx := context.Background()
	// Connection refused: a port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := uplink.NewClient("http://"+addr, terminal)
	if err := c.Health(ctx); err == nil || !uplink.IsRetryable(err) || uplink.IsFinal(err) {
		t.Errorf("refused: %v", err)
	}

	// Connection closed without a reply.
	c = fake(t, func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	if _, err := c.Pay(ctx, uplink.NewIdempotencyKey(), goodRequest()); err == nil || !uplink.IsRetryable(err) || uplink.IsFinal(err) {
		t.Errorf("dropped: %v", err)
	}

	// Body cut short after the headers.
	c = fake(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, `{"utility":`)
		_ = http.NewResponseController(w).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	if _, err := c.Bill(ctx, uplink.Water, "100100100001"); err == nil || !uplink.IsRetryable(err) {
		t.Errorf("short body: %v", err)
	}

	// A server that never answers: client timeout, caller deadline, caller cancel.
	release := make(chan struct{})
	c = fake(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	c.HTTP.Timeout = 200 * time.Millisecond
	if err := c.Health(ctx); !uplink.IsRetryable(err) {
		t.Errorf("client timeout: %v", err)
	}
	c.HTTP.Timeout = 10 * time.Second
	dctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	if err := c.Health(dctx); !errors.Is(err, context.DeadlineExceeded) || !uplink.IsRetryable(err) {
		t.Errorf("caller deadline: %v", err)
	}
	cctx, cancel2 := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel2)
	_, err = c.Pay(cctx, uplink.NewIdempotencyKey(), goodRequest())
	if !errors.Is(err, context.Canceled) || uplink.IsRetryable(err) || uplink.IsFinal(err) {
		t.Errorf("caller cancel: %v", err)
	}
}

func TestClientMisconfigured(t *testing.T) {
	ctx := context.Background()
	if err := (&uplink.Client{TerminalID: terminal}).Health(ctx); !uplink.IsFinal(err) {
		t.Errorf("no BaseURL: %v", err)
	}
	if err := (&uplink.Client{BaseURL: "http://127.0.0.1:1", TerminalID: "bad id"}).Health(ctx); !uplink.IsFinal(err) {
		t.Errorf("bad terminal id: %v", err)
	}
	// A zero HTTP field still works (lazy default client).
	c := fake(t, func(w http.ResponseWriter, _ *http.Request) {
		jsonReply(w, 200, `{"status":"ok","time":"2026-11-27T08:30:00Z"}`)
	})
	c.HTTP = nil
	if err := c.Health(ctx); err != nil {
		t.Errorf("lazy client: %v", err)
	}
}

func TestReplyCapStopsEndlessBody(t *testing.T) {
	// An endless reply: only the 1 MiB cap ends the read before the timeout.
	c := fake(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"pad":"`)
		chunk := strings.Repeat("x", 64<<10)
		for {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	})
	t0 := time.Now()
	_, err := c.Bill(context.Background(), uplink.Water, "100100100001")
	checkErr(t, err, true, 200, uplink.CodeBadReply)
	if !strings.Contains(err.Error(), "larger than") || time.Since(t0) > 1500*time.Millisecond {
		t.Fatalf("endless body not cut at the cap: %v after %v", err, time.Since(t0))
	}
}
