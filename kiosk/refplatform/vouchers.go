package refplatform

import (
	"cmp"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"tongban/kiosk/uplink"
)

var (
	errVoucherNotFound    = errors.New("voucher not found")
	errVoucherUnavailable = errors.New("voucher is not available")
	errVoucherMismatch    = errors.New("voucher code or amount does not match")
	errVoucherConflict    = errors.New("voucherId is already taken")
)

// Operation names in the ops dedupe bucket.
const (
	opVoucherIssue  = "voucher.issue"
	opVoucherRefund = "voucher.refund"
)

// ReceivedVoucher is a voucher as the platform keeps it, as listed by GET
// /ref/vouchers (schema ReceivedVoucher).
type ReceivedVoucher struct {
	Seq     uint64         `json:"seq"` // order in which the platform first heard of it, from 1
	Voucher uplink.Voucher `json:"voucher"`
	// Request is the terminal's POST /v1/vouchers; absent while a voucher
	// redeemed before its issue arrived is still waiting for it.
	Request *uplink.VoucherRequest `json:"request,omitempty"`
	// RedeemedBeforeIssue: a payment redeemed the voucher before the
	// terminal's issue reached the platform (it stays true afterwards).
	RedeemedBeforeIssue bool `json:"redeemedBeforeIssue"`
}

type voucherRecord struct {
	ReceivedVoucher
	Code string `json:"code"` // also in Request, but Request may be missing
}

// sameCode compares voucher codes in constant time.
func sameCode(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func getVoucher(tx *bolt.Tx, id string) (voucherRecord, bool, error) {
	var rec voucherRecord
	found, err := getJSON(tx, bucketVouchers, []byte(id), &rec)
	return rec, found, err
}

func nextSeq(tx *bolt.Tx, bucket []byte) (uint64, error) {
	seq, err := tx.Bucket(bucket).NextSequence()
	if err != nil {
		return 0, fmt.Errorf("next %s seq: %w", bucket, err)
	}
	return seq, nil
}

// issueVoucher records a terminal's voucher exactly once per key. created
// is true when this call committed (201), false for a replay (200). A
// voucher that a payment redeemed before its issue arrived is completed
// here when id, terminal, code and amount agree: that is a success too.
func (s *store) issueVoucher(key string, req uplink.VoucherRequest) (voucherRecord, bool, error) {
	canon := req.Canonical()
	hash, err := hashJSON(canon)
	if err != nil {
		return voucherRecord{}, false, err
	}
	var rec voucherRecord
	created := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		replay, err := lookupOp(tx, key, opVoucherIssue, req.VoucherID, hash)
		if err != nil {
			return err
		}
		var found bool
		rec, found, err = getVoucher(tx, req.VoucherID)
		if err != nil {
			return err
		}
		if replay {
			if !found {
				return fmt.Errorf("voucher %s: dedupe record without voucher", req.VoucherID)
			}
			return nil
		}
		switch {
		case found && rec.Request != nil:
			return fmt.Errorf("voucher %s was issued under another Idempotency-Key: %w", req.VoucherID, errVoucherConflict)
		case found:
			// Redeemed before its issue arrived: the payment proved code and
			// amount; the issue must tell the same story.
			if rec.Voucher.TerminalID != req.TerminalID || rec.Voucher.Amount != req.Amount || !sameCode(rec.Code, req.Code) {
				return fmt.Errorf("voucher %s was redeemed with another terminal, code or amount: %w", req.VoucherID, errVoucherConflict)
			}
			rec.Request = &canon
			rec.Voucher.IssuedAt = canon.IssuedAt
		default:
			seq, err := nextSeq(tx, bucketVouchers)
			if err != nil {
				return err
			}
			rec = voucherRecord{
				ReceivedVoucher: ReceivedVoucher{
					Seq: seq,
					Voucher: uplink.Voucher{
						VoucherID:  req.VoucherID,
						TerminalID: req.TerminalID,
						Amount:     req.Amount,
						Status:     uplink.VoucherIssued,
						IssuedAt:   canon.IssuedAt,
					},
					Request: &canon,
				},
				Code: req.Code,
			}
		}
		created = true
		if err := putJSON(tx, bucketVouchers, []byte(req.VoucherID), rec); err != nil {
			return err
		}
		return putOp(tx, key, opVoucherIssue, req.VoucherID, hash)
	})
	if err != nil {
		return voucherRecord{}, false, err
	}
	return rec, created, nil
}

func (s *store) voucher(id string) (voucherRecord, error) {
	var rec voucherRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		var found bool
		var err error
		rec, found, err = getVoucher(tx, id)
		if err == nil && !found {
			err = errVoucherNotFound
		}
		return err
	})
	return rec, err
}

// refundVoucher marks an issued voucher refunded by staff, exactly once
// per key; replayed is true for a replay.
func (s *store) refundVoucher(key, id string, req uplink.VoucherRefundRequest, now time.Time) (voucherRecord, bool, error) {
	hash, err := hashJSON(struct {
		VoucherID string                      `json:"voucherId"`
		Request   uplink.VoucherRefundRequest `json:"request"`
	}{id, req})
	if err != nil {
		return voucherRecord{}, false, err
	}
	var rec voucherRecord
	replayed := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		replay, err := lookupOp(tx, key, opVoucherRefund, id, hash)
		if err != nil {
			return err
		}
		var found bool
		rec, found, err = getVoucher(tx, id)
		switch {
		case err != nil:
			return err
		case !found || rec.Voucher.TerminalID != req.TerminalID:
			return errVoucherNotFound
		case replay:
			replayed = true
			return nil
		case !sameCode(rec.Code, req.Code):
			return fmt.Errorf("voucher %s: wrong code: %w", id, errVoucherMismatch)
		case rec.Voucher.Status != uplink.VoucherIssued:
			return fmt.Errorf("voucher %s is already %s: %w", id, rec.Voucher.Status, errVoucherUnavailable)
		}
		t := now
		rec.Voucher.Status = uplink.VoucherRefunded
		rec.Voucher.RefundedAt = &t
		rec.Voucher.RefundedBy = req.StaffID
		if err := putJSON(tx, bucketVouchers, []byte(id), rec); err != nil {
			return err
		}
		return putOp(tx, key, opVoucherRefund, id, hash)
	})
	if err != nil {
		return voucherRecord{}, false, err
	}
	return rec, replayed, nil
}

// redeemVouchers marks the vouchers of a new payment redeemed inside the
// payment's transaction, so a payment and its redemptions commit together
// or not at all. A voucher the platform has never heard of is accepted on
// the code and amount the payment carries (its issue is still on its way
// from the terminal) and recorded as redeemed.
func redeemVouchers(tx *bolt.Tx, req uplink.PaymentRequest, paymentID string, now time.Time) error {
	for _, u := range req.Vouchers {
		rec, found, err := getVoucher(tx, u.VoucherID)
		if err != nil {
			return err
		}
		t := now
		if !found {
			seq, err := nextSeq(tx, bucketVouchers)
			if err != nil {
				return err
			}
			rec = voucherRecord{
				ReceivedVoucher: ReceivedVoucher{
					Seq: seq,
					Voucher: uplink.Voucher{
						VoucherID:  u.VoucherID,
						TerminalID: req.TerminalID,
						Amount:     u.Amount,
						IssuedAt:   t, // until the issue arrives with the terminal's time
					},
					RedeemedBeforeIssue: true,
				},
				Code: u.Code,
			}
		} else {
			switch {
			case rec.Voucher.TerminalID != req.TerminalID:
				// Only the issuing terminal redeems; do not tell others more.
				return fmt.Errorf("voucher %s belongs to another terminal: %w", u.VoucherID, errVoucherUnavailable)
			case !sameCode(rec.Code, u.Code) || rec.Voucher.Amount != u.Amount:
				return fmt.Errorf("voucher %s: code or amount does not match: %w", u.VoucherID, errVoucherMismatch)
			case rec.Voucher.Status != uplink.VoucherIssued:
				return fmt.Errorf("voucher %s is already %s: %w", u.VoucherID, rec.Voucher.Status, errVoucherUnavailable)
			}
		}
		rec.Voucher.Status = uplink.VoucherRedeemed
		rec.Voucher.RedeemedAt = &t
		rec.Voucher.RedeemedBy = paymentID
		if err := putJSON(tx, bucketVouchers, []byte(u.VoucherID), rec); err != nil {
			return err
		}
	}
	return nil
}

// vouchers lists every voucher in the order the platform first heard of it.
func (s *store) vouchers() ([]ReceivedVoucher, error) {
	out := []ReceivedVoucher{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVouchers).ForEach(func(k, _ []byte) error {
			rec, _, err := getVoucher(tx, string(k))
			if err != nil {
				return err
			}
			out = append(out, rec.ReceivedVoucher)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b ReceivedVoucher) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, err
}

// Vouchers lists every voucher the platform knows, oldest first.
func (s *Server) Vouchers() ([]ReceivedVoucher, error) {
	v, err := s.store.vouchers()
	if err != nil {
		return nil, fmt.Errorf("refplatform: list vouchers: %w", err)
	}
	return v, nil
}

// idempotencyKey reads and checks the Idempotency-Key header; on failure it
// has answered 400.
func idempotencyKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.Header.Get(uplink.HeaderIdempotencyKey)
	if !uplink.ValidIdempotencyKey(key) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadIdempotencyKey, "header Idempotency-Key missing or not a lower-case UUID")
		return "", false
	}
	return key, true
}

// decodeValid decodes a request body strictly, validates it and checks
// that its terminalId is the caller's; on failure it has answered 400.
func decodeValid(w http.ResponseWriter, r *http.Request, v interface{ Validate() error }, terminalID func() string) bool {
	if err := decodeBody(w, r, v); err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
		return false
	}
	if err := v.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
		return false
	}
	if terminalID() != r.Header.Get(uplink.HeaderTerminalID) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "terminalId differs from X-Terminal-Id")
		return false
	}
	return true
}

func (s *Server) handleIssueVoucher(w http.ResponseWriter, r *http.Request) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var req uplink.VoucherRequest
	if !decodeValid(w, r, &req, func() string { return req.TerminalID }) {
		return
	}
	rec, created, err := s.store.issueVoucher(key, req)
	if err != nil {
		if errors.Is(err, errKeyReused) || errors.Is(err, errVoucherConflict) {
			s.log.Warn("refplatform: voucher refused", "key", key, "voucher", req.VoucherID, "err", err)
		}
		s.storeError(w, r, err)
		return
	}
	v := rec.Voucher
	if !created {
		s.log.Info("refplatform: voucher replayed", "voucher", v.VoucherID, "key", key, "status", v.Status)
		w.Header().Set(uplink.HeaderIdempotentReplayed, "true")
		writeJSON(w, http.StatusOK, v)
		return
	}
	s.log.Info("refplatform: voucher issued", "voucher", v.VoucherID, "key", key, "terminal", v.TerminalID,
		"amount", v.Amount, "reason", req.Reason, "status", v.Status, "redeemedBeforeIssue", rec.RedeemedBeforeIssue)
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) handleGetVoucher(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("voucherId")
	if !uplink.ValidVoucherID(id) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "voucherId must be V and 12 of A-Z 0-9")
		return
	}
	rec, err := s.store.voucher(id)
	if err == nil && rec.Voucher.TerminalID != r.Header.Get(uplink.HeaderTerminalID) {
		err = errVoucherNotFound // a terminal sees its own vouchers only
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rec.Voucher)
}

func (s *Server) handleRefundVoucher(w http.ResponseWriter, r *http.Request) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	id := r.PathValue("voucherId")
	if !uplink.ValidVoucherID(id) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "voucherId must be V and 12 of A-Z 0-9")
		return
	}
	var req uplink.VoucherRefundRequest
	if !decodeValid(w, r, &req, func() string { return req.TerminalID }) {
		return
	}
	rec, replayed, err := s.store.refundVoucher(key, id, req, s.env(r).now)
	if err != nil {
		s.log.Warn("refplatform: voucher refund refused", "key", key, "voucher", id, "staff", req.StaffID, "err", err)
		s.storeError(w, r, err)
		return
	}
	if replayed {
		w.Header().Set(uplink.HeaderIdempotentReplayed, "true")
	} else {
		s.log.Info("refplatform: voucher refunded", "voucher", id, "key", key, "staff", req.StaffID, "amount", rec.Voucher.Amount)
	}
	writeJSON(w, http.StatusOK, rec.Voucher)
}

func (s *Server) handleRefVouchers(w http.ResponseWriter, r *http.Request) {
	v, err := s.store.vouchers()
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
