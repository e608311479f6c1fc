package identity_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"tongban/provisioning/identity"
)

func enrollment(dev string) identity.Enrollment {
	return identity.Enrollment{
		Platform: "https://platform.example", CertSHA256: strings.Repeat("ab", 32), TerminalID: "T-chengguan-0001", DeviceID: dev,
		Site: identity.Site{Kind: "bank", Name: "县农商银行城关支行"}, Township: identity.Township{Code: "chengguan", Name: "城关镇"},
		Algorithm: "ed25519", EnrolledAt: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC),
	}
}

func TestLoadOrCreateKeepsDeviceID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kiosk") // created on first use
	a, err := identity.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.DeviceID, "TB-") || len(a.DeviceID) != 13 || a.Enrolled() || a.TerminalID() != a.DeviceID {
		t.Fatalf("new identity %+v", a)
	}
	b, err := identity.LoadOrCreate(dir)
	if err != nil || b.DeviceID != a.DeviceID {
		t.Fatalf("reload %+v, %v", b, err)
	}
	if st, err := os.Stat(filepath.Join(dir, "identity.json")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("identity.json: %v %v", st.Mode(), err)
	}
	// A damaged file is an error, never silently replaced.
	os.WriteFile(filepath.Join(dir, "identity.json"), []byte("{"), 0o600)
	if _, err := identity.LoadOrCreate(dir); err == nil {
		t.Fatal("damaged identity.json accepted")
	}
}

func TestCommitLoadKeysWipe(t *testing.T) {
	dir := t.TempDir()
	st := identity.Open(dir)
	id, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Keys(); !errors.Is(err, identity.ErrNotEnrolled) {
		t.Fatalf("keys before enrollment: %v", err)
	}
	keys, err := identity.GenerateKeys(true)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.SM2Public()) != 65 || keys.SM2Public()[0] != 4 || len(keys.Ed25519Public()) != ed25519.PublicKeySize {
		t.Fatal("public key forms")
	}
	if _, err := st.Commit(keys, enrollment("TB-OTHER00000")); err == nil {
		t.Fatal("enrollment of another device accepted")
	}
	got, err := st.Commit(keys, enrollment(id.DeviceID))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Enrolled() || got.TerminalID() != "T-chengguan-0001" || len(got.Enrollment.KeyFiles) != 2 {
		t.Fatalf("committed %+v", got.Enrollment)
	}
	// Reload from disk: same enrollment, same keys, private files.
	again, err := identity.LoadOrCreate(dir)
	if err != nil || again.Enrollment == nil || again.Enrollment.Site.Name != "县农商银行城关支行" || again.Enrollment.Township.Code != "chengguan" {
		t.Fatalf("reload %+v, %v", again.Enrollment, err)
	}
	k2, err := st.Keys()
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Ed25519.Equal(keys.Ed25519) || !k2.SM2.Equal(keys.SM2) {
		t.Fatal("keys differ after reload")
	}
	msg := []byte("签名")
	sig, err := k2.SM2.Sign(nil, msg, sm2.DefaultSM2SignerOpts)
	if err != nil || !sm2.VerifyASN1WithSM2(&keys.SM2.PublicKey, nil, msg, sig) {
		t.Fatalf("reloaded SM2 key does not sign: %v", err)
	}
	for _, name := range got.Enrollment.KeyFiles {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", name, fi.Mode(), err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if !bytes.HasPrefix(b, []byte("-----BEGIN PRIVATE KEY-----")) {
			t.Fatalf("%s is not PKCS #8 PEM", name)
		}
	}
	// A key file others can read is refused.
	ed := filepath.Join(dir, got.Enrollment.KeyFiles[identity.KeyEd25519])
	os.Chmod(ed, 0o644)
	if _, err := st.Keys(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: %v", err)
	}
	os.Chmod(ed, 0o600)

	// Re-commit (re-enrollment): the old generation's files go.
	keys3, _ := identity.GenerateKeys(false)
	e3 := enrollment(id.DeviceID)
	e3.EnrolledAt = e3.EnrolledAt.Add(time.Hour)
	third, err := st.Commit(keys3, e3)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range got.Enrollment.KeyFiles {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("old key %s survives re-enrollment", name)
		}
	}
	if len(third.Enrollment.KeyFiles) != 1 {
		t.Fatalf("key files %v", third.Enrollment.KeyFiles)
	}

	// Stray keys of an interrupted enrollment are removed at load.
	stray := filepath.Join(dir, "device-20990101T000000-deadbeef.ed25519")
	os.WriteFile(stray, []byte("x"), 0o600)
	if _, err := st.Load(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stray); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("stray key file survives a load")
	}

	// Wipe: unprovisioned, no key left, device id kept.
	if wiped, err := st.Wipe(); err != nil || !wiped {
		t.Fatalf("wipe: %v %v", wiped, err)
	}
	after, err := st.Load()
	if err != nil || after.Enrolled() || after.DeviceID != id.DeviceID {
		t.Fatalf("after wipe %+v, %v", after, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "identity.json" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("left after wipe: %v", names)
	}
	if wiped, err := st.Wipe(); err != nil || wiped {
		t.Fatalf("second wipe: %v %v", wiped, err)
	}
}
