// Package journal is the terminal's money ledger: an append-only,
// hash-chained log of every money event, kept in a bbolt file and made
// durable (fsync) before Append returns. After any crash the journal alone
// says what each resident is owed.
package journal

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Kind names a journaled event.
type Kind string

const (
	NoteEscrowed      Kind = "note.escrowed"
	NoteStackOrdered  Kind = "note.stackOrdered"
	NoteReturnOrdered Kind = "note.returnOrdered"
	NoteCredited      Kind = "note.credited"
	NoteStacked       Kind = "note.stacked"
	NoteReturned      Kind = "note.returned"
	NoteRejected      Kind = "note.rejected"
	NotePowerUp       Kind = "note.powerUp"
	// NoteRepeat is a device report of a note already credited (its
	// acknowledgement was lost in a crash); it is not credit.
	NoteRepeat Kind = "note.repeat"
	// CoinCounted is a coin (or pulse-output note) counted: credit at once.
	CoinCounted         Kind = "coin.counted"
	PaymentSubmitted    Kind = "payment.submitted"
	PaymentAcknowledged Kind = "payment.acknowledged"
	PaymentRefused      Kind = "payment.refused"
	ReceiptPrinted      Kind = "receipt.printed"
	ReceiptFailed       Kind = "receipt.failed"
	// ReceiptReprinted is a resident's request for a copy (重打) of the
	// session's last receipt, journaled before the printer is told.
	ReceiptReprinted Kind = "receipt.reprinted"
	// SessionOpened marks the start of cash intake for a bill, so recovery
	// knows what the credit that follows was for.
	SessionOpened Kind = "session.opened"
	// SessionRestored marks a session rebuilt from the journal at start.
	SessionRestored  Kind = "session.restored"
	VoucherIssued    Kind = "voucher.issued"
	VoucherPrinted   Kind = "voucher.printed"
	VoucherForwarded Kind = "voucher.forwarded"
	VoucherRedeemed  Kind = "voucher.redeemed"
	VoucherRefunded  Kind = "voucher.refunded"
	// OrderCreated and OrderFinished bracket a mobile-wallet order: every
	// order ends paid, closed or reversed (in Detail).
	OrderCreated  Kind = "order.created"
	OrderFinished Kind = "order.finished"
)

// Record is one journal entry. Seq, Time, Prev and Hash are filled by Append.
type Record struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Kind    Kind      `json:"kind"`
	Session string    `json:"session,omitempty"`
	// Amount is in fen: a note's value, or a payment's total.
	Amount int64  `json:"amount,omitempty"`
	Code   int    `json:"code,omitempty"` // device denomination code
	Key    string `json:"key,omitempty"`  // idempotency key of a payment
	Ref    string `json:"ref,omitempty"`  // platform id (payment id...)
	Detail string `json:"detail,omitempty"`
	// Data carries the kind's structured payload (a payment request...).
	// It must hold masked identifiers only.
	Data json.RawMessage `json:"data,omitempty"`
	// Prev and Hash are the chain: Hash = sha256(Prev || the record's
	// JSON). They are kept beside the JSON, not in it.
	Prev string `json:"-"`
	Hash string `json:"-"`
}

// ErrCorrupt reports a broken hash chain: a torn write or tampering.
var ErrCorrupt = errors.New("journal corrupt")

var bucket = []byte("records")

// Journal is safe for concurrent use; appends are serialised.
type Journal struct {
	db   *bolt.DB
	now  func() time.Time
	mu   sync.Mutex
	seq  uint64
	head [32]byte

	observe func(time.Duration)
	commits CommitStats // under mu
}

// CommitStats add up the journal's durable commits: how often the daemon
// waits for the disk and for how long. Every money event pays one commit
// before the device or the screen is told, so this is the floor of the
// event path's latency on this disk.
type CommitStats struct {
	Commits uint64
	Total   time.Duration
	Max     time.Duration
}

// Options tune Open.
type Options struct {
	Now func() time.Time
	// NoSync skips fsync. Only benchmarks comparing costs may set it.
	NoSync bool
	// Observe, when set, hears each durable commit's duration, called
	// with the journal locked: it must be quick.
	Observe func(took time.Duration)
}

// Open opens (or creates) the journal at path and verifies the whole chain.
func Open(path string, opts *Options) (*Journal, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType, NoSync: o.NoSync})
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	j := &Journal{db: db, now: o.Now, observe: o.Observe}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	})
	if err == nil {
		err = j.verify()
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	return j, nil
}

// verify walks the chain once, checking every link, and remembers the
// head. It hashes the stored bytes as they are, without decoding them, so a
// long journal opens quickly.
func (j *Journal) verify() error {
	var prev [32]byte
	var seq uint64
	err := j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			if len(k) != 8 || binary.BigEndian.Uint64(k) != seq+1 {
				return fmt.Errorf("%w: record %x out of sequence after %d", ErrCorrupt, k, seq)
			}
			if len(v) < 32 || chain(prev, v[32:]) != [32]byte(v[:32]) {
				return fmt.Errorf("%w: record %d fails its hash chain", ErrCorrupt, seq+1)
			}
			prev, seq = [32]byte(v[:32]), seq+1
			return nil
		})
	})
	j.seq, j.head = seq, prev
	return err
}

// chain is one link: sha256 over the previous hash and the record's JSON.
func chain(prev [32]byte, body []byte) [32]byte {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(body)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Append commits r durably and returns it with Seq, Time and hashes set.
func (j *Journal) Append(r Record) (Record, error) {
	return j.appendAll([]Record{r})
}

// AppendAll commits several records in one durable transaction: all or none.
func (j *Journal) AppendAll(rs []Record) ([]Record, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Record, len(rs))
	vals := make([][]byte, len(rs))
	seq, prev := j.seq, j.head
	now := j.now().UTC()
	for i, r := range rs {
		seq++
		r.Seq, r.Time = seq, now
		body, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("journal append %s: %w", r.Kind, err)
		}
		h := chain(prev, body)
		r.Prev, r.Hash = hex.EncodeToString(prev[:]), hex.EncodeToString(h[:])
		vals[i] = append(h[:], body...)
		prev = h
		out[i] = r
	}
	start := time.Now()
	err := j.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for i, r := range out {
			if err := b.Put(key(r.Seq), vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("journal append %s: %w", rs[0].Kind, err)
	}
	took := time.Since(start)
	j.commits.Commits++
	j.commits.Total += took
	j.commits.Max = max(j.commits.Max, took)
	if j.observe != nil {
		j.observe(took)
	}
	j.seq, j.head = seq, prev
	return out, nil
}

// Stats returns the commits so far.
func (j *Journal) Stats() CommitStats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.commits
}

func (j *Journal) appendAll(rs []Record) (Record, error) {
	out, err := j.AppendAll(rs)
	if err != nil {
		return Record{}, err
	}
	return out[0], nil
}

// Scan calls fn for each record with Seq >= from, in order.
func (j *Journal) Scan(from uint64, fn func(Record) error) error {
	return j.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		var prev []byte
		if from > 1 {
			if _, pv := c.Seek(key(from - 1)); len(pv) >= 32 {
				prev = pv[:32:32]
			}
		}
		if prev == nil {
			prev = make([]byte, 32)
		}
		for k, v := c.Seek(key(from)); k != nil; k, v = c.Next() {
			var r Record
			if len(v) < 32 {
				return fmt.Errorf("%w: record %x too short", ErrCorrupt, k)
			}
			if err := json.Unmarshal(v[32:], &r); err != nil {
				return fmt.Errorf("%w: record %x: %v", ErrCorrupt, k, err)
			}
			r.Prev, r.Hash = hex.EncodeToString(prev), hex.EncodeToString(v[:32])
			prev = v[:32:32]
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// Len is the number of records.
func (j *Journal) Len() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.seq
}

// Close closes the file.
func (j *Journal) Close() error { return j.db.Close() }

func key(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}
