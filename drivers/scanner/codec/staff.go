package codec

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
)

// KindStaffBadge is a partner-site staff badge QR: tongban-staff:v1?… (its
// format is in README.md). The scanner only parses it; the county
// platform, which signed it, decides whether it is genuine.
const KindStaffBadge Kind = "staffBadge"

// StaffBadge is a parsed staff badge QR.
type StaffBadge struct {
	StaffID string // the platform's staff id, 1–32 of [A-Za-z0-9_-]
	Serial  string // the badge's serial; a re-issued badge gets a new one
	Sig     []byte // Ed25519 signature by the platform over SignedBytes
}

// SignedBytes is what the platform signs: the version, staff id and serial
// on lines of their own, so no encoding of the query can change them.
func (b StaffBadge) SignedBytes() []byte {
	return []byte("tongban-staff:v1\ns=" + b.StaffID + "\nn=" + b.Serial)
}

// Key names the badge for a PIN lockout: staff id and serial.
func (b StaffBadge) Key() string { return b.StaffID + "/" + b.Serial }

// StaffBadgeURI builds the QR text for a signed badge (the platform's side).
func StaffBadgeURI(b StaffBadge) string {
	q := url.Values{"s": {b.StaffID}, "n": {b.Serial}, "sig": {base64.RawURLEncoding.EncodeToString(b.Sig)}}
	return "tongban-staff:v1?" + q.Encode()
}

// ParseStaffBadge reads tongban-staff:v1?s=<staff id>&n=<serial>&sig=<base64url>.
// It checks the form only: the signature is the platform's to verify.
func ParseStaffBadge(s string) (StaffBadge, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || !strings.EqualFold(u.Scheme, "tongban-staff") {
		return StaffBadge{}, fmt.Errorf("staff badge: not a tongban-staff: URI")
	}
	if u.Opaque != "v1" {
		return StaffBadge{}, fmt.Errorf("staff badge: version %q (want v1)", u.Opaque)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return StaffBadge{}, fmt.Errorf("staff badge: query: %w", err)
	}
	for k, v := range q {
		if k != "s" && k != "n" && k != "sig" {
			return StaffBadge{}, fmt.Errorf("staff badge: unknown field %q", k)
		}
		if len(v) != 1 {
			return StaffBadge{}, fmt.Errorf("staff badge: %s given %d times", k, len(v))
		}
	}
	b := StaffBadge{StaffID: q.Get("s"), Serial: q.Get("n")}
	if !validID(b.StaffID, 1, 32) {
		return StaffBadge{}, fmt.Errorf("staff badge: staff id is not 1 to 32 letters, digits, - or _")
	}
	if !validID(b.Serial, 4, 32) {
		return StaffBadge{}, fmt.Errorf("staff badge: serial is not 4 to 32 letters, digits, - or _")
	}
	b.Sig, err = base64.RawURLEncoding.DecodeString(q.Get("sig"))
	if err != nil || len(b.Sig) != 64 {
		return StaffBadge{}, fmt.Errorf("staff badge: signature is not 64 bytes of base64url")
	}
	return b, nil
}
