package codec

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"
)

func TestClassifyStaffBadge(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := StaffBadge{StaffID: "S1001", Serial: "B7K2QX9M"}
	b.Sig = ed25519.Sign(priv, b.SignedBytes())
	text := StaffBadgeURI(b)
	c := Classify(" " + text + "\r\n")
	if c.Kind != KindStaffBadge || c.Badge == nil {
		t.Fatalf("Classify(%q) = %v, want a staff badge", text, c)
	}
	if c.Badge.StaffID != "S1001" || c.Badge.Serial != "B7K2QX9M" || !bytes.Equal(c.Badge.Sig, b.Sig) {
		t.Fatalf("parsed %+v, want %+v", *c.Badge, b)
	}
	if !ed25519.Verify(pub, c.Badge.SignedBytes(), c.Badge.Sig) {
		t.Fatal("the parsed badge does not verify under the signing key")
	}
	if m := c.String(); strings.Contains(m, "sig=") && strings.Contains(m, text[len(text)-10:]) {
		t.Fatalf("masked form %q shows the signature", m)
	}
	// The signature covers the staff id: a badge edited to another staff
	// member parses but no longer verifies.
	forged := *c.Badge
	forged.StaffID = "S1002"
	if ed25519.Verify(pub, forged.SignedBytes(), forged.Sig) {
		t.Fatal("a badge with an edited staff id still verifies")
	}
	for _, bad := range []string{
		"tongban-staff:v2?s=S1&n=ABCD&sig=" + strings.Repeat("A", 86),
		"tongban-staff:v1?s=S1&n=ABCD",
		"tongban-staff:v1?s=S1&n=ABCD&sig=short",
		"tongban-staff:v1?s=S%201&n=ABCD&sig=" + strings.Repeat("A", 86),
		"tongban-staff:v1?s=S1&n=ABCD&pin=1234&sig=" + strings.Repeat("A", 86),
		"tongban-staff:v1?s=S1&s=S2&n=ABCD&sig=" + strings.Repeat("A", 86),
	} {
		if c := Classify(bad); c.Kind != KindUnknown || c.Why == "" {
			t.Errorf("Classify(%q) = %v, want unknown with a reason", bad, c)
		}
	}
}
