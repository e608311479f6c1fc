package refplatform

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"tongban/kiosk/uplink"
)

// Buckets. A payment touches payments, paymentSeq, idem and accounts (and
// vouchers, when it redeems some) in one Update, so after a crash either all
// show it or none does. Every voucher and order change writes its record and
// its ops dedupe record in one Update as well.
var (
	bucketMeta       = []byte("meta")
	bucketAccounts   = []byte("accounts")   // "utility/account" -> account JSON
	bucketPayments   = []byte("payments")   // paymentId -> paymentRecord JSON
	bucketPaymentSeq = []byte("paymentSeq") // 8-byte big-endian seq -> paymentId (commit order)
	bucketIdem       = []byte("idem")       // idempotency key -> paymentId (the dedupe record of payments)
	bucketOps        = []byte("ops")        // idempotency key -> opRecord JSON (dedupe of voucher and order calls)
	bucketVouchers   = []byte("vouchers")   // voucherId -> voucherRecord JSON
	bucketOrders     = []byte("orders")     // orderId -> orderRecord JSON
	keySeeded        = []byte("seeded")
)

var (
	errAccountNotFound = errors.New("account not found")
	errBillMismatch    = errors.New("billId is not the current bill of this account")
	errKeyReused       = errors.New("idempotency key was committed with a different request")
	errPaymentNotFound = errors.New("payment not found")
)

// account is the platform's own record. Holder and address are stored in
// full, as a real platform would; they leave it only masked.
type account struct {
	Utility   uplink.Utility `json:"utility"`
	Account   string         `json:"account"`
	Payee     string         `json:"payee"`
	Holder    string         `json:"holder"`
	Address   string         `json:"address"`
	Period    string         `json:"period"`
	BillID    string         `json:"billId"`
	AmountDue int64          `json:"amountDue"`
	Arrears   int64          `json:"arrears"`
	Prepaid   int64          `json:"prepaid"`
	PaidAt    *time.Time     `json:"paidAt,omitempty"`
	// LastPayment and its id: the newest payment booked, shown on the bill
	// and taken away again if that payment is refunded.
	LastPayment   *uplink.LastPayment `json:"lastPayment,omitempty"`
	LastPaymentID string              `json:"lastPaymentId,omitempty"`
}

func accountKey(u uplink.Utility, acct string) []byte { return []byte(string(u) + "/" + acct) }

func (a account) bill() uplink.Bill {
	return uplink.Bill{
		Utility:     a.Utility,
		Account:     a.Account,
		Payee:       a.Payee,
		Holder:      maskName(a.Holder),
		Address:     maskAddress(a.Address),
		Period:      a.Period,
		AmountDue:   a.AmountDue,
		Arrears:     a.Arrears,
		Prepaid:     a.Prepaid,
		Currency:    uplink.Currency,
		BillID:      a.BillID,
		PaidAt:      a.PaidAt,
		LastPayment: a.LastPayment,
	}
}

// apply books amount onto the account: the bill's amountDue first (oldest,
// i.e. arrears, first), the rest to prepaid. It returns the split and how
// much of applied paid arrears.
func (a *account) apply(amount int64, now time.Time) (applied, credit, arrearsPaid int64) {
	applied = min(amount, a.AmountDue)
	credit = amount - applied
	arrearsPaid = min(applied, a.Arrears)
	a.Arrears -= arrearsPaid
	a.AmountDue -= applied
	a.Prepaid += credit
	if applied > 0 && a.AmountDue == 0 {
		t := now
		a.PaidAt = &t
	}
	return applied, credit, arrearsPaid
}

// unapply takes a refunded payment back off the account: exactly what
// apply booked returns to amountDue, arrears and prepaid.
func (a *account) unapply(applied, credit, arrearsPaid int64) error {
	if a.Prepaid < credit {
		// Nothing in the reference platform spends prepaid credit, so this
		// means a corrupt store; refuse rather than go negative.
		return fmt.Errorf("unapply: prepaid %d below the credit %d to take back", a.Prepaid, credit)
	}
	a.Prepaid -= credit
	a.AmountDue += applied
	a.Arrears += arrearsPaid
	if applied > 0 {
		a.PaidAt = nil // amountDue is above 0 again
	}
	return nil
}

// ReceivedPayment is a committed payment with the request that created it,
// as listed by GET /ref/payments (schema ReceivedPayment).
type ReceivedPayment struct {
	Seq     uint64                `json:"seq"`
	Payment uplink.Payment        `json:"payment"`
	Request uplink.PaymentRequest `json:"request"`
	// OrderID is set for a payment booked by a paid mobile order; its
	// request is then made up by the platform (method mobile).
	OrderID string `json:"orderId,omitempty"`
	// RefundedAt is set when the order that booked it was reversed: the
	// payment was refunded and taken back off the account.
	RefundedAt *time.Time `json:"refundedAt,omitempty"`
}

type paymentRecord struct {
	ReceivedPayment
	RequestHash string `json:"requestHash"` // of the canonical request, for replay comparison
	Payee       string `json:"payee"`
	ArrearsPaid int64  `json:"arrearsPaid,omitempty"` // part of AppliedToBill that paid arrears, for a refund
}

// requestHash identifies a request by meaning (see PaymentRequest.Canonical).
func requestHash(req uplink.PaymentRequest) (string, error) {
	return hashJSON(req.Canonical())
}

// hashJSON is the SHA-256 of v's JSON form, hex.
func hashJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("hash request: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

type store struct {
	db *bolt.DB
}

func openStore(path string) (*store, error) {
	// Timeout: without it Open blocks forever if another process holds the file.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketAccounts, bucketPayments, bucketPaymentSeq, bucketIdem, bucketOps, bucketVouchers, bucketOrders} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("init store %s: %w", path, err)
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

// seedOnce writes the demo accounts the first time the store is opened. The
// seeded marker, not the accounts bucket being empty, decides, so an
// operator who changed accounts never gets them overwritten.
func (s *store) seedOnce(accts []account) (bool, error) {
	seeded := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta.Get(keySeeded) != nil {
			return nil
		}
		ab := tx.Bucket(bucketAccounts)
		for _, a := range accts {
			v, err := json.Marshal(a)
			if err != nil {
				return fmt.Errorf("encode account %s/%s: %w", a.Utility, a.Account, err)
			}
			if err := ab.Put(accountKey(a.Utility, a.Account), v); err != nil {
				return fmt.Errorf("put account %s/%s: %w", a.Utility, a.Account, err)
			}
		}
		seeded = true
		return meta.Put(keySeeded, []byte("1"))
	})
	if err != nil {
		return false, fmt.Errorf("seed store: %w", err)
	}
	return seeded, nil
}

func getAccount(tx *bolt.Tx, u uplink.Utility, acct string) (account, error) {
	v := tx.Bucket(bucketAccounts).Get(accountKey(u, acct))
	if v == nil {
		return account{}, errAccountNotFound
	}
	var a account
	if err := json.Unmarshal(v, &a); err != nil {
		return account{}, fmt.Errorf("decode account %s/%s: %w", u, acct, err)
	}
	return a, nil
}

func getPayment(tx *bolt.Tx, id []byte) (paymentRecord, error) {
	v := tx.Bucket(bucketPayments).Get(id)
	if v == nil {
		return paymentRecord{}, errPaymentNotFound
	}
	var rec paymentRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return paymentRecord{}, fmt.Errorf("decode payment %s: %w", id, err)
	}
	return rec, nil
}

func (s *store) account(u uplink.Utility, acct string) (account, error) {
	var a account
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		a, err = getAccount(tx, u, acct)
		return err
	})
	return a, err
}

func (s *store) accounts() ([]account, error) {
	var out []account
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
			var a account
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("decode account %s: %w", k, err)
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	order := func(u uplink.Utility) int { return slices.Index(uplink.Utilities(), u) }
	slices.SortStableFunc(out, func(a, b account) int {
		if d := order(a.Utility) - order(b.Utility); d != 0 {
			return d
		}
		return cmp.Compare(a.Account, b.Account)
	})
	return out, nil
}

func (s *store) paymentByID(id string) (paymentRecord, error) {
	var rec paymentRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = getPayment(tx, []byte(id))
		return err
	})
	return rec, err
}

func (s *store) paymentByKey(key string) (paymentRecord, error) {
	var rec paymentRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketIdem).Get([]byte(key))
		if id == nil {
			return errPaymentNotFound
		}
		var err error
		rec, err = getPayment(tx, id)
		return err
	})
	return rec, err
}

// payments lists every committed payment in commit order (newest last).
func (s *store) payments() ([]ReceivedPayment, error) {
	out := []ReceivedPayment{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPaymentSeq).ForEach(func(_, id []byte) error {
			rec, err := getPayment(tx, id)
			if err != nil {
				return err
			}
			out = append(out, rec.ReceivedPayment)
			return nil
		})
	})
	return out, err
}

// paymentDraft is what the server decides about a new payment apart from
// the booking itself.
type paymentDraft struct {
	now       time.Time
	verifyURL func(paymentID, code string) string
}

// pay commits a payment exactly once per key. It returns the record and
// whether it is a replay. The dedupe record, the payment, its sequence
// entry, the account update and the redemption of its vouchers are written
// in one fsync'd bbolt transaction.
func (s *store) pay(key string, req uplink.PaymentRequest, d paymentDraft) (paymentRecord, bool, error) {
	hash, err := requestHash(req)
	if err != nil {
		return paymentRecord{}, false, err
	}
	// Fast path without the writer lock: most replays end here.
	if rec, err := s.paymentByKey(key); err == nil {
		if rec.RequestHash != hash {
			return paymentRecord{}, false, errKeyReused
		}
		return rec, true, nil
	} else if !errors.Is(err, errPaymentNotFound) {
		return paymentRecord{}, false, err
	}

	var rec paymentRecord
	replayed := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		idem := tx.Bucket(bucketIdem)
		// Re-check under the writer lock: a concurrent request with the same
		// key may have committed since the fast path looked.
		if id := idem.Get([]byte(key)); id != nil {
			prev, err := getPayment(tx, id)
			if err != nil {
				return err
			}
			if prev.RequestHash != hash {
				return errKeyReused
			}
			rec, replayed = prev, true
			return nil
		}
		if tx.Bucket(bucketOps).Get([]byte(key)) != nil {
			return errKeyReused // the key already named a voucher or order call
		}
		var err error
		rec, err = bookPayment(tx, key, req, hash, d, "")
		if err != nil {
			return err
		}
		return redeemVouchers(tx, req, rec.Payment.PaymentID, d.now)
	})
	if err != nil {
		return paymentRecord{}, false, err
	}
	return rec, replayed, nil
}

// bookPayment writes a new payment inside tx: the payment, its sequence
// entry, its dedupe record under key and the account update. orderID is set
// when a paid mobile order books it.
func bookPayment(tx *bolt.Tx, key string, req uplink.PaymentRequest, hash string, d paymentDraft, orderID string) (paymentRecord, error) {
	a, err := getAccount(tx, req.Utility, req.Account)
	if err != nil {
		return paymentRecord{}, err
	}
	if a.BillID != req.BillID {
		return paymentRecord{}, errBillMismatch
	}
	pb := tx.Bucket(bucketPayments)
	var id string
	for {
		id = newPaymentID(d.now)
		if pb.Get([]byte(id)) == nil {
			break
		}
	}
	code := newVerifyCode()
	applied, credit, arrearsPaid := a.apply(req.Amount, d.now)
	a.LastPayment, a.LastPaymentID = &uplink.LastPayment{At: d.now, Amount: req.Amount, TerminalID: req.TerminalID}, id
	seq, err := tx.Bucket(bucketPaymentSeq).NextSequence()
	if err != nil {
		return paymentRecord{}, fmt.Errorf("next payment seq: %w", err)
	}
	rec := paymentRecord{
		ReceivedPayment: ReceivedPayment{
			Seq: seq,
			Payment: uplink.Payment{
				PaymentID:      id,
				IdempotencyKey: key,
				TerminalID:     req.TerminalID,
				Utility:        req.Utility,
				Account:        req.Account,
				BillID:         req.BillID,
				Amount:         req.Amount,
				AppliedToBill:  applied,
				PrepaidCredit:  credit,
				AcceptedAt:     d.now,
				VerifyURL:      d.verifyURL(id, code),
				VerifyCode:     code,
			},
			Request: req,
			OrderID: orderID,
		},
		RequestHash: hash,
		Payee:       a.Payee,
		ArrearsPaid: arrearsPaid,
	}
	var seqKey [8]byte
	binary.BigEndian.PutUint64(seqKey[:], seq)
	if err := putJSON(tx, bucketPayments, []byte(id), rec); err != nil {
		return paymentRecord{}, err
	}
	if err := putJSON(tx, bucketAccounts, accountKey(a.Utility, a.Account), a); err != nil {
		return paymentRecord{}, err
	}
	for _, put := range []struct {
		b    []byte
		k, v []byte
	}{
		{bucketPaymentSeq, seqKey[:], []byte(id)},
		{bucketIdem, []byte(key), []byte(id)},
	} {
		if err := tx.Bucket(put.b).Put(put.k, put.v); err != nil {
			return paymentRecord{}, fmt.Errorf("put %s: %w", put.b, err)
		}
	}
	return rec, nil
}

// refundPayment takes a payment back inside tx: the account loses exactly
// what the payment booked, and the payment is marked refunded.
func refundPayment(tx *bolt.Tx, id string, now time.Time) error {
	rec, err := getPayment(tx, []byte(id))
	if err != nil {
		return err
	}
	if rec.RefundedAt != nil {
		return nil
	}
	p := rec.Payment
	a, err := getAccount(tx, p.Utility, p.Account)
	if err != nil {
		return err
	}
	if err := a.unapply(p.AppliedToBill, p.PrepaidCredit, rec.ArrearsPaid); err != nil {
		return fmt.Errorf("refund payment %s: %w", id, err)
	}
	if a.LastPaymentID == id {
		a.LastPayment, a.LastPaymentID = nil, "" // refunded: no longer a payment to warn about
	}
	t := now
	rec.RefundedAt = &t
	if err := putJSON(tx, bucketPayments, []byte(id), rec); err != nil {
		return err
	}
	return putJSON(tx, bucketAccounts, accountKey(a.Utility, a.Account), a)
}

// putJSON encodes v and puts it under k in bucket b.
func putJSON(tx *bolt.Tx, b, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s %s: %w", b, k, err)
	}
	if err := tx.Bucket(b).Put(k, data); err != nil {
		return fmt.Errorf("put %s %s: %w", b, k, err)
	}
	return nil
}

// getJSON decodes the value under k in bucket b into v; found is false
// when there is none.
func getJSON(tx *bolt.Tx, b, k []byte, v any) (bool, error) {
	data := tx.Bucket(b).Get(k)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("decode %s %s: %w", b, k, err)
	}
	return true, nil
}

// opRecord is the dedupe record of a voucher or order call: which call the
// key committed (op and target) and the hash of its request.
type opRecord struct {
	Op     string `json:"op"`
	Target string `json:"target"`
	Hash   string `json:"hash"`
}

// lookupOp tells whether key already committed this very call (op, target,
// hash). A key committed for a payment or for any other call is reused:
// errKeyReused.
func lookupOp(tx *bolt.Tx, key, op, target, hash string) (bool, error) {
	if tx.Bucket(bucketIdem).Get([]byte(key)) != nil {
		return false, errKeyReused
	}
	var rec opRecord
	found, err := getJSON(tx, bucketOps, []byte(key), &rec)
	if err != nil || !found {
		return false, err
	}
	if rec.Op != op || rec.Target != target || rec.Hash != hash {
		return false, errKeyReused
	}
	return true, nil
}

func putOp(tx *bolt.Tx, key, op, target, hash string) error {
	return putJSON(tx, bucketOps, []byte(key), opRecord{Op: op, Target: target, Hash: hash})
}

// Crockford base32 without I, L, O, U: readable on a receipt, no 0/O or 1/I
// confusion when a resident types the code.
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func randomCode(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)] // 256 % 32 == 0: unbiased
	}
	return string(b)
}

// newPaymentID: P + accepting day (China time) + 10 random characters.
// Random rather than sequential, so payment ids (and their verify pages)
// cannot be enumerated.
func newPaymentID(now time.Time) string {
	return "P" + now.In(chinaTime).Format("20060102") + randomCode(10)
}

// newVerifyCode is the short code printed on the receipt.
func newVerifyCode() string { return randomCode(6) }

var chinaTime = time.FixedZone("CST", 8*60*60) // no tzdata needed on the device
