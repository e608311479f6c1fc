// Package sealed keeps records that carry a resident's personal data (an
// application's ID-card fields) encrypted at rest until the platform has
// acknowledged them, then purges them. The key is made on the device and
// never leaves it; a stolen data folder without the key file reveals
// nothing, and a purged record is gone from the file, not just marked.
package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucket = []byte("sealed")

// ErrNotFound is returned for a record that is not (or no longer) stored.
var ErrNotFound = errors.New("sealed: no such record")

// Store is an encrypted key-value store of pending personal records.
type Store struct {
	db   *bolt.DB
	aead cipher.AEAD
}

// Open opens dir/sealed.db with the device key dir/sealed.key, creating
// both on first use. The key file is readable by the daemon's user only.
func Open(dir string) (*Store, error) {
	key, err := loadKey(filepath.Join(dir, "sealed.key"))
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealed: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealed: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "sealed.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("sealed: open: %w", err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err }); err != nil {
		db.Close()
		return nil, fmt.Errorf("sealed: %w", err)
	}
	return &Store{db: db, aead: aead}, nil
}

func loadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil && len(b) == 32:
		return b, nil
	case err == nil:
		return nil, fmt.Errorf("sealed: key %s is %d bytes, want 32", path, len(b))
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("sealed: key: %w", err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	// The key reaches the disk before any record sealed with it: a power
	// cut must not leave records (fsynced by bbolt) that no key opens.
	tmp := path + ".tmp"
	if err := writeSynced(tmp, key); err != nil {
		return nil, fmt.Errorf("sealed: key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("sealed: key: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("sealed: key: %w", err)
	}
	return key, nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Put stores plain under id, encrypted, durably. The id is bound into the
// ciphertext, so a record cannot be moved to another id.
func (s *Store) Put(id string, plain []byte) error {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	box := s.aead.Seal(nonce, nonce, plain, []byte(id))
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(id), box) }); err != nil {
		return fmt.Errorf("sealed: put %s: %w", id, err)
	}
	return nil
}

// Get returns the plain record.
func (s *Store) Get(id string) ([]byte, error) {
	var box []byte
	s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucket).Get([]byte(id)); v != nil {
			box = append([]byte(nil), v...)
		}
		return nil
	})
	if box == nil {
		return nil, ErrNotFound
	}
	n := s.aead.NonceSize()
	if len(box) < n {
		return nil, fmt.Errorf("sealed: record %s truncated", id)
	}
	plain, err := s.aead.Open(nil, box[:n], box[n:], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("sealed: record %s fails authentication: %w", id, err)
	}
	return plain, nil
}

// Purge deletes a record once the platform has it. bbolt reuses the freed
// pages, and the record was only ever on disk encrypted.
func (s *Store) Purge(id string) error {
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(id)) }); err != nil {
		return fmt.Errorf("sealed: purge %s: %w", id, err)
	}
	return nil
}

// IDs lists the records still held (the outbox's queue after a restart).
func (s *Store) IDs() ([]string, error) {
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, _ []byte) error { ids = append(ids, string(k)); return nil })
	})
	return ids, err
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }
