package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Key algorithm names, as used in Enrollment.KeyFiles and in key file names.
const (
	KeyEd25519 = "ed25519"
	KeySM2     = "sm2"
)

const (
	enrollmentFile = "enrollment.json"
	keyFilePrefix  = "device-"
)

// ErrNotEnrolled is returned by Store.Keys when there is no enrollment.
var ErrNotEnrolled = errors.New("identity: terminal is not enrolled")

// Keys are the device's private keys. They never leave the device: the
// platform only ever sees the public halves.
type Keys struct {
	Ed25519 ed25519.PrivateKey
	SM2     *sm2.PrivateKey // nil unless the platform asked for national crypto
}

// GenerateKeys makes a fresh Ed25519 key and, when withSM2, an SM2 key
// (GB/T 32918) with crypto/rand.
func GenerateKeys(withSM2 bool) (*Keys, error) {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	k := &Keys{Ed25519: ed}
	if withSM2 {
		if k.SM2, err = sm2.GenerateKey(rand.Reader); err != nil {
			return nil, fmt.Errorf("generate sm2 key: %w", err)
		}
	}
	return k, nil
}

// Ed25519Public is the 32-byte Ed25519 public key.
func (k *Keys) Ed25519Public() ed25519.PublicKey {
	return k.Ed25519.Public().(ed25519.PublicKey)
}

// SM2Public is the SM2 public key as an uncompressed point (04 || X || Y,
// 65 bytes), or nil without an SM2 key.
func (k *Keys) SM2Public() []byte {
	if k.SM2 == nil {
		return nil
	}
	e, err := sm2.PublicKeyToECDH(&k.SM2.PublicKey)
	if err != nil {
		return nil // cannot happen for a key sm2.GenerateKey or NewPrivateKey made
	}
	return e.Bytes()
}

// Store is the identity folder. It is not safe for concurrent use by
// several processes; the daemon and `kioskd provision` should not run at
// the same time on one folder.
type Store struct{ dir string }

// Open returns the store for dir; nothing is read or created until used.
func Open(dir string) *Store { return &Store{dir: dir} }

// Dir is the folder.
func (s *Store) Dir() string { return s.dir }

// Load returns the identity, creating the device id on first use, with the
// enrollment if there is one.
func (s *Store) Load() (Identity, error) {
	id, err := loadOrCreateDevice(s.dir)
	if err != nil {
		return Identity{}, err
	}
	e, err := s.enrollment()
	if err != nil {
		return Identity{}, err
	}
	id.Enrollment = e
	// Keys of an interrupted enrollment or wipe are private keys nobody
	// uses: remove them now rather than leave them on disk.
	s.removeKeysExcept(e)
	return id, nil
}

func (s *Store) enrollment() (*Enrollment, error) {
	path := filepath.Join(s.dir, enrollmentFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("identity: read enrollment: %w", err)
	}
	var e Enrollment
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("identity: enrollment %s unreadable (%v); run `kioskd provision wipe` and enroll again", path, err)
	}
	if e.TerminalID == "" || e.Platform == "" || e.KeyFiles[KeyEd25519] == "" {
		return nil, fmt.Errorf("identity: enrollment %s incomplete; run `kioskd provision wipe` and enroll again", path)
	}
	return &e, nil
}

// Keys loads the private keys of the current enrollment.
func (s *Store) Keys() (*Keys, error) {
	e, err := s.enrollment()
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, ErrNotEnrolled
	}
	k := &Keys{}
	for alg, name := range e.KeyFiles {
		key, err := readKey(filepath.Join(s.dir, name))
		if err != nil {
			return nil, err
		}
		switch v := key.(type) {
		case ed25519.PrivateKey:
			if alg != KeyEd25519 {
				return nil, fmt.Errorf("identity: key file %s holds an ed25519 key, enrollment says %s", name, alg)
			}
			k.Ed25519 = v
		case *sm2.PrivateKey:
			if alg != KeySM2 {
				return nil, fmt.Errorf("identity: key file %s holds an sm2 key, enrollment says %s", name, alg)
			}
			k.SM2 = v
		default:
			return nil, fmt.Errorf("identity: key file %s: unexpected key type %T", name, key)
		}
	}
	if k.Ed25519 == nil {
		return nil, errors.New("identity: enrollment has no ed25519 key")
	}
	return k, nil
}

func readKey(path string) (any, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("identity: key: %w", err)
	}
	// A private key others can read is no longer the device's own.
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("identity: key file %s has mode %v; it must be readable by its owner only (chmod 600)", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("identity: key file %s is not a PEM PRIVATE KEY", path)
	}
	key, err := smx509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("identity: key file %s: %w", path, err)
	}
	return key, nil
}

// Commit makes keys and e the terminal's identity, replacing (and wiping)
// any earlier enrollment. e.DeviceID must be the device's id.
//
// Order: the new key files first, then enrollment.json by rename (the
// commit point), then the old key files are overwritten and removed.
func (s *Store) Commit(keys *Keys, e Enrollment) (Identity, error) {
	id, err := loadOrCreateDevice(s.dir)
	if err != nil {
		return Identity{}, err
	}
	if e.DeviceID != id.DeviceID {
		return Identity{}, fmt.Errorf("identity: enrollment is for device %s, this is %s", e.DeviceID, id.DeviceID)
	}
	if keys == nil || keys.Ed25519 == nil {
		return Identity{}, errors.New("identity: commit without an ed25519 key")
	}
	if e.TerminalID == "" || e.Platform == "" {
		return Identity{}, errors.New("identity: commit of an enrollment without terminal id or platform")
	}
	if e.EnrolledAt.IsZero() {
		e.EnrolledAt = time.Now().UTC()
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	gen := e.EnrolledAt.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(rnd[:])
	e.KeyFiles = map[string]string{}
	for alg, key := range map[string]any{KeyEd25519: keys.Ed25519, KeySM2: keys.SM2} {
		if k, ok := key.(*sm2.PrivateKey); ok && k == nil {
			continue
		}
		der, err := smx509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return Identity{}, fmt.Errorf("identity: encode %s key: %w", alg, err)
		}
		name := keyFilePrefix + gen + "." + alg
		if err := writeFileAtomic(filepath.Join(s.dir, name), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return Identity{}, fmt.Errorf("identity: write %s key: %w", alg, err)
		}
		e.KeyFiles[alg] = name
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return Identity{}, fmt.Errorf("identity: encode enrollment: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(s.dir, enrollmentFile), b); err != nil {
		return Identity{}, fmt.Errorf("identity: write enrollment: %w", err)
	}
	s.removeKeysExcept(&e)
	id.Enrollment = &e
	return id, nil
}

// Wipe removes the enrollment and every device key, for a re-enrollment or
// a decommissioning: afterwards the terminal is unprovisioned and nothing
// it signed before can be signed again. The device id stays (it names the
// box, like a serial number); the journal is not touched, because it says
// what residents are owed. It reports whether there was anything to wipe.
func (s *Store) Wipe() (bool, error) {
	had := false
	err := os.Remove(filepath.Join(s.dir, enrollmentFile))
	switch {
	case err == nil:
		had = true
		syncDir(s.dir)
	case !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("identity: wipe enrollment: %w", err)
	}
	n, err := s.removeKeys(func(string) bool { return true })
	if err != nil {
		return had, err
	}
	return had || n > 0, nil
}

// removeKeysExcept removes every key file e does not name (best effort).
func (s *Store) removeKeysExcept(e *Enrollment) {
	keep := []string{}
	if e != nil {
		for _, n := range e.KeyFiles {
			keep = append(keep, n)
		}
	}
	_, _ = s.removeKeys(func(name string) bool { return !slices.Contains(keep, name) })
}

// removeKeys overwrites and removes the key files pick selects. Overwriting
// first is no guarantee on flash (wear levelling may keep the old block),
// but it is what the file system lets a program do.
func (s *Store) removeKeys(pick func(name string) bool) (int, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("identity: list %s: %w", s.dir, err)
	}
	n := 0
	var firstErr error
	for _, ent := range ents {
		name := ent.Name()
		// ".device-..." are temporary files of an interrupted write.
		isKey := strings.HasPrefix(name, keyFilePrefix) || strings.HasPrefix(name, "."+keyFilePrefix)
		if !isKey || ent.IsDir() || !pick(name) {
			continue
		}
		path := filepath.Join(s.dir, name)
		if st, err := ent.Info(); err == nil && st.Size() > 0 {
			if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
				_, _ = f.Write(make([]byte, st.Size()))
				_ = f.Sync()
				_ = f.Close()
			}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			if firstErr == nil {
				firstErr = fmt.Errorf("identity: remove key %s: %w", name, err)
			}
			continue
		}
		n++
	}
	if n > 0 {
		syncDir(s.dir)
	}
	return n, firstErr
}

// writeFileAtomic writes b to path (mode 0600) through a synced temporary
// file and a rename, then syncs the folder, so a power cut leaves either
// the old file or the new one.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		f.Close()
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
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	syncDir(dir)
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
