package uplink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxReplyBytes caps how much of a reply body the client reads. A reply
// larger than this is refused, so a hostile or broken server cannot make
// the terminal allocate without bound.
const MaxReplyBytes = 1 << 20

// Client talks API v1 to one platform. The zero value is not usable: set
// BaseURL and TerminalID (NewClient does). Safe for concurrent use; do not
// copy after first use.
type Client struct {
	// BaseURL is the platform root, e.g. "https://platform.example" (the
	// client appends /v1/...).
	BaseURL string
	// TerminalID goes into X-Terminal-Id on every request and into
	// PaymentRequest.TerminalID when that is empty.
	TerminalID string
	// HTTP is the client used for every call; nil means one built by
	// NewHTTPClient on first use.
	HTTP *http.Client
	// Signer, when set, signs every request with the device key (RFC 9421,
	// see signing.go); nil sends unsigned requests (demo platforms).
	Signer *Signer

	once   sync.Once
	lazyHC *http.Client
}

// NewClient returns a Client with an HTTP client from NewHTTPClient.
func NewClient(baseURL, terminalID string) *Client {
	return &Client{BaseURL: baseURL, TerminalID: terminalID, HTTP: NewHTTPClient()}
}

// NewHTTPClient returns an *http.Client with timeouts fit for a terminal on
// a poor link: every phase is bounded, the whole call takes at most 15 s,
// redirects are not followed (a redirected POST is never resent blindly; the
// 3xx comes back as a retryable error) and no proxy is taken from the
// environment.
func NewHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       60 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	c.once.Do(func() { c.lazyHC = NewHTTPClient() })
	return c.lazyHC
}

func invalidArg(format string, args ...any) error {
	return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

// Bill looks up the current bill of an account. A 404 (unknown account) is
// final: check with IsNotFound.
func (c *Client) Bill(ctx context.Context, utility Utility, account string) (Bill, error) {
	if !ValidUtility(utility) {
		return Bill{}, invalidArg("unknown utility %q", utility)
	}
	if !ValidAccount(account) {
		return Bill{}, invalidArg("account must be 6..20 digits")
	}
	var b Bill
	_, err := c.do(ctx, http.MethodGet, "/v1/bills/"+url.PathEscape(string(utility))+"/"+url.PathEscape(account), nil, "", &b)
	if err != nil {
		return Bill{}, fmt.Errorf("bill %s/%s: %w", utility, account, err)
	}
	if err := b.Validate(); err != nil {
		return Bill{}, fmt.Errorf("bill %s/%s: %w", utility, account, badReply(http.StatusOK, err.Error()))
	}
	if b.Utility != utility || b.Account != account {
		return Bill{}, fmt.Errorf("bill %s/%s: %w", utility, account, badReply(http.StatusOK, "reply is for "+string(b.Utility)+"/"+b.Account))
	}
	return b, nil
}

// Pay sends a payment under the Idempotency-Key the terminal journaled with
// it. 201 (new) and 200 (replay of the same key and body) both return the
// committed Payment. On a retryable error, send the same key and request
// again later; on a final error (IsFinal) nothing was committed.
//
// Because the request carries Idempotency-Key, net/http may itself resend
// it once when a reused keep-alive connection dies before any reply; the
// platform's deduplication makes that harmless.
func (c *Client) Pay(ctx context.Context, key string, req PaymentRequest) (Payment, error) {
	if !ValidIdempotencyKey(key) {
		return Payment{}, invalidArg("idempotency key %q is not a lower-case UUID", key)
	}
	if req.TerminalID == "" {
		req.TerminalID = c.TerminalID
	}
	if req.TerminalID != c.TerminalID {
		return Payment{}, invalidArg("request terminalId %q differs from client %q", req.TerminalID, c.TerminalID)
	}
	if err := req.Validate(); err != nil {
		return Payment{}, invalidArg("%v", err)
	}
	if req.Notes == nil {
		req.Notes = []Note{} // method voucher: the contract wants [], not null
	}
	body, err := json.Marshal(req)
	if err != nil {
		return Payment{}, fmt.Errorf("pay %s: encode request: %w", key, err)
	}
	var p Payment
	if _, err := c.do(ctx, http.MethodPost, "/v1/payments", body, key, &p); err != nil {
		return Payment{}, fmt.Errorf("pay %s: %w", key, err)
	}
	if err := p.Validate(); err != nil {
		return Payment{}, fmt.Errorf("pay %s: %w", key, badReply(http.StatusOK, err.Error()))
	}
	if p.IdempotencyKey != key || p.Utility != req.Utility || p.Account != req.Account || p.Amount != req.Amount {
		return Payment{}, fmt.Errorf("pay %s: %w", key, badReply(http.StatusOK,
			fmt.Sprintf("reply is for key %s %s/%s %d fen", p.IdempotencyKey, p.Utility, p.Account, p.Amount)))
	}
	return p, nil
}

// PaymentByKey asks whether a payment with this Idempotency-Key was
// committed. A 404 means "not committed so far": a request still in flight
// may commit later, so it is no proof for a refund. Resending the payment
// with the same key is always safe and settles the question.
func (c *Client) PaymentByKey(ctx context.Context, key string) (Payment, error) {
	if !ValidIdempotencyKey(key) {
		return Payment{}, invalidArg("idempotency key %q is not a lower-case UUID", key)
	}
	var p Payment
	if _, err := c.do(ctx, http.MethodGet, "/v1/payments?idempotencyKey="+url.QueryEscape(key), nil, "", &p); err != nil {
		return Payment{}, fmt.Errorf("payment by key %s: %w", key, err)
	}
	if err := p.Validate(); err != nil {
		return Payment{}, fmt.Errorf("payment by key %s: %w", key, badReply(http.StatusOK, err.Error()))
	}
	if p.IdempotencyKey != key {
		return Payment{}, fmt.Errorf("payment by key %s: %w", key, badReply(http.StatusOK, "reply is for key "+p.IdempotencyKey))
	}
	return p, nil
}

// PaymentByID fetches a committed payment by the platform's paymentId.
func (c *Client) PaymentByID(ctx context.Context, paymentID string) (Payment, error) {
	if paymentID == "" || len(paymentID) > 64 {
		return Payment{}, invalidArg("paymentId must be 1..64 characters")
	}
	var p Payment
	if _, err := c.do(ctx, http.MethodGet, "/v1/payments/"+url.PathEscape(paymentID), nil, "", &p); err != nil {
		return Payment{}, fmt.Errorf("payment %s: %w", paymentID, err)
	}
	if err := p.Validate(); err != nil {
		return Payment{}, fmt.Errorf("payment %s: %w", paymentID, badReply(http.StatusOK, err.Error()))
	}
	if p.PaymentID != paymentID {
		return Payment{}, fmt.Errorf("payment %s: %w", paymentID, badReply(http.StatusOK, "reply is for "+p.PaymentID))
	}
	return p, nil
}

// ownTerminal fills an empty request terminalId from the client and
// refuses one that differs (the platform would answer 400).
func (c *Client) ownTerminal(id *string) error {
	if *id == "" {
		*id = c.TerminalID
	}
	if *id != c.TerminalID {
		return invalidArg("request terminalId %q differs from client %q", *id, c.TerminalID)
	}
	return nil
}

// checkSend refuses a request before it is sent: a key that is not a
// lower-case UUID, another terminal's id (an empty one becomes this
// client's), or a request that is not valid. req points at the request,
// so it is validated with the terminal id filled in.
func (c *Client) checkSend(key string, terminalID *string, req interface{ Validate() error }) error {
	if !ValidIdempotencyKey(key) {
		return invalidArg("idempotency key %q is not a lower-case UUID", key)
	}
	if err := c.ownTerminal(terminalID); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return invalidArg("%v", err)
	}
	return nil
}

// send posts body under key and decodes the reply into out.
func (c *Client) send(ctx context.Context, path, key string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	_, err = c.do(ctx, http.MethodPost, path, b, key, out)
	return err
}

// IssueVoucher tells the platform about a voucher the terminal issued,
// under the Idempotency-Key journaled with it. 201 (new) and 200 (replay)
// both return the voucher as it is now: a replay after the voucher was
// redeemed shows status redeemed. A voucher a payment redeemed before its
// issue reached the platform is accepted too (status redeemed). On a
// retryable error resend the same key and request.
func (c *Client) IssueVoucher(ctx context.Context, key string, req VoucherRequest) (Voucher, error) {
	if err := c.checkSend(key, &req.TerminalID, &req); err != nil {
		return Voucher{}, err
	}
	var v Voucher
	if err := c.send(ctx, "/v1/vouchers", key, req, &v); err != nil {
		return Voucher{}, fmt.Errorf("issue voucher %s: %w", req.VoucherID, err)
	}
	if err := v.Validate(); err != nil {
		return Voucher{}, fmt.Errorf("issue voucher %s: %w", req.VoucherID, badReply(http.StatusOK, err.Error()))
	}
	if v.VoucherID != req.VoucherID || v.TerminalID != req.TerminalID || v.Amount != req.Amount {
		return Voucher{}, fmt.Errorf("issue voucher %s: %w", req.VoucherID, badReply(http.StatusOK,
			fmt.Sprintf("reply is for voucher %s of %s, %d fen", v.VoucherID, v.TerminalID, v.Amount)))
	}
	return v, nil
}

// Voucher fetches one of this terminal's vouchers. A 404 means the platform
// has no such voucher for this terminal (its issue may not have arrived).
func (c *Client) Voucher(ctx context.Context, voucherID string) (Voucher, error) {
	if !ValidVoucherID(voucherID) {
		return Voucher{}, invalidArg("voucherId %q is not V and 12 of A-Z 0-9", voucherID)
	}
	var v Voucher
	if _, err := c.do(ctx, http.MethodGet, "/v1/vouchers/"+url.PathEscape(voucherID), nil, "", &v); err != nil {
		return Voucher{}, fmt.Errorf("voucher %s: %w", voucherID, err)
	}
	if err := v.Validate(); err != nil {
		return Voucher{}, fmt.Errorf("voucher %s: %w", voucherID, badReply(http.StatusOK, err.Error()))
	}
	if v.VoucherID != voucherID || v.TerminalID != c.TerminalID {
		return Voucher{}, fmt.Errorf("voucher %s: %w", voucherID, badReply(http.StatusOK, "reply is for voucher "+v.VoucherID+" of "+v.TerminalID))
	}
	return v, nil
}

// RefundVoucher records that staff paid a voucher out in cash. It returns
// the voucher, status refunded. Final errors: 404 (unknown), 409
// voucher_unavailable (already redeemed, or refunded under another key),
// 422 voucher_mismatch (wrong code). The voucher's issue must reach the
// platform first.
func (c *Client) RefundVoucher(ctx context.Context, key, voucherID string, req VoucherRefundRequest) (Voucher, error) {
	if !ValidIdempotencyKey(key) {
		return Voucher{}, invalidArg("idempotency key %q is not a lower-case UUID", key)
	}
	if !ValidVoucherID(voucherID) {
		return Voucher{}, invalidArg("voucherId %q is not V and 12 of A-Z 0-9", voucherID)
	}
	if err := c.ownTerminal(&req.TerminalID); err != nil {
		return Voucher{}, err
	}
	if err := req.Validate(); err != nil {
		return Voucher{}, invalidArg("%v", err)
	}
	var v Voucher
	if err := c.send(ctx, "/v1/vouchers/"+url.PathEscape(voucherID)+"/refund", key, req, &v); err != nil {
		return Voucher{}, fmt.Errorf("refund voucher %s: %w", voucherID, err)
	}
	if err := v.Validate(); err != nil {
		return Voucher{}, fmt.Errorf("refund voucher %s: %w", voucherID, badReply(http.StatusOK, err.Error()))
	}
	if v.VoucherID != voucherID || v.TerminalID != req.TerminalID || v.Status != VoucherRefunded {
		return Voucher{}, fmt.Errorf("refund voucher %s: %w", voucherID, badReply(http.StatusOK,
			fmt.Sprintf("reply is voucher %s of %s in status %s", v.VoucherID, v.TerminalID, v.Status)))
	}
	return v, nil
}

// CreateOrder opens a mobile order under the Idempotency-Key journaled with
// it. 201 (new) and 200 (replay) both return the order as it is now, so a
// replay after a lost reply also tells whether it was paid meanwhile.
func (c *Client) CreateOrder(ctx context.Context, key string, req OrderRequest) (Order, error) {
	if err := c.checkSend(key, &req.TerminalID, &req); err != nil {
		return Order{}, err
	}
	var o Order
	if err := c.send(ctx, "/v1/orders", key, req, &o); err != nil {
		return Order{}, fmt.Errorf("create order %s: %w", req.OrderID, err)
	}
	if err := o.Validate(); err != nil {
		return Order{}, fmt.Errorf("create order %s: %w", req.OrderID, badReply(http.StatusOK, err.Error()))
	}
	if o.OrderID != req.OrderID || o.TerminalID != req.TerminalID || o.Utility != req.Utility ||
		o.Account != req.Account || o.Amount != req.Amount || o.Kind != req.Kind {
		return Order{}, fmt.Errorf("create order %s: %w", req.OrderID, badReply(http.StatusOK,
			fmt.Sprintf("reply is for order %s %s/%s %d fen %s", o.OrderID, o.Utility, o.Account, o.Amount, o.Kind)))
	}
	return o, nil
}

// Order queries one of this terminal's orders (every OrderQueryInterval
// while it is pending).
func (c *Client) Order(ctx context.Context, orderID string) (Order, error) {
	if !ValidOrderID(orderID) {
		return Order{}, invalidArg("orderId %q is invalid", orderID)
	}
	var o Order
	if _, err := c.do(ctx, http.MethodGet, "/v1/orders/"+url.PathEscape(orderID), nil, "", &o); err != nil {
		return Order{}, fmt.Errorf("order %s: %w", orderID, err)
	}
	return c.checkOrder("order", orderID, o)
}

func (c *Client) checkOrder(op, orderID string, o Order, want ...OrderStatus) (Order, error) {
	if err := o.Validate(); err != nil {
		return Order{}, fmt.Errorf("%s %s: %w", op, orderID, badReply(http.StatusOK, err.Error()))
	}
	if o.OrderID != orderID || o.TerminalID != c.TerminalID {
		return Order{}, fmt.Errorf("%s %s: %w", op, orderID, badReply(http.StatusOK, "reply is for order "+o.OrderID+" of "+o.TerminalID))
	}
	if len(want) > 0 && !slices.Contains(want, o.Status) {
		return Order{}, fmt.Errorf("%s %s: %w", op, orderID, badReply(http.StatusOK, "reply shows status "+string(o.Status)))
	}
	return o, nil
}

// ReverseOrder ends an order for good: a pending order is cancelled, a paid
// one refunded (the bill payment is un-applied). An order that already
// ended unpaid comes back as it is (closed or reversed). Final errors: 404,
// and 409 too_soon within ReverseGuard of paidAt (Error.RetryAfter says
// how long to wait; a later attempt may reuse the same key).
func (c *Client) ReverseOrder(ctx context.Context, key, orderID string, req OrderActionRequest) (Order, error) {
	return c.endOrder(ctx, "reverse", key, orderID, req)
}

// CloseOrder closes a never-paid order. An order that already ended unpaid
// comes back as it is. Final errors: 404, and 409 order_paid when the
// resident paid in the meantime (then reverse it or keep the payment).
func (c *Client) CloseOrder(ctx context.Context, key, orderID string, req OrderActionRequest) (Order, error) {
	return c.endOrder(ctx, "close", key, orderID, req)
}

func (c *Client) endOrder(ctx context.Context, action, key, orderID string, req OrderActionRequest) (Order, error) {
	op := action + " order"
	if !ValidIdempotencyKey(key) {
		return Order{}, invalidArg("idempotency key %q is not a lower-case UUID", key)
	}
	if !ValidOrderID(orderID) {
		return Order{}, invalidArg("orderId %q is invalid", orderID)
	}
	if err := c.ownTerminal(&req.TerminalID); err != nil {
		return Order{}, err
	}
	if err := req.Validate(); err != nil {
		return Order{}, invalidArg("%v", err)
	}
	var o Order
	if err := c.send(ctx, "/v1/orders/"+url.PathEscape(orderID)+"/"+action, key, req, &o); err != nil {
		return Order{}, fmt.Errorf("%s %s: %w", op, orderID, err)
	}
	// Success means the order has ended without the resident's money.
	return c.checkOrder(op, orderID, o, OrderClosed, OrderReversed)
}

// Health checks that the platform answers and says "ok".
func (c *Client) Health(ctx context.Context) error {
	var h Health
	if _, err := c.do(ctx, http.MethodGet, "/v1/health", nil, "", &h); err != nil {
		return fmt.Errorf("health: %w", err)
	}
	if h.Status != "ok" {
		return fmt.Errorf("health: %w", &Error{Status: http.StatusOK, Code: CodeUnavailable, Message: "platform status " + strconv.Quote(h.Status), Retryable: true})
	}
	return nil
}

func badReply(status int, msg string) *Error {
	return &Error{Status: status, Code: CodeBadReply, Message: msg, Retryable: true}
}

// do sends one request and decodes a 2xx JSON reply into out. It returns
// the status. Every failure is an *Error, a transport error (wrapped *url.Error)
// or, when the caller's ctx ended, an error that wraps ctx.Err(). hdr are
// extra request headers as name, value pairs (If-None-Match of a catalog).
func (c *Client) do(ctx context.Context, method, path string, body []byte, key string, out any, hdr ...string) (int, error) {
	if c.BaseURL == "" {
		return 0, invalidArg("client has no BaseURL")
	}
	if !ValidTerminalID(c.TerminalID) {
		return 0, invalidArg("client terminal id %q is invalid", c.TerminalID)
	}
	u := strings.TrimRight(c.BaseURL, "/") + path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body) // NewRequest sets GetBody, so the transport may replay it
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, invalidArg("build request: %v", err)
	}
	req.Header.Set(HeaderTerminalID, c.TerminalID)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set(HeaderIdempotencyKey, key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.signedHTTP().Do(req)
	if err != nil {
		return 0, withCtx(ctx, fmt.Errorf("%s %s: %w", method, path, err))
	}
	defer resp.Body.Close()

	// Read one byte past the cap to tell "exactly 1 MiB" from "more".
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxReplyBytes+1))
	if rerr != nil {
		if cerr := withCtx(ctx, rerr); cerr != rerr {
			return resp.StatusCode, fmt.Errorf("%s %s: read reply: %w", method, path, cerr)
		}
		return resp.StatusCode, badReply(resp.StatusCode, fmt.Sprintf("%s %s: read reply: %v", method, path, rerr))
	}
	tooBig := len(data) > MaxReplyBytes

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, statusError(resp, data, tooBig)
	}
	if tooBig {
		return resp.StatusCode, badReply(resp.StatusCode, fmt.Sprintf("reply larger than %d bytes", MaxReplyBytes))
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return resp.StatusCode, badReply(resp.StatusCode, fmt.Sprintf("reply content type %q, want application/json", resp.Header.Get("Content-Type")))
	}
	if err := decodeStrictOne(data, out); err != nil {
		return resp.StatusCode, badReply(resp.StatusCode, "decode reply: "+err.Error())
	}
	return resp.StatusCode, nil
}

// withCtx makes a cancelled or expired caller context visible to errors.Is,
// whatever the transport chose to report.
func withCtx(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w (%w)", cerr, err)
}

// decodeStrictOne decodes exactly one JSON value; a literal null or trailing
// data is an error. Unknown fields are accepted so that the platform can add
// fields within v1.
func decodeStrictOne(data []byte, out any) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return errors.New("reply is null")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(out); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// statusError turns a non-2xx reply into an *Error classified by status.
// The body, if it is the contract's ErrorBody, supplies code and message.
func statusError(resp *http.Response, data []byte, tooBig bool) *Error {
	e := &Error{
		Status:    resp.StatusCode,
		Code:      "http_" + strconv.Itoa(resp.StatusCode),
		Message:   http.StatusText(resp.StatusCode),
		Retryable: retryableStatus(resp.StatusCode),
	}
	var eb ErrorBody
	if !tooBig && json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
		e.Code = eb.Error.Code
		e.Message = eb.Error.Message
		e.body = data // for replies whose detail goes beyond ErrorDetail (applicationError)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(ra); err == nil && secs >= 0 && secs <= 3600 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	return e
}
