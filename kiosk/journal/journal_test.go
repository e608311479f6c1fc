package journal

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestAppendSurvivesReopenAndChains(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := j.Append(Record{Kind: NoteEscrowed, Session: "s1", Amount: 1000, Code: 0x63})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := j.AppendAll([]Record{{Kind: NoteCredited, Session: "s1", Amount: 1000}, {Kind: NoteStacked, Session: "s1", Amount: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Seq != 1 || rs[0].Seq != 2 || rs[1].Seq != 3 || rs[0].Prev != a.Hash || rs[1].Prev != rs[0].Hash {
		t.Fatalf("chain not linked: %+v %+v", a, rs)
	}
	j.Close()

	j, err = Open(path, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer j.Close()
	if j.Len() != 3 {
		t.Fatalf("len %d, want 3", j.Len())
	}
	var kinds []Kind
	if err := j.Scan(2, func(r Record) error { kinds = append(kinds, r.Kind); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(kinds) != 2 || kinds[0] != NoteCredited || kinds[1] != NoteStacked {
		t.Fatalf("scan from 2: %v", kinds)
	}
	b, err := j.Append(Record{Kind: PaymentSubmitted, Amount: 1000, Key: "k"})
	if err != nil || b.Seq != 4 || b.Prev != rs[1].Hash {
		t.Fatalf("append after reopen: %+v %v", b, err)
	}
}

func TestTamperingIsDetectedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := j.Append(Record{Kind: NoteCredited, Amount: 1000}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()

	// Raise the second note from 10 to 100 yuan behind the journal's back.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], 2)
		v := b.Get(k[:])
		forged := []byte(string(v))
		for i := 0; i+4 <= len(forged); i++ {
			if string(forged[i:i+4]) == "1000" {
				copy(forged[i:], "9000")
				break
			}
		}
		return b.Put(k[:], forged)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open of a forged journal: %v, want ErrCorrupt", err)
	}
}

// BenchmarkAppend compares a journal append with the physical limit: one
// bare bbolt Update with fsync of a record of the same size, side by side.
func BenchmarkAppend(b *testing.B) {
	dir := b.TempDir()
	b.Run("journal", func(b *testing.B) {
		j, err := Open(filepath.Join(dir, "j.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer j.Close()
		for b.Loop() {
			if _, err := j.Append(Record{Kind: NoteCredited, Session: "0123456789abcdef", Amount: 1000, Code: 0x63}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bbolt-update-fsync", func(b *testing.B) {
		db, err := bolt.Open(filepath.Join(dir, "raw.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		val := make([]byte, 330)
		var seq uint64
		for b.Loop() {
			seq++
			err := db.Update(func(tx *bolt.Tx) error {
				bk, err := tx.CreateBucketIfNotExists(bucket)
				if err != nil {
					return err
				}
				return bk.Put(key(seq), val)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestBudgetAppendVsFsync measures a journal append against the physical
// limit, one bbolt Update with fsync of a record of the same size, side by
// side and interleaved so both see the same disk weather. Budget: 1.5x.
func TestBudgetAppendVsFsync(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 50
	}
	dir := t.TempDir()
	j, err := Open(filepath.Join(dir, "j.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	db, err := bolt.Open(filepath.Join(dir, "raw.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	val := make([]byte, 330)
	var tj, tb time.Duration
	for i := 1; i <= n; i++ {
		s := time.Now()
		if _, err := j.Append(Record{Kind: NoteCredited, Session: "0123456789abcdef", Amount: 1000, Code: 0x63}); err != nil {
			t.Fatal(err)
		}
		tj += time.Since(s)
		s = time.Now()
		err := db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists(bucket)
			if err != nil {
				return err
			}
			return bk.Put(key(uint64(i)), val)
		})
		if err != nil {
			t.Fatal(err)
		}
		tb += time.Since(s)
	}
	ratio := float64(tj) / float64(tb)
	t.Logf("budget: journal append %v vs bbolt Update+fsync %v per record over %d: ratio %.2f (budget 1.5)",
		(tj / time.Duration(n)).Round(time.Microsecond), (tb / time.Duration(n)).Round(time.Microsecond), n, ratio)
	if ratio > 1.5 {
		t.Errorf("journal append costs %.2fx one fsync'd Update, budget 1.5x", ratio)
	}
}
