package uplink

// Request signing: RFC 9421 HTTP Message Signatures over the
// method, path, query, an RFC 9530 Content-Digest of the body, the
// terminal id and the idempotency key, with the device key made at
// enrollment. openapi.yaml ("Request signing") is the normative text; this
// file is the terminal's side (Signer, SigningTransport) and the checks a
// platform runs (ParseSignatures, Signature.Verify), which the reference
// platform uses.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
)

// Header fields of request signing.
const (
	HeaderSignature      = "Signature"
	HeaderSignatureInput = "Signature-Input"
	HeaderContentDigest  = "Content-Digest"
)

// Signature algorithms (the alg parameter).
const (
	// AlgEd25519 is RFC 9421 §3.3.6: Ed25519 over the signature base.
	AlgEd25519 = "ed25519"
	// AlgSM2SM3 is a private algorithm name: an SM2 signature (GB/T
	// 32918.2) with SM3 over Z ‖ signature base, Z from the default user
	// id "1234567812345678", the signature DER-encoded as GM/T 0009 has it.
	AlgSM2SM3 = "sm2-sm3"
)

// SignatureTag is the tag parameter every uplink signature carries, so a
// signature made for this API cannot be passed off for another one.
const SignatureTag = "tongban-uplink-v1"

// DefaultSignatureSkew is how far a signature's created time may be from
// the platform's clock, either way.
const DefaultSignatureSkew = 5 * time.Minute

// Error codes of signature checks: 401, final (see openapi.yaml). A
// SigningTransport turns CodeSignatureReplayed into a retryable error.
const (
	CodeSignatureRequired = "signature_required"    // 401 no signature, and this terminal must sign
	CodeSignatureInvalid  = "signature_invalid"     // 401 malformed, wrong key, or not covering what it must
	CodeSignatureExpired  = "signature_expired"     // 401 created too far from the platform's clock (or expired)
	CodeSignatureReplayed = "signature_replayed"    // 401 this keyid+nonce was seen before
	CodeDigestMismatch    = "digest_mismatch"       // 401 Content-Digest does not match the body
	CodeTerminalUnknown   = "terminal_not_enrolled" // 401 signatures are required and the terminal is not enrolled
	CodeTerminalRevoked   = "terminal_revoked"      // 401 the terminal was decommissioned or replaced
)

// SignatureError is why a signature was refused; Code is one of the codes
// above.
type SignatureError struct {
	Code    string
	Message string
}

func (e *SignatureError) Error() string { return "signature: " + e.Code + ": " + e.Message }

func sigErr(code, format string, args ...any) *SignatureError {
	return &SignatureError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// SignedComponents lists, in order, what a request signature must cover:
// the method, path and query, the body digest, the terminal id, and the
// idempotency key when the request has one.
func SignedComponents(h http.Header) []string {
	c := []string{"@method", "@path", "@query", "content-digest", "x-terminal-id"}
	if h.Get(HeaderIdempotencyKey) != "" {
		c = append(c, "idempotency-key")
	}
	return c
}

// ContentDigest is the RFC 9530 Content-Digest field value of body
// (sha-256).
func ContentDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
}

// CheckContentDigest checks that h carries a sha-256 Content-Digest and
// that it matches body.
func CheckContentDigest(h http.Header, body []byte) error {
	vals := h.Values(HeaderContentDigest)
	if len(vals) == 0 {
		return sigErr(CodeDigestMismatch, "no Content-Digest")
	}
	d, err := parseDictionary(strings.Join(vals, ", "))
	if err != nil {
		return sigErr(CodeDigestMismatch, "Content-Digest: %v", err)
	}
	for _, m := range d {
		if m.key != "sha-256" {
			continue
		}
		if m.inner || m.item.kind != sfBytes {
			return sigErr(CodeDigestMismatch, "Content-Digest sha-256 is not a byte sequence")
		}
		sum := sha256.Sum256(body)
		if subtle.ConstantTimeCompare(sum[:], m.item.b) != 1 {
			return sigErr(CodeDigestMismatch, "the body does not match its Content-Digest")
		}
		return nil
	}
	return sigErr(CodeDigestMismatch, "Content-Digest has no sha-256")
}

// SigningKey is one private key a Signer signs with.
type SigningKey struct {
	Alg string        // AlgEd25519 or AlgSM2SM3
	Key crypto.Signer // ed25519.PrivateKey or *sm2.PrivateKey
}

// Signer signs requests. Each key gives one signature (labels sig1, sig2,
// ...); normal calls use the one key the platform asked for, enrollment
// signs with every new key to prove possession of each.
type Signer struct {
	// KeyID is the keyid parameter; empty means the request's
	// X-Terminal-Id, which is what the uplink profile wants.
	KeyID string
	Keys  []SigningKey
	// Now is the clock for created; nil means time.Now.
	Now func() time.Time
}

// Sign sets Content-Digest, Signature-Input and Signature on req, whose
// body is body (nil for none). It replaces earlier signature fields.
func (s *Signer) Sign(req *http.Request, body []byte) error {
	if len(s.Keys) == 0 {
		return errors.New("sign request: signer has no keys")
	}
	keyID := s.KeyID
	if keyID == "" {
		keyID = req.Header.Get(HeaderTerminalID)
	}
	if keyID == "" || !validSFString(keyID) {
		return fmt.Errorf("sign request: keyid %q is empty or not printable ASCII", keyID)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails (Go 1.24+)
	nonce := base64.RawURLEncoding.EncodeToString(raw[:])

	req.Header.Set(HeaderContentDigest, ContentDigest(body))
	comps := SignedComponents(req.Header)
	inputs := make([]string, 0, len(s.Keys))
	sigs := make([]string, 0, len(s.Keys))
	for i, k := range s.Keys {
		label := "sig" + strconv.Itoa(i+1)
		params := []sfParam{
			{"created", sfItem{kind: sfInteger, i: now().Unix()}},
			{"nonce", sfItem{kind: sfString, s: nonce}},
			{"keyid", sfItem{kind: sfString, s: keyID}},
			{"alg", sfItem{kind: sfString, s: k.Alg}},
			{"tag", sfItem{kind: sfString, s: SignatureTag}},
		}
		sp := signatureParams(comps, params)
		base, err := signatureBase(req, comps, sp)
		if err != nil {
			return fmt.Errorf("sign request: %w", err)
		}
		sig, err := signBase(k, []byte(base))
		if err != nil {
			return fmt.Errorf("sign request: %w", err)
		}
		inputs = append(inputs, label+"="+sp)
		sigs = append(sigs, label+"=:"+base64.StdEncoding.EncodeToString(sig)+":")
	}
	req.Header.Set(HeaderSignatureInput, strings.Join(inputs, ", "))
	req.Header.Set(HeaderSignature, strings.Join(sigs, ", "))
	return nil
}

func signBase(k SigningKey, base []byte) ([]byte, error) {
	switch k.Alg {
	case AlgEd25519:
		priv, ok := k.Key.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("alg %s needs an ed25519 key, not %T", k.Alg, k.Key)
		}
		return ed25519.Sign(priv, base), nil
	case AlgSM2SM3:
		priv, ok := k.Key.(*sm2.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("alg %s needs an sm2 key, not %T", k.Alg, k.Key)
		}
		// DefaultSM2SignerOpts: sign the message itself, Z with the default uid.
		return priv.Sign(rand.Reader, base, sm2.DefaultSM2SignerOpts)
	}
	return nil, fmt.Errorf("unknown signature algorithm %q", k.Alg)
}

// signatureParams serializes the @signature-params value.
func signatureParams(comps []string, params []sfParam) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, c := range comps {
		if i > 0 {
			b.WriteByte(' ')
		}
		sfItem{kind: sfString, s: c}.serialize(&b)
	}
	b.WriteByte(')')
	serializeParams(&b, params)
	return b.String()
}

// signatureBase builds the RFC 9421 §2.5 signature base.
func signatureBase(r *http.Request, comps []string, params string) (string, error) {
	var b strings.Builder
	for _, c := range comps {
		v, err := componentValue(r, c)
		if err != nil {
			return "", err
		}
		if strings.ContainsAny(v, "\r\n") {
			return "", fmt.Errorf("component %q holds a line break", c)
		}
		b.WriteString(`"` + c + `": ` + v + "\n")
	}
	b.WriteString(`"@signature-params": ` + params)
	return b.String(), nil
}

// componentValue is a component's value (RFC 9421 §2.1, §2.2). The path is
// taken from the request line as sent (RequestURI on the server side), so
// both sides see the same bytes.
func componentValue(r *http.Request, name string) (string, error) {
	switch name {
	case "@method":
		return r.Method, nil
	case "@path":
		return requestPath(r), nil
	case "@query":
		return "?" + r.URL.RawQuery, nil
	case "@authority":
		return authority(r), nil
	case "@target-uri":
		scheme := r.URL.Scheme
		if scheme == "" {
			scheme = "http"
			if r.TLS != nil {
				scheme = "https"
			}
		}
		u := scheme + "://" + authority(r) + requestPath(r)
		if r.URL.RawQuery != "" || r.URL.ForceQuery {
			u += "?" + r.URL.RawQuery
		}
		return u, nil
	case "host":
		return authority(r), nil
	}
	if strings.HasPrefix(name, "@") || name == "" || strings.ToLower(name) != name {
		return "", fmt.Errorf("unsupported component %q", name)
	}
	vals := slices.Clone(r.Header.Values(name)) // Values shares the header's slice
	if len(vals) == 0 {
		return "", fmt.Errorf("component %q: header missing", name)
	}
	for i, v := range vals {
		vals[i] = strings.Trim(v, " \t")
	}
	return strings.Join(vals, ", "), nil
}

func requestPath(r *http.Request) string {
	p := ""
	if r.RequestURI != "" && !strings.Contains(r.RequestURI, "://") {
		p, _, _ = strings.Cut(r.RequestURI, "?")
	} else {
		p = r.URL.EscapedPath()
	}
	if p == "" {
		p = "/"
	}
	return p
}

func authority(r *http.Request) string {
	h := r.Host
	if h == "" {
		h = r.URL.Host
	}
	h = strings.ToLower(h)
	scheme := r.URL.Scheme
	if scheme == "" && r.TLS != nil {
		scheme = "https"
	}
	if strings.HasSuffix(h, ":443") && scheme == "https" || strings.HasSuffix(h, ":80") && scheme != "https" {
		h = h[:strings.LastIndexByte(h, ':')]
	}
	return h
}

// Signature is one parsed signature of a request.
type Signature struct {
	Label      string
	Components []string
	Created    time.Time
	Expires    time.Time // zero when absent
	Nonce      string
	KeyID      string
	Alg        string
	Tag        string
	Value      []byte

	params string // the @signature-params value, re-serialized
}

// ParseSignatures reads every signature of a request. No Signature-Input
// at all is CodeSignatureRequired; anything malformed is
// CodeSignatureInvalid. It checks syntax only: see Verify.
func ParseSignatures(h http.Header) ([]Signature, error) {
	in, sg := h.Values(HeaderSignatureInput), h.Values(HeaderSignature)
	if len(in) == 0 && len(sg) == 0 {
		return nil, sigErr(CodeSignatureRequired, "request is not signed (no Signature-Input)")
	}
	inputs, err := parseDictionary(strings.Join(in, ", "))
	if err != nil {
		return nil, sigErr(CodeSignatureInvalid, "Signature-Input: %v", err)
	}
	values, err := parseDictionary(strings.Join(sg, ", "))
	if err != nil {
		return nil, sigErr(CodeSignatureInvalid, "Signature: %v", err)
	}
	if len(inputs) == 0 {
		return nil, sigErr(CodeSignatureRequired, "request is not signed (empty Signature-Input)")
	}
	out := make([]Signature, 0, len(inputs))
	for _, m := range inputs {
		if !m.inner {
			return nil, sigErr(CodeSignatureInvalid, "Signature-Input %s is not an inner list", m.key)
		}
		s := Signature{Label: m.key}
		for _, it := range m.list {
			if it.kind != sfString {
				return nil, sigErr(CodeSignatureInvalid, "Signature-Input %s: component is not a string", m.key)
			}
			if slices.Contains(s.Components, it.s) {
				return nil, sigErr(CodeSignatureInvalid, "Signature-Input %s: component %q twice", m.key, it.s)
			}
			s.Components = append(s.Components, it.s)
		}
		for _, p := range m.params {
			switch p.key {
			case "created", "expires":
				if p.val.kind != sfInteger {
					return nil, sigErr(CodeSignatureInvalid, "Signature-Input %s: %s is not an integer", m.key, p.key)
				}
				t := time.Unix(p.val.i, 0).UTC()
				if p.key == "created" {
					s.Created = t
				} else {
					s.Expires = t
				}
			case "nonce", "keyid", "alg", "tag":
				if p.val.kind != sfString {
					return nil, sigErr(CodeSignatureInvalid, "Signature-Input %s: %s is not a string", m.key, p.key)
				}
				switch p.key {
				case "nonce":
					s.Nonce = p.val.s
				case "keyid":
					s.KeyID = p.val.s
				case "alg":
					s.Alg = p.val.s
				case "tag":
					s.Tag = p.val.s
				}
			}
		}
		s.params = signatureParams(s.Components, m.params)
		for _, v := range values {
			if v.key == m.key {
				if v.inner || v.item.kind != sfBytes {
					return nil, sigErr(CodeSignatureInvalid, "Signature %s is not a byte sequence", m.key)
				}
				s.Value = v.item.b
			}
		}
		if s.Value == nil {
			return nil, sigErr(CodeSignatureInvalid, "Signature-Input %s has no Signature", m.key)
		}
		out = append(out, s)
	}
	return out, nil
}

// Verify checks s against the request it came with, whose body is body,
// under the uplink profile: it must cover SignedComponents, carry the tag,
// a nonce, keyid equal to X-Terminal-Id and created within maxSkew of now
// (0: DefaultSignatureSkew); the Content-Digest must match the body; the
// signature must verify with pub (ed25519.PublicKey or an SM2
// *ecdsa.PublicKey, matching alg). Replay (a nonce seen before) is the
// verifier's to check after Verify succeeds. Errors are *SignatureError.
func (s Signature) Verify(r *http.Request, body []byte, pub crypto.PublicKey, now time.Time, maxSkew time.Duration) error {
	if maxSkew <= 0 {
		maxSkew = DefaultSignatureSkew
	}
	if s.Tag != SignatureTag {
		return sigErr(CodeSignatureInvalid, "%s: tag %q, want %q", s.Label, s.Tag, SignatureTag)
	}
	for _, c := range SignedComponents(r.Header) {
		if !slices.Contains(s.Components, c) {
			return sigErr(CodeSignatureInvalid, "%s does not cover %q", s.Label, c)
		}
	}
	if tid := r.Header.Get(HeaderTerminalID); s.KeyID != tid {
		return sigErr(CodeSignatureInvalid, "%s: keyid %q is not the X-Terminal-Id %q", s.Label, s.KeyID, tid)
	}
	if len(s.Nonce) < 16 || len(s.Nonce) > 64 {
		return sigErr(CodeSignatureInvalid, "%s: nonce missing or not 16..64 characters", s.Label)
	}
	if s.Created.IsZero() {
		return sigErr(CodeSignatureInvalid, "%s: created missing", s.Label)
	}
	if d := now.Sub(s.Created); d > maxSkew || d < -maxSkew {
		return sigErr(CodeSignatureExpired, "%s: created %s is %s away from the platform's clock (at most %s)",
			s.Label, s.Created.Format(time.RFC3339), d.Round(time.Second), maxSkew)
	}
	if !s.Expires.IsZero() && !now.Before(s.Expires) {
		return sigErr(CodeSignatureExpired, "%s: expired at %s", s.Label, s.Expires.Format(time.RFC3339))
	}
	base, err := signatureBase(r, s.Components, s.params)
	if err != nil {
		return sigErr(CodeSignatureInvalid, "%s: %v", s.Label, err)
	}
	ok := false
	switch s.Alg {
	case AlgEd25519:
		k, isEd := pub.(ed25519.PublicKey)
		if !isEd {
			return sigErr(CodeSignatureInvalid, "%s: alg %s but the terminal's key is %T", s.Label, s.Alg, pub)
		}
		ok = ed25519.Verify(k, []byte(base), s.Value)
	case AlgSM2SM3:
		k, isEC := pub.(*ecdsa.PublicKey)
		if !isEC || !sm2.IsSM2PublicKey(k) {
			return sigErr(CodeSignatureInvalid, "%s: alg %s but the terminal's key is %T", s.Label, s.Alg, pub)
		}
		ok = sm2.VerifyASN1WithSM2(k, nil, []byte(base), s.Value)
	default:
		return sigErr(CodeSignatureInvalid, "%s: unknown alg %q", s.Label, s.Alg)
	}
	if !ok {
		return sigErr(CodeSignatureInvalid, "%s does not verify with the terminal's %s key", s.Label, s.Alg)
	}
	// The digest is checked after the signature, so a mismatch means the
	// signed headers are genuine and the body is not.
	if err := CheckContentDigest(r.Header, body); err != nil {
		return err
	}
	return nil
}

// EncodePublicKey is the wire form of a public key in EnrollRequest:
// base64 of the raw 32 bytes (Ed25519) or of the uncompressed point
// 04‖X‖Y (SM2, 65 bytes).
func EncodePublicKey(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return base64.StdEncoding.EncodeToString(k), nil
	case *ecdsa.PublicKey:
		if !sm2.IsSM2PublicKey(k) {
			return "", errors.New("encode public key: not an SM2 key")
		}
		e, err := sm2.PublicKeyToECDH(k)
		if err != nil {
			return "", fmt.Errorf("encode public key: %w", err)
		}
		return base64.StdEncoding.EncodeToString(e.Bytes()), nil
	}
	return "", fmt.Errorf("encode public key: unsupported type %T", pub)
}

// ParsePublicKey reads EncodePublicKey's form for alg (AlgEd25519 or
// AlgSM2SM3).
func ParsePublicKey(alg, s string) (crypto.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("public key %s: not base64", alg)
	}
	switch alg {
	case AlgEd25519:
		if len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("public key %s: %d bytes, want %d", alg, len(b), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(b), nil
	case AlgSM2SM3:
		k, err := sm2.NewPublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("public key %s: %w", alg, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("public key: unknown algorithm %q", alg)
}

// ReplayedError is what a SigningTransport returns when the platform
// answers 401 signature_replayed. The client never sends a signature
// twice, so someone (a proxy retrying, a duplicated delivery) delivered
// this exact request before: it may have been committed. The outcome is
// unknown, so the error is retryable; a resend gets a fresh nonce and the
// Idempotency-Key settles it.
type ReplayedError struct{ Message string }

func (e *ReplayedError) Error() string {
	return "uplink: platform had seen this signature before (duplicate delivery?); outcome unknown: " + e.Message
}

// Timeout and Temporary make it a net.Error, hence retryable.
func (e *ReplayedError) Timeout() bool   { return false }
func (e *ReplayedError) Temporary() bool { return true }

// SigningTransport signs every request it carries with Signer. It reads
// the body to digest it, and hands the base transport a request without
// GetBody: net/http then cannot resend a request the server may have seen
// under the same nonce; such a failure reaches the caller as a retryable
// error and the resend is signed afresh.
type SigningTransport struct {
	Base   http.RoundTripper // nil: http.DefaultTransport
	Signer *Signer
}

// RoundTrip implements http.RoundTripper.
func (t *SigningTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("sign request: read body: %w", err)
		}
		body = b
	}
	r2 := req.Clone(req.Context())
	r2.GetBody = nil
	if body != nil {
		r2.Body = io.NopCloser(bytes.NewReader(body))
		r2.ContentLength = int64(len(body))
	}
	if err := t.Signer.Sign(r2, body); err != nil {
		return nil, err
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(r2)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if rerr != nil {
		return nil, fmt.Errorf("read 401 reply: %w", rerr)
	}
	var eb ErrorBody
	if json.Unmarshal(data, &eb) == nil && eb.Error.Code == CodeSignatureReplayed {
		return nil, &ReplayedError{Message: eb.Error.Message}
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp, nil
}

// signedHTTP is the HTTP client a call goes through: the client's own,
// with its transport wrapped in a SigningTransport when Signer is set.
func (c *Client) signedHTTP() *http.Client {
	hc := c.httpClient()
	if c.Signer == nil {
		return hc
	}
	cp := *hc // shares the transport and its connection pool
	cp.Transport = &SigningTransport{Base: hc.Transport, Signer: c.Signer}
	return &cp
}
