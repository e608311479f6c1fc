package refplatform_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"tongban/drivers/scanner/codec"
	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

func postJSON(t *testing.T, url string, body any, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s: %v (%s)", url, err, data)
		}
	}
	return resp.StatusCode
}

// TestEnrollmentTokenEndpoint: the operator's token endpoint gives a QR the
// scanner codec parses; without a TLS listener a loopback http platform
// gets an http QR without a pin; tokens are listed once used.
func TestEnrollmentTokenEndpoint(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	var tok refplatform.EnrollmentToken
	if st := postJSON(t, e.ts.URL+"/ref/enrollment-tokens", map[string]any{
		"site":       map[string]string{"kind": "post", "name": "城关邮政支局", "address": "解放路8号"},
		"township":   map[string]string{"code": "chengguan", "name": "城关镇"},
		"ttlSeconds": 120,
	}, &tok); st != http.StatusCreated {
		t.Fatalf("status %d", st)
	}
	c := codec.Classify(tok.QR)
	if c.Kind != codec.KindEnroll || c.Enroll.Platform != e.ts.URL || c.Enroll.Token != tok.Token || c.Enroll.CertSHA256 != nil {
		t.Fatalf("QR %q classified %+v", tok.QR, c)
	}
	if d := time.Until(tok.ExpiresAt); d < 100*time.Second || d > 121*time.Second || !c.Enroll.Expires.Equal(tok.ExpiresAt) {
		t.Fatalf("expires %v (QR %v)", tok.ExpiresAt, c.Enroll.Expires)
	}
	// Bad requests.
	for _, body := range []map[string]any{
		{"site": map[string]string{"kind": "casino", "name": "x"}},
		{"ttlSeconds": 30 * 24 * 3600},
		{"township": map[string]string{"code": "bad code", "name": "x"}},
	} {
		if st := postJSON(t, e.ts.URL+"/ref/enrollment-tokens", body, nil); st != http.StatusBadRequest {
			t.Errorf("%v: status %d", body, st)
		}
	}
	// An empty body gets demo defaults.
	var def refplatform.EnrollmentToken
	resp, err := http.Post(e.ts.URL+"/ref/enrollment-tokens", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&def)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || def.Site.Kind != uplink.SiteBank || def.Township.Code != "chengguan" {
		t.Fatalf("default token %d %+v", resp.StatusCode, def)
	}
	var list []refplatform.EnrolledTerminal
	r2, err := http.Get(e.ts.URL + "/ref/enrollments")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(r2.Body).Decode(&list)
	r2.Body.Close()
	if r2.StatusCode != 200 || list == nil || len(list) != 0 {
		t.Fatalf("enrollments %d %v", r2.StatusCode, list)
	}
	if st := postJSON(t, e.ts.URL+"/ref/enrollments/T-NOPE/revoke", nil, nil); st != http.StatusNotFound {
		t.Fatalf("revoke unknown: %d", st)
	}
}

// TestEnrollNeedsProofOfPossession: an enrollment not signed by the keys
// it carries is refused, and the token stays usable.
func TestEnrollNeedsProofOfPossession(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	tok, err := e.srv.IssueEnrollmentToken(refplatform.EnrollmentTokenRequest{}, e.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"token":"` + tok.Token + `","deviceId":"TB-0000000001","publicKeys":{"ed25519":"JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="},"hardware":{}}`
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/v1/enroll", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(uplink.HeaderTerminalID, "TB-0000000001")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var eb uplink.ErrorBody
	json.NewDecoder(resp.Body).Decode(&eb)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || eb.Error.Code != uplink.CodeSignatureRequired {
		t.Fatalf("unsigned enrollment: %d %+v", resp.StatusCode, eb)
	}
	if ts, _ := e.srv.EnrolledTerminals(); len(ts) != 0 {
		t.Fatalf("enrolled: %+v", ts)
	}
}
