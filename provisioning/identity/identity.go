// Package identity gives the terminal a stable device id, made on the
// device the first time it starts and kept in the data folder. Enrollment
// keys join it in a later step.
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
}

// LoadOrCreate reads dir/identity.json, creating it once if absent.
func LoadOrCreate(dir string) (Identity, error) {
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
	var raw [5]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Identity{}, fmt.Errorf("identity: %w", err)
	}
	id := Identity{DeviceID: "TB-" + strings.ToUpper(hex.EncodeToString(raw[:])), Created: time.Now().UTC()}
	b, _ = json.MarshalIndent(id, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return Identity{}, fmt.Errorf("identity: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return Identity{}, fmt.Errorf("identity: %w", err)
	}
	return id, nil
}
