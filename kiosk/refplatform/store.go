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

// Buckets. A payment touches payments, paymentSeq, idem and accounts in one
// Update, so after a crash either all four show it or none does.
var (
	bucketMeta       = []byte("meta")
	bucketAccounts   = []byte("accounts")   // "utility/account" -> account JSON
	bucketPayments   = []byte("payments")   // paymentId -> paymentRecord JSON
	bucketPaymentSeq = []byte("paymentSeq") // 8-byte big-endian seq -> paymentId (commit order)
	bucketIdem       = []byte("idem")       // idempotency key -> paymentId (the dedupe record)
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
}

func accountKey(u uplink.Utility, acct string) []byte { return []byte(string(u) + "/" + acct) }

func (a account) bill() uplink.Bill {
	return uplink.Bill{
		Utility:   a.Utility,
		Account:   a.Account,
		Payee:     a.Payee,
		Holder:    maskName(a.Holder),
		Address:   maskAddress(a.Address),
		Period:    a.Period,
		AmountDue: a.AmountDue,
		Arrears:   a.Arrears,
		Prepaid:   a.Prepaid,
		Currency:  uplink.Currency,
		BillID:    a.BillID,
		PaidAt:    a.PaidAt,
	}
}

// apply books amount onto the account: the bill's amountDue first (oldest,
// i.e. arrears, first), the rest to prepaid. It returns the split.
func (a *account) apply(amount int64, now time.Time) (applied, credit int64) {
	applied = min(amount, a.AmountDue)
	credit = amount - applied
	a.Arrears = max(0, a.Arrears-applied)
	a.AmountDue -= applied
	a.Prepaid += credit
	if applied > 0 && a.AmountDue == 0 {
		t := now
		a.PaidAt = &t
	}
	return applied, credit
}

// ReceivedPayment is a committed payment with the request that created it,
// as listed by GET /ref/payments (schema ReceivedPayment).
type ReceivedPayment struct {
	Seq     uint64                `json:"seq"`
	Payment uplink.Payment        `json:"payment"`
	Request uplink.PaymentRequest `json:"request"`
}

type paymentRecord struct {
	ReceivedPayment
	RequestHash string `json:"requestHash"` // of the canonical request, for replay comparison
	Payee       string `json:"payee"`
}

// requestHash identifies a request by meaning (see PaymentRequest.Canonical).
func requestHash(req uplink.PaymentRequest) (string, error) {
	b, err := json.Marshal(req.Canonical())
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
		for _, b := range [][]byte{bucketMeta, bucketAccounts, bucketPayments, bucketPaymentSeq, bucketIdem} {
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
// whether it is a replay. The dedupe record, the payment, its sequence entry
// and the account update are written in one fsync'd bbolt transaction.
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
		a, err := getAccount(tx, req.Utility, req.Account)
		if err != nil {
			return err
		}
		if a.BillID != req.BillID {
			return errBillMismatch
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
		applied, credit := a.apply(req.Amount, d.now)
		seq, err := tx.Bucket(bucketPaymentSeq).NextSequence()
		if err != nil {
			return fmt.Errorf("next payment seq: %w", err)
		}
		rec = paymentRecord{
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
			},
			RequestHash: hash,
			Payee:       a.Payee,
		}
		pv, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("encode payment: %w", err)
		}
		av, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("encode account: %w", err)
		}
		var seqKey [8]byte
		binary.BigEndian.PutUint64(seqKey[:], seq)
		for _, put := range []struct {
			b    []byte
			k, v []byte
		}{
			{bucketPayments, []byte(id), pv},
			{bucketPaymentSeq, seqKey[:], []byte(id)},
			{bucketIdem, []byte(key), []byte(id)},
			{bucketAccounts, accountKey(a.Utility, a.Account), av},
		} {
			if err := tx.Bucket(put.b).Put(put.k, put.v); err != nil {
				return fmt.Errorf("put %s: %w", put.b, err)
			}
		}
		return nil
	})
	if err != nil {
		return paymentRecord{}, false, err
	}
	return rec, replayed, nil
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
