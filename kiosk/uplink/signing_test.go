package uplink

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
)

// RFC 9421 Appendix B.1.4: test-key-ed25519 (seed and public key, base64url).
const (
	rfcEd25519Seed = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU"
	rfcEd25519Pub  = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"
)

// The B.2 test request, as far as B.2.6 covers it.
func rfcRequest(t *testing.T) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, "http://example.com/foo?param=Value&Pet=dog", strings.NewReader(`{"hello": "world"}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Date", "Tue, 20 Apr 2021 02:07:55 GMT")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Content-Length", "18")
	return r
}

// TestRFC9421Ed25519Vector reproduces RFC 9421 §B.2.6 byte for byte: the
// signature base, the serialized parameters and (Ed25519 being
// deterministic) the signature.
func TestRFC9421Ed25519Vector(t *testing.T) {
	seed, _ := base64.RawURLEncoding.DecodeString(rfcEd25519Seed)
	priv := ed25519.NewKeyFromSeed(seed)
	if got := base64.RawURLEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)); got != rfcEd25519Pub {
		t.Fatalf("public key %s", got)
	}
	comps := []string{"date", "@method", "@path", "@authority", "content-type", "content-length"}
	params := signatureParams(comps, []sfParam{
		{"created", sfItem{kind: sfInteger, i: 1618884473}},
		{"keyid", sfItem{kind: sfString, s: "test-key-ed25519"}},
	})
	base, err := signatureBase(rfcRequest(t), comps, params)
	if err != nil {
		t.Fatal(err)
	}
	want := `"date": Tue, 20 Apr 2021 02:07:55 GMT
"@method": POST
"@path": /foo
"@authority": example.com
"content-type": application/json
"content-length": 18
"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`
	if base != want {
		t.Fatalf("signature base:\n%s\nwant:\n%s", base, want)
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(base)))
	if sig != "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==" {
		t.Fatalf("signature %s differs from RFC 9421 B.2.6", sig)
	}
	// And the parser reads the RFC's header fields back to the same base.
	h := http.Header{}
	h.Set("Signature-Input", `sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`)
	h.Set("Signature", "sig-b26=:"+sig+":")
	sigs, err := ParseSignatures(h)
	if err != nil || len(sigs) != 1 || sigs[0].params != params || sigs[0].KeyID != "test-key-ed25519" || sigs[0].Created.Unix() != 1618884473 {
		t.Fatalf("parsed %+v, %v", sigs, err)
	}
}

// TestContentDigestVector: RFC 9530 §2 example, sha-256 of {"hello": "world"}.
func TestContentDigestVector(t *testing.T) {
	if got := ContentDigest([]byte(`{"hello": "world"}`)); got != "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:" {
		t.Fatalf("Content-Digest %s", got)
	}
	h := http.Header{}
	h.Set(HeaderContentDigest, `sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`)
	if err := CheckContentDigest(h, []byte(`{"hello": "world"}`)); err != nil {
		t.Fatal(err)
	}
	if err := CheckContentDigest(h, []byte(`{"hello": "World"}`)); err == nil {
		t.Fatal("mismatch accepted")
	}
}

func newSM2(t *testing.T) *sm2.PrivateKey {
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// serverSide turns a signed client request into what a handler sees.
func serverSide(t *testing.T, req *http.Request, body []byte) *http.Request {
	t.Helper()
	r := httptest.NewRequest(req.Method, req.URL.RequestURI(), bytes.NewReader(body))
	r.Host = req.URL.Host
	for k, v := range req.Header {
		r.Header[k] = v
	}
	return r
}

func signedPost(t *testing.T, s *Signer, body []byte) *http.Request {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "https://platform.example/v1/payments?x=1", bytes.NewReader(body))
	req.Header.Set(HeaderTerminalID, "T-1")
	req.Header.Set(HeaderIdempotencyKey, "5c0e2a0e-8a4e-4d53-9f0a-3c6f1d2b7a91")
	if err := s.Sign(req, body); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestSignVerifyRoundTrip(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	smk := newSM2(t)
	now := time.Unix(1_800_000_000, 0)
	s := &Signer{Keys: []SigningKey{{AlgEd25519, ed}, {AlgSM2SM3, smk}}, Now: func() time.Time { return now }}
	body := []byte(`{"amount":100}`)
	req := signedPost(t, s, body)
	if !strings.Contains(req.Header.Get(HeaderSignatureInput), `"idempotency-key"`) {
		t.Fatalf("Signature-Input %s", req.Header.Get(HeaderSignatureInput))
	}
	r := serverSide(t, req, body)
	sigs, err := ParseSignatures(r.Header)
	if err != nil || len(sigs) != 2 {
		t.Fatalf("parse: %+v %v", sigs, err)
	}
	pubs := map[string]any{AlgEd25519: ed.Public(), AlgSM2SM3: &smk.PublicKey}
	for _, sg := range sigs {
		if err := sg.Verify(r, body, pubs[sg.Alg], now.Add(time.Minute), 0); err != nil {
			t.Fatalf("%s: %v", sg.Alg, err)
		}
	}
	code := func(err error) string {
		var se *SignatureError
		if !errors.As(err, &se) {
			return "not a SignatureError: " + err.Error()
		}
		return se.Code
	}
	ed0 := sigs[0]
	// Wrong key, stale, tampered body, other terminal id, missing coverage.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	if c := code(ed0.Verify(r, body, other.Public(), now, 0)); c != CodeSignatureInvalid {
		t.Errorf("other key: %s", c)
	}
	if c := code(ed0.Verify(r, body, ed.Public(), now.Add(6*time.Minute), 0)); c != CodeSignatureExpired {
		t.Errorf("stale: %s", c)
	}
	if c := code(ed0.Verify(r, []byte(`{"amount":900}`), ed.Public(), now, 0)); c != CodeDigestMismatch {
		t.Errorf("tampered body: %s", c)
	}
	r2 := serverSide(t, req, body)
	r2.Header.Set(HeaderTerminalID, "T-2")
	if c := code(ed0.Verify(r2, body, ed.Public(), now, 0)); c != CodeSignatureInvalid {
		t.Errorf("other terminal: %s", c)
	}
	if c := code(sigs[1].Verify(r, body, ed.Public(), now, 0)); c != CodeSignatureInvalid {
		t.Errorf("sm2 signature with an ed25519 key: %s", c)
	}
	short := ed0
	short.Components = []string{"@method", "@path", "@query", "content-digest", "x-terminal-id"}
	if c := code(short.Verify(r, body, ed.Public(), now, 0)); c != CodeSignatureInvalid {
		t.Errorf("idempotency key not covered: %s", c)
	}
}

func TestParseSignaturesErrors(t *testing.T) {
	for name, hdr := range map[string][2]string{
		"no input":      {"", ""},
		"not a list":    {`sig1="x"`, `sig1=:AAAA:`},
		"no signature":  {`sig1=("@method");created=1`, ``},
		"bad base64":    {`sig1=("@method");created=1`, `sig1=:***:`},
		"decimal":       {`sig1=("@method");created=1.5`, `sig1=:AAAA:`},
		"item params":   {`sig1=("@method";req);created=1`, `sig1=:AAAA:`},
		"bad string":    {`sig1=("@method);created=1`, `sig1=:AAAA:`},
		"created type":  {`sig1=("@method");created="1"`, `sig1=:AAAA:`},
		"twice":         {`sig1=("@method" "@method")`, `sig1=:AAAA:`},
		"trailing":      {`sig1=("@method"),`, `sig1=:AAAA:`},
		"uppercase key": {`Sig1=("@method")`, `Sig1=:AAAA:`},
	} {
		h := http.Header{}
		if hdr[0] != "" {
			h.Set(HeaderSignatureInput, hdr[0])
		}
		if hdr[1] != "" {
			h.Set(HeaderSignature, hdr[1])
		}
		if _, err := ParseSignatures(h); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSigningTransport: every request through a Client with a Signer is
// signed; a 401 signature_replayed becomes a retryable error; the body
// reaches the server intact.
func TestSigningTransport(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	var replay bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sigs, err := ParseSignatures(r.Header)
		if err == nil {
			err = sigs[0].Verify(r, body, ed.Public(), time.Now(), 0)
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case err != nil:
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"code":"signature_invalid","message":"`+err.Error()+`","retryable":false}}`)
		case replay:
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"code":"signature_replayed","message":"seen","retryable":false}}`)
		default:
			io.WriteString(w, `{"status":"ok","time":"2026-11-26T00:00:00Z"}`)
		}
	}))
	defer srv.Close()
	c := NewClient(srv.URL, "T-1")
	c.Signer = &Signer{Keys: []SigningKey{{AlgEd25519, ed}}}
	if err := c.Health(t.Context()); err != nil {
		t.Fatal(err)
	}
	replay = true
	err := c.Health(t.Context())
	if _, ok := errors.AsType[*ReplayedError](err); !ok || !IsRetryable(err) || IsFinal(err) {
		t.Fatalf("replayed: %v", err)
	}
	replay = false
	c.Signer = &Signer{Keys: []SigningKey{{AlgEd25519, ed}}, KeyID: "T-other"}
	err = c.Health(t.Context())
	if e, ok := errors.AsType[*Error](err); !ok || e.Status != 401 || !IsFinal(err) {
		t.Fatalf("wrong keyid: %v", err)
	}
}

func TestPublicKeyEncoding(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	s, err := EncodePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParsePublicKey(AlgEd25519, s); err != nil || !pub.Equal(got) {
		t.Fatalf("ed25519 round trip: %v", err)
	}
	k := newSM2(t)
	s, err = EncodePublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := base64.StdEncoding.DecodeString(s); len(b) != 65 || b[0] != 4 {
		t.Fatalf("sm2 encoding %d bytes", len(b))
	}
	if got, err := ParsePublicKey(AlgSM2SM3, s); err != nil || !k.PublicKey.Equal(got) {
		t.Fatalf("sm2 round trip: %v", err)
	}
	if _, err := ParsePublicKey(AlgEd25519, "AAAA"); err == nil {
		t.Fatal("short key accepted")
	}
}

func FuzzParseSignatures(f *testing.F) {
	f.Add(`sig1=("@method" "@path");created=1;nonce="abc";keyid="T";alg="ed25519";tag="t"`, `sig1=:AAAA:`)
	f.Add(`a=(), b=?0;x`, `a=:AAAA:, b=:AA==:`)
	f.Fuzz(func(t *testing.T, in, sig string) {
		h := http.Header{}
		h.Set(HeaderSignatureInput, in)
		h.Set(HeaderSignature, sig)
		sigs, err := ParseSignatures(h)
		if err != nil {
			return
		}
		for _, s := range sigs {
			// Re-serialized parameters parse again to the same thing.
			h2 := http.Header{}
			h2.Set(HeaderSignatureInput, s.Label+"="+s.params)
			h2.Set(HeaderSignature, s.Label+"=:"+base64.StdEncoding.EncodeToString(s.Value)+":")
			again, err := ParseSignatures(h2)
			if err != nil || len(again) != 1 || again[0].params != s.params {
				t.Fatalf("re-parse of %q: %v", s.params, err)
			}
		}
	})
}
