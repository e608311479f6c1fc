// Package identity is what the terminal knows about itself: a stable device
// id made on the device the first time it starts, the device key pairs made
// on the device for enrollment (Ed25519 always, SM2 when the platform asks
// for national cryptography) and, once enrolled, what the platform said:
// its address and pinned certificate, the terminal id it assigned, the site
// and township. Everything lives in one data folder, private files 0600.
//
// Files in the folder:
//
//	identity.json        device id and creation time (never wiped)
//	enrollment.json      the enrollment; its presence is what "enrolled" means
//	device-<gen>.ed25519 Ed25519 private key, PKCS #8 PEM
//	device-<gen>.sm2     SM2 private key, PKCS #8 PEM (national crypto only)
//
// enrollment.json names the key files of its generation, so replacing an
// enrollment is one atomic rename: a crash leaves either the old identity
// or the new one, never new keys under an old terminal id.
package identity

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Identity is what the terminal knows about itself.
type Identity struct {
	DeviceID string    `json:"deviceId"`
	Created  time.Time `json:"created"`
	// Enrollment is nil until the terminal is enrolled. It is stored in its
	// own file, not in identity.json.
	Enrollment *Enrollment `json:"-"`
}

// Enrolled reports whether the terminal has a current enrollment.
func (id Identity) Enrolled() bool { return id.Enrollment != nil }

// TerminalID is the id the terminal uses upstream: the one the platform
// assigned once enrolled, the device id before (demo platforms accept it).
func (id Identity) TerminalID() string {
	if id.Enrollment != nil {
		return id.Enrollment.TerminalID
	}
	return id.DeviceID
}

// Site is where the terminal stands, as the platform described it.
type Site struct {
	Kind    string `json:"kind"` // bank, post, hospital, government, community, other
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
}

// Township is the township (乡镇/街道) whose catalog the terminal serves.
type Township struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Enrollment is what the platform granted. Config is the platform's
// configuration object as received (kiosk/uplink.TerminalConfig); this
// package keeps it opaque so that it does not depend on the API types.
type Enrollment struct {
	Platform   string   `json:"platform"`             // base URL the terminal talks to
	CertSHA256 string   `json:"certSha256,omitempty"` // pinned leaf certificate hash, hex; empty for a loopback http platform
	TerminalID string   `json:"terminalId"`
	DeviceID   string   `json:"deviceId"`
	Site       Site     `json:"site"`
	Township   Township `json:"township"`
	// Algorithm is the signature algorithm the platform asked for
	// (kiosk/uplink.AlgEd25519 or AlgSM2SM3).
	Algorithm  string          `json:"algorithm"`
	Catalog    json.RawMessage `json:"catalog,omitempty"`
	Config     json.RawMessage `json:"config,omitempty"`
	EnrolledAt time.Time       `json:"enrolledAt"`

	// KeyFiles are the private key files of this enrollment, by algorithm
	// name ("ed25519", "sm2"), relative to the folder. Set by Commit.
	KeyFiles map[string]string `json:"keyFiles"`
}

// LoadOrCreate reads dir/identity.json, creating it once if absent, and
// the enrollment if there is one. The device id survives Wipe.
func LoadOrCreate(dir string) (Identity, error) {
	return Open(dir).Load()
}

func loadOrCreateDevice(dir string) (Identity, error) {
	path := filepath.Join(dir, "identity.json")
	b, err := os.ReadFile(path)
	if err == nil {
		var id Identity
		if err := json.Unmarshal(b, &id); err != nil || id.DeviceID == "" {
			return Identity{}, fmt.Errorf("identity %s: unreadable (%v); move it away to make a new one", path, err)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Identity{}, fmt.Errorf("identity: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Identity{}, fmt.Errorf("identity: %w", err)
	}
	var raw [5]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Identity{}, fmt.Errorf("identity: %w", err)
	}
	id := Identity{DeviceID: "TB-" + strings.ToUpper(hex.EncodeToString(raw[:])), Created: time.Now().UTC()}
	b, _ = json.MarshalIndent(id, "", "  ")
	if err := writeFileAtomic(path, b); err != nil {
		return Identity{}, fmt.Errorf("identity: %w", err)
	}
	return id, nil
}
