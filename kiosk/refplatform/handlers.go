package refplatform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	bolt "go.etcd.io/bbolt"

	"tongban/kiosk/uplink"
)

// maxRequestBody bounds request bodies; a payment is well under 2 KiB.
const maxRequestBody = 64 << 10

func (s *Server) routes() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET /v1/health", s.handleHealth)
	api.HandleFunc("GET /v1/bills/{utility}/{account}", s.handleBill)
	api.HandleFunc("POST /v1/payments", s.handlePay)
	api.HandleFunc("GET /v1/payments", s.handlePaymentByKey)
	api.HandleFunc("GET /v1/payments/{paymentId}", s.handlePaymentByID)
	api.HandleFunc("POST /v1/vouchers", s.handleIssueVoucher)
	api.HandleFunc("GET /v1/vouchers/{voucherId}", s.handleGetVoucher)
	api.HandleFunc("POST /v1/vouchers/{voucherId}/refund", s.handleRefundVoucher)
	api.HandleFunc("POST /v1/orders", s.handleCreateOrder)
	api.HandleFunc("GET /v1/orders/{orderId}", s.handleGetOrder)
	api.HandleFunc("POST /v1/orders/{orderId}/reverse", s.handleEndOrder(opOrderReverse))
	api.HandleFunc("POST /v1/orders/{orderId}/close", s.handleEndOrder(opOrderClose))
	api.HandleFunc("POST /v1/enroll", s.handleEnroll)
	api.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, uplink.CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	// Every /v1/ request must name its terminal.
	v1 := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !uplink.ValidTerminalID(r.Header.Get(uplink.HeaderTerminalID)) {
			writeError(w, http.StatusBadRequest, uplink.CodeMissingTerminalID, "header X-Terminal-Id missing or invalid")
			return
		}
		s.serveSigned(w, r, api) // signatures of enrolled terminals (signing.go)
	})

	mux := http.NewServeMux()
	s.appRoutes(api, mux)   // catalog, persons, applications, cases, ratings, /track/ (applications.go)
	s.staffRoutes(api, mux) // partner-site staff sign-in and reports (staff.go)
	s.fleetRoutes(api, mux) // heartbeats, terminal configurations, fleet view (fleet.go)
	mux.Handle("/v1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveFaulty(w, r, v1)
	}))
	mux.HandleFunc("GET /ref/payments", s.handleRefPayments)
	mux.HandleFunc("GET /ref/accounts", s.handleRefAccounts)
	mux.HandleFunc("GET /ref/faults", s.handleGetFaults)
	mux.HandleFunc("POST /ref/faults", s.handleSetFaults)
	mux.HandleFunc("GET /ref/vouchers", s.handleRefVouchers)
	mux.HandleFunc("GET /ref/orders", s.handleRefOrders)
	mux.HandleFunc("POST /ref/orders/{orderId}/pay", s.handleRefPayOrder)
	mux.HandleFunc("POST /ref/enrollment-tokens", s.handleIssueToken)
	mux.HandleFunc("GET /ref/enrollments", s.handleRefEnrollments)
	mux.HandleFunc("POST /ref/enrollments/{terminalId}/revoke", s.handleRefRevoke)
	mux.HandleFunc("GET /verify/{paymentId}", s.handleVerify)
	mux.HandleFunc("GET /pay/{orderId}", s.handlePayPage)
	mux.HandleFunc("POST /pay/{orderId}", s.handlePayPagePost)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, uplink.CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"encode reply","retryable":true}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError sends the contract's ErrorBody; retryable follows the status
// table (408/425/429/5xx), so the body can never contradict the status.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	retry := status == 408 || status == 425 || status == 429 || status >= 500
	writeJSON(w, status, uplink.ErrorBody{Error: uplink.ErrorDetail{Code: code, Message: msg, Retryable: retry}})
}

// codeOrderNotPending answers POST /ref/orders/{orderId}/pay for an order
// that already ended unpaid; the terminal contract never sees it.
const codeOrderNotPending = "order_not_pending"

// storeError maps a store failure to a reply.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errAccountNotFound):
		writeError(w, http.StatusNotFound, uplink.CodeAccountNotFound, "unknown account")
	case errors.Is(err, errPaymentNotFound):
		writeError(w, http.StatusNotFound, uplink.CodePaymentNotFound, "unknown payment")
	case errors.Is(err, errBillMismatch):
		writeError(w, http.StatusConflict, uplink.CodeBillMismatch, err.Error())
	case errors.Is(err, errKeyReused):
		writeError(w, http.StatusUnprocessableEntity, uplink.CodeIdempotencyReused, err.Error())
	case errors.Is(err, errVoucherNotFound):
		writeError(w, http.StatusNotFound, uplink.CodeVoucherNotFound, "unknown voucher")
	case errors.Is(err, errVoucherUnavailable):
		writeError(w, http.StatusConflict, uplink.CodeVoucherUnavailable, err.Error())
	case errors.Is(err, errVoucherMismatch):
		writeError(w, http.StatusUnprocessableEntity, uplink.CodeVoucherMismatch, err.Error())
	case errors.Is(err, errVoucherConflict):
		writeError(w, http.StatusConflict, uplink.CodeVoucherConflict, err.Error())
	case errors.Is(err, errOrderNotFound):
		writeError(w, http.StatusNotFound, uplink.CodeOrderNotFound, "unknown order")
	case errors.Is(err, errOrderConflict):
		writeError(w, http.StatusConflict, uplink.CodeOrderConflict, err.Error())
	case errors.Is(err, errOrderPaid):
		writeError(w, http.StatusConflict, uplink.CodeOrderPaid, err.Error())
	case errors.Is(err, errOrderNotPending):
		writeError(w, http.StatusConflict, codeOrderNotPending, err.Error())
	case errors.Is(err, errTooSoon):
		if e, ok := errors.AsType[*tooSoonError](err); ok {
			w.Header().Set("Retry-After", retryAfter(e.wait))
		}
		writeError(w, http.StatusConflict, uplink.CodeTooSoon, err.Error())
	case errors.Is(err, bolt.ErrDatabaseNotOpen):
		writeError(w, http.StatusServiceUnavailable, uplink.CodeUnavailable, "platform is shutting down")
	default:
		s.log.Error("refplatform: store", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, uplink.CodeInternal, "store failure")
	}
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, uplink.Health{Status: "ok", Time: s.now().UTC()})
}

func (s *Server) handleBill(w http.ResponseWriter, r *http.Request) {
	u := uplink.Utility(r.PathValue("utility"))
	acct := r.PathValue("account")
	if !uplink.ValidUtility(u) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, fmt.Sprintf("unknown utility %q", u))
		return
	}
	if !uplink.ValidAccount(acct) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "account must be 6..20 digits")
		return
	}
	a, err := s.store.account(u, acct)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.bill())
}

// decodeBody reads one JSON object, refusing unknown fields and trailing
// data, so a misspelt field in a money message is an error, not a zero.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return fmt.Errorf("content type %q, want application/json", r.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("decode body: trailing data after JSON object")
	}
	return nil
}

func (s *Server) handlePay(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get(uplink.HeaderIdempotencyKey)
	if !uplink.ValidIdempotencyKey(key) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadIdempotencyKey, "header Idempotency-Key missing or not a lower-case UUID")
		return
	}
	var req uplink.PaymentRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
		return
	}
	if err := req.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
		return
	}
	if req.TerminalID != r.Header.Get(uplink.HeaderTerminalID) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "terminalId differs from X-Terminal-Id")
		return
	}
	e := s.env(r)
	rec, replayed, err := s.store.pay(key, req, e.draft(e.now))
	if err != nil {
		if errors.Is(err, errKeyReused) || errors.Is(err, errBillMismatch) ||
			errors.Is(err, errVoucherUnavailable) || errors.Is(err, errVoucherMismatch) {
			s.log.Warn("refplatform: payment refused", "key", key, "account", maskAccount(req.Account), "err", err)
		}
		s.storeError(w, r, err)
		return
	}
	p := rec.Payment
	if replayed {
		s.log.Info("refplatform: payment replayed", "paymentId", p.PaymentID, "key", key)
		w.Header().Set(uplink.HeaderIdempotentReplayed, "true")
		writeJSON(w, http.StatusOK, p)
		return
	}
	s.log.Info("refplatform: payment committed", "paymentId", p.PaymentID, "key", key,
		"terminal", p.TerminalID, "utility", p.Utility, "account", maskAccount(p.Account),
		"amount", p.Amount, "applied", p.AppliedToBill, "prepaid", p.PrepaidCredit, "vouchers", len(req.Vouchers))
	writeJSON(w, http.StatusCreated, p)
}

// visible hides other terminals' payments: a terminal may only look up its own.
func visible(r *http.Request, rec paymentRecord) bool {
	return rec.Payment.TerminalID == r.Header.Get(uplink.HeaderTerminalID)
}

func (s *Server) handlePaymentByKey(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("idempotencyKey")
	if !uplink.ValidIdempotencyKey(key) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadIdempotencyKey, "query idempotencyKey missing or not a lower-case UUID")
		return
	}
	rec, err := s.store.paymentByKey(key)
	if err == nil && !visible(r, rec) {
		err = errPaymentNotFound
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rec.Payment)
}

func (s *Server) handlePaymentByID(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("paymentId")
	if id == "" || len(id) > 64 {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "paymentId must be 1..64 characters")
		return
	}
	rec, err := s.store.paymentByID(id)
	if err == nil && !visible(r, rec) {
		err = errPaymentNotFound
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rec.Payment)
}

func (s *Server) handleRefPayments(w http.ResponseWriter, r *http.Request) {
	p, err := s.store.payments()
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleRefAccounts(w http.ResponseWriter, r *http.Request) {
	accts, err := s.store.accounts()
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	bills := make([]uplink.Bill, 0, len(accts))
	for _, a := range accts {
		bills = append(bills, a.bill())
	}
	writeJSON(w, http.StatusOK, bills)
}

func (s *Server) handleGetFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

func (s *Server) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := decodeBody(w, r, &f); err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
		return
	}
	if err := s.SetFaults(f); err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
		return
	}
	s.log.Info("refplatform: faults set", "faults", f)
	writeJSON(w, http.StatusOK, s.Faults())
}
