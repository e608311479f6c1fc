package refplatform

// Enrollment: one-time enrollment tokens issued by the operator
// (POST /ref/enrollment-tokens), POST /v1/enroll that trades one for a
// terminal id, and the registry of enrolled terminals and their public
// keys that request signatures are checked against (signing.go).

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"tongban/drivers/scanner/codec"
	"tongban/kiosk/uplink"
)

// Buckets of enrollment, created on first use.
var (
	bucketEnrollTokens = []byte("enrollTokens")      // hex sha256(token) -> tokenRecord JSON (the token itself is never stored)
	bucketEnrolled     = []byte("enrolledTerminals") // terminalId -> terminalRecord JSON
	bucketDevices      = []byte("enrolledDevices")   // deviceId -> terminalId of its current enrollment
	keyTerminalSeq     = []byte("terminalSeq")       // in meta: last generated terminal number
)

var (
	errTokenUnknown = errors.New("enrollment token unknown")
	errTokenExpired = errors.New("enrollment token expired")
	errTokenUsed    = errors.New("enrollment token already used")
	errSM2Required  = errors.New("this platform requires national cryptography: send an SM2 public key too")
	errNotEnrolled  = errors.New("terminal is not enrolled")
)

// Token lifetimes: one hour unless the operator asks otherwise (lamassu's
// pairing tokens live one hour too), at most a week.
const (
	DefaultTokenTTL = time.Hour
	MaxTokenTTL     = 7 * 24 * time.Hour
)

// EnrollmentTokenRequest is the body of POST /ref/enrollment-tokens: what
// the terminal that uses the token will be. Empty fields get demo values.
type EnrollmentTokenRequest struct {
	Site     uplink.Site     `json:"site"`
	Township uplink.Township `json:"township"`
	// TerminalID to assign; empty: the device's earlier id if it was
	// enrolled before, else a new one.
	TerminalID string `json:"terminalId,omitempty"`
	TTLSeconds int    `json:"ttlSeconds,omitempty"`
	// NationalCrypto makes the terminal sign with SM2 (also forced for
	// every token by Options.NationalCrypto).
	NationalCrypto bool `json:"nationalCrypto,omitempty"`
}

// EnrollmentToken is the reply: the token and the ready-made QR payload
// (drivers/scanner/README.md, "Enrollment QR").
type EnrollmentToken struct {
	Token          string          `json:"token"`
	ExpiresAt      time.Time       `json:"expiresAt"`
	Platform       string          `json:"platform"`
	CertSHA256     string          `json:"certSha256,omitempty"`
	QR             string          `json:"qr"`
	Site           uplink.Site     `json:"site"`
	Township       uplink.Township `json:"township"`
	TerminalID     string          `json:"terminalId,omitempty"`
	NationalCrypto bool            `json:"nationalCrypto"`
}

// EnrolledTerminal is one enrolled (or revoked) terminal, as GET /ref/enrollments
// lists them.
type EnrolledTerminal struct {
	TerminalID    string                 `json:"terminalId"`
	DeviceID      string                 `json:"deviceId"`
	Site          uplink.Site            `json:"site"`
	Township      uplink.Township        `json:"township"`
	SignatureAlg  string                 `json:"signatureAlg"`
	PublicKeys    uplink.PublicKeys      `json:"publicKeys"`
	Hardware      uplink.HardwareSummary `json:"hardware"`
	EnrolledAt    time.Time              `json:"enrolledAt"`
	RevokedAt     *time.Time             `json:"revokedAt,omitempty"`
	RevokedReason string                 `json:"revokedReason,omitempty"`
}

type tokenRecord struct {
	Request   EnrollmentTokenRequest `json:"request"`
	CreatedAt time.Time              `json:"createdAt"`
	ExpiresAt time.Time              `json:"expiresAt"`
	UsedAt    *time.Time             `json:"usedAt,omitempty"`
	UsedBy    string                 `json:"usedBy,omitempty"`
	UsedKeys  uplink.PublicKeys      `json:"usedKeys,omitzero"`
	Terminal  string                 `json:"terminal,omitempty"`
}

type terminalRecord struct {
	EnrolledTerminal
	Catalog uplink.CatalogRef     `json:"catalog"`
	Config  uplink.TerminalConfig `json:"config"`
}

func (t terminalRecord) enrollment() uplink.Enrollment {
	return uplink.Enrollment{TerminalID: t.TerminalID, DeviceID: t.DeviceID, Site: t.Site, Township: t.Township,
		Catalog: t.Catalog, Config: t.Config, EnrolledAt: t.EnrolledAt}
}

// provisioning is the Server's enrollment and signing state.
type provisioning struct {
	dataDir    string
	requireSig bool
	skew       time.Duration
	national   bool
	replay     *replayCache

	mu        sync.Mutex
	fixedURL  bool   // Options.EnrollURL was given
	enrollURL string // https base URL for QR codes
	tls       *tlsIdentity
}

func newProvisioning(opts Options) *provisioning {
	p := &provisioning{
		dataDir:    opts.DataDir,
		requireSig: opts.RequireSignatures,
		skew:       opts.SignatureSkew,
		national:   opts.NationalCrypto,
		enrollURL:  strings.TrimRight(opts.EnrollURL, "/"),
		fixedURL:   opts.EnrollURL != "",
	}
	if p.skew <= 0 {
		p.skew = uplink.DefaultSignatureSkew
	}
	size := opts.ReplayCacheSize
	if size <= 0 {
		size = 100_000
	}
	// A nonce must be remembered as long as a request carrying it could
	// still pass the created check: created is at most skew before the
	// first sighting, and is accepted until skew after created.
	p.replay = newReplayCache(size, 2*p.skew)
	return p
}

func hashToken(tok string) []byte {
	sum := sha256.Sum256([]byte(tok))
	return []byte(hex.EncodeToString(sum[:]))
}

func defaultTokenRequest(req EnrollmentTokenRequest) EnrollmentTokenRequest {
	if req.Site.Kind == "" {
		req.Site.Kind = uplink.SiteBank
	}
	if req.Site.Name == "" {
		req.Site.Name = "县农商银行城关支行"
		if req.Site.Address == "" {
			req.Site.Address = "城关镇人民路1号"
		}
	}
	if req.Township.Code == "" {
		req.Township = uplink.Township{Code: "chengguan", Name: "城关镇"}
	}
	return req
}

// IssueEnrollmentToken makes a one-time enrollment token and its QR
// payload. The QR names the https address (Options.EnrollURL, or where
// ListenAndServeTLS listens) and pins its certificate; without either it
// names baseURL, which must then be loopback http (demo only, no pin).
func (s *Server) IssueEnrollmentToken(req EnrollmentTokenRequest, baseURL string) (EnrollmentToken, error) {
	req = defaultTokenRequest(req)
	switch {
	case !uplink.ValidSiteKind(req.Site.Kind):
		return EnrollmentToken{}, fmt.Errorf("site kind %q: want bank, post, hospital, government, community or other", req.Site.Kind)
	case !uplink.ValidTerminalID(req.Township.Code) || req.Township.Name == "":
		return EnrollmentToken{}, errors.New("township needs a code (1..64 of A-Z a-z 0-9 . _ -) and a name")
	case req.TerminalID != "" && !uplink.ValidTerminalID(req.TerminalID):
		return EnrollmentToken{}, fmt.Errorf("terminalId %q is invalid", req.TerminalID)
	case req.TTLSeconds < 0 || time.Duration(req.TTLSeconds)*time.Second > MaxTokenTTL:
		return EnrollmentToken{}, fmt.Errorf("ttlSeconds %d: want 1..%d (0 = one hour)", req.TTLSeconds, int(MaxTokenTTL/time.Second))
	}
	req.NationalCrypto = req.NationalCrypto || s.prov.national
	ttl := DefaultTokenTTL
	if req.TTLSeconds > 0 {
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	platform, pin, err := s.enrollAddress(baseURL)
	if err != nil {
		return EnrollmentToken{}, err
	}
	var raw [24]byte
	_, _ = rand.Read(raw[:])
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.now().UTC()
	// Whole seconds: the QR carries Unix seconds, so the record must agree.
	exp := now.Add(ttl).Truncate(time.Second)
	rec := tokenRecord{Request: req, CreatedAt: now, ExpiresAt: exp}
	v, err := json.Marshal(rec)
	if err != nil {
		return EnrollmentToken{}, fmt.Errorf("encode token: %w", err)
	}
	err = s.store.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketEnrollTokens)
		if err != nil {
			return err
		}
		return b.Put(hashToken(tok), v)
	})
	if err != nil {
		return EnrollmentToken{}, fmt.Errorf("store token: %w", err)
	}
	qr := codec.EnrollmentURI(codec.Enrollment{Platform: platform, Token: tok, Expires: exp, CertSHA256: pin})
	out := EnrollmentToken{Token: tok, ExpiresAt: exp, Platform: platform, QR: qr, Site: req.Site, Township: req.Township,
		TerminalID: req.TerminalID, NationalCrypto: req.NationalCrypto}
	if pin != nil {
		out.CertSHA256 = hex.EncodeToString(pin)
	}
	s.log.Info("refplatform: enrollment token issued", "expires", exp, "site", req.Site.Name,
		"township", req.Township.Code, "nationalCrypto", req.NationalCrypto)
	return out, nil
}

// enrollAddress is the platform URL and pin for a QR.
func (s *Server) enrollAddress(baseURL string) (string, []byte, error) {
	s.prov.mu.Lock()
	u := s.prov.enrollURL
	s.prov.mu.Unlock()
	if u != "" {
		pin, err := s.CertificateSHA256()
		if err != nil {
			return "", nil, err
		}
		return u, pin, nil
	}
	pu, err := url.Parse(baseURL)
	if err != nil || pu.Scheme != "http" || !isLoopbackHost(pu.Hostname()) {
		return "", nil, errors.New("no https address to enroll through: start the TLS listener (ListenAndServeTLS) or set Options.EnrollURL")
	}
	return strings.TrimRight(baseURL, "/"), nil, nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Terminals lists every terminal ever enrolled, by terminal id.
func (s *Server) EnrolledTerminals() ([]EnrolledTerminal, error) {
	var out []EnrolledTerminal
	err := s.store.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEnrolled)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var t terminalRecord
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("decode terminal: %w", err)
			}
			out = append(out, t.EnrolledTerminal)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("refplatform: list terminals: %w", err)
	}
	return out, nil
}

// RevokeTerminal decommissions a terminal: its signatures are refused from
// now on (401 terminal_revoked) until it enrolls again.
func (s *Server) RevokeTerminal(terminalID, reason string) error {
	now := s.now().UTC()
	err := s.store.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEnrolled)
		if b == nil {
			return errNotEnrolled
		}
		t, err := getEnrolled(b, terminalID)
		if err != nil {
			return err
		}
		if t.RevokedAt == nil {
			t.RevokedAt, t.RevokedReason = &now, reason
		}
		if d := tx.Bucket(bucketDevices); d != nil && string(d.Get([]byte(t.DeviceID))) == terminalID {
			if err := d.Delete([]byte(t.DeviceID)); err != nil {
				return err
			}
		}
		return putRecord(b, terminalID, t)
	})
	if err != nil {
		return fmt.Errorf("refplatform: revoke %s: %w", terminalID, err)
	}
	s.log.Info("refplatform: terminal revoked", "terminal", terminalID, "reason", reason)
	return nil
}

func getEnrolled(b *bolt.Bucket, id string) (terminalRecord, error) {
	v := b.Get([]byte(id))
	if v == nil {
		return terminalRecord{}, errNotEnrolled
	}
	var t terminalRecord
	if err := json.Unmarshal(v, &t); err != nil {
		return terminalRecord{}, fmt.Errorf("decode terminal %s: %w", id, err)
	}
	return t, nil
}

func putRecord(b *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.Put([]byte(key), data)
}

// terminal returns the record of an enrolled or revoked terminal, or
// errNotEnrolled.
func (s *Server) enrolledTerminal(id string) (terminalRecord, error) {
	var t terminalRecord
	err := s.store.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEnrolled)
		if b == nil {
			return errNotEnrolled
		}
		var err error
		t, err = getEnrolled(b, id)
		return err
	})
	return t, err
}

// enroll spends the token for req in one transaction. It returns the
// enrollment and whether it is a replay of an earlier identical request.
func (s *Server) enroll(req uplink.EnrollRequest, now time.Time) (uplink.Enrollment, bool, error) {
	var (
		out      uplink.Enrollment
		replayed bool
	)
	err := s.store.db.Update(func(tx *bolt.Tx) error {
		tb, err := tx.CreateBucketIfNotExists(bucketEnrollTokens)
		if err != nil {
			return err
		}
		terms, err := tx.CreateBucketIfNotExists(bucketEnrolled)
		if err != nil {
			return err
		}
		devs, err := tx.CreateBucketIfNotExists(bucketDevices)
		if err != nil {
			return err
		}
		th := hashToken(req.Token)
		v := tb.Get(th)
		if v == nil {
			return errTokenUnknown
		}
		var tok tokenRecord
		if err := json.Unmarshal(v, &tok); err != nil {
			return fmt.Errorf("decode token: %w", err)
		}
		if tok.UsedAt != nil {
			// The same device with the same keys resending after a lost
			// reply gets its enrollment again; anyone else is refused.
			if tok.UsedBy == req.DeviceID && tok.UsedKeys == req.PublicKeys {
				t, err := getEnrolled(terms, tok.Terminal)
				if err == nil && t.RevokedAt == nil && t.DeviceID == req.DeviceID && t.PublicKeys == req.PublicKeys {
					out, replayed = t.enrollment(), true
					return nil
				}
			}
			return fmt.Errorf("%w (at %s)", errTokenUsed, tok.UsedAt.Format(time.RFC3339))
		}
		if !now.Before(tok.ExpiresAt) {
			return fmt.Errorf("%w (at %s)", errTokenExpired, tok.ExpiresAt.Format(time.RFC3339))
		}
		national := tok.Request.NationalCrypto || s.prov.national
		if national && req.PublicKeys.SM2 == "" {
			return errSM2Required // the token stays unspent
		}

		id := tok.Request.TerminalID
		prev := string(devs.Get([]byte(req.DeviceID)))
		if id == "" {
			id = prev
		}
		if id == "" {
			meta := tx.Bucket(bucketMeta)
			var seq uint64
			if b := meta.Get(keyTerminalSeq); len(b) == 8 {
				seq = binary.BigEndian.Uint64(b)
			}
			seq++
			if err := meta.Put(keyTerminalSeq, binary.BigEndian.AppendUint64(nil, seq)); err != nil {
				return err
			}
			id = fmt.Sprintf("T-%s-%04d", tok.Request.Township.Code, seq)
			if !uplink.ValidTerminalID(id) {
				id = fmt.Sprintf("T-%06d", seq)
			}
		}
		// The device moves to another terminal id: its old one ends.
		if prev != "" && prev != id {
			if old, err := getEnrolled(terms, prev); err == nil && old.RevokedAt == nil {
				old.RevokedAt, old.RevokedReason = &now, "device re-enrolled as "+id
				if err := putRecord(terms, prev, old); err != nil {
					return err
				}
			}
		}
		// The terminal id moves to new hardware: the old device loses it.
		if cur, err := getEnrolled(terms, id); err == nil && cur.DeviceID != req.DeviceID {
			if string(devs.Get([]byte(cur.DeviceID))) == id {
				if err := devs.Delete([]byte(cur.DeviceID)); err != nil {
					return err
				}
			}
		}
		alg := uplink.AlgEd25519
		if national {
			alg = uplink.AlgSM2SM3
		}
		t := terminalRecord{
			EnrolledTerminal: EnrolledTerminal{
				TerminalID: id, DeviceID: req.DeviceID, Site: tok.Request.Site, Township: tok.Request.Township,
				SignatureAlg: alg, PublicKeys: req.PublicKeys, Hardware: req.Hardware, EnrolledAt: now,
			},
			Catalog: uplink.CatalogRef{Township: tok.Request.Township.Code},
			Config: uplink.TerminalConfig{
				SignatureAlg: alg, SignatureSkewSec: int(s.prov.skew / time.Second), IdleTimeoutSec: 90,
				Utilities: uplink.Utilities(), Locale: "zh-CN", HeartbeatSec: 60, SupportPhone: "12345",
			},
		}
		if err := putRecord(terms, id, t); err != nil {
			return err
		}
		if err := devs.Put([]byte(req.DeviceID), []byte(id)); err != nil {
			return err
		}
		tok.UsedAt, tok.UsedBy, tok.UsedKeys, tok.Terminal = &now, req.DeviceID, req.PublicKeys, id
		data, err := json.Marshal(tok)
		if err != nil {
			return fmt.Errorf("encode token: %w", err)
		}
		if err := tb.Put(th, data); err != nil {
			return err
		}
		out = t.enrollment()
		return nil
	})
	return out, replayed, err
}

func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) {
	// Read the body once: it is both the request and what the proof
	// signatures digest.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "read body: "+err.Error())
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req uplink.EnrollRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
		return
	}
	if err := req.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
		return
	}
	if req.DeviceID != r.Header.Get(uplink.HeaderTerminalID) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "deviceId differs from X-Terminal-Id")
		return
	}
	now := s.now()
	// Proof of possession: one valid signature per public key sent.
	sigs, err := uplink.ParseSignatures(r.Header)
	if err != nil {
		s.refuseSignature(w, r, err)
		return
	}
	keys := map[string]string{uplink.AlgEd25519: req.PublicKeys.Ed25519}
	if req.PublicKeys.SM2 != "" {
		keys[uplink.AlgSM2SM3] = req.PublicKeys.SM2
	}
	for alg, enc := range keys {
		pub, err := uplink.ParsePublicKey(alg, enc)
		if err != nil {
			writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
			return
		}
		sig, ok := pickSignature(sigs, alg)
		if !ok {
			s.refuseSignature(w, r, &uplink.SignatureError{Code: uplink.CodeSignatureInvalid,
				Message: "enrollment must be signed with the new " + alg + " key"})
			return
		}
		if err := sig.Verify(r, body, pub, now, s.prov.skew); err != nil {
			s.refuseSignature(w, r, err)
			return
		}
		if fresh, _ := s.prov.replay.add("enroll/"+req.DeviceID+"/"+alg+"/"+sig.Nonce, now); !fresh {
			s.refuseSignature(w, r, &uplink.SignatureError{Code: uplink.CodeSignatureReplayed, Message: "nonce seen before"})
			return
		}
	}
	e, replayed, err := s.enroll(req, now.UTC())
	switch {
	case errors.Is(err, errTokenUnknown):
		s.log.Warn("refplatform: enrollment refused", "device", req.DeviceID, "err", err)
		writeError(w, http.StatusForbidden, uplink.CodeTokenUnknown, err.Error())
		return
	case errors.Is(err, errTokenExpired):
		s.log.Warn("refplatform: enrollment refused", "device", req.DeviceID, "err", err)
		writeError(w, http.StatusForbidden, uplink.CodeTokenExpired, err.Error())
		return
	case errors.Is(err, errTokenUsed):
		s.log.Warn("refplatform: enrollment refused", "device", req.DeviceID, "err", err)
		writeError(w, http.StatusForbidden, uplink.CodeTokenUsed, err.Error())
		return
	case errors.Is(err, errSM2Required):
		writeError(w, http.StatusUnprocessableEntity, uplink.CodeSM2Required, err.Error())
		return
	case err != nil:
		s.storeError(w, r, err)
		return
	}
	if replayed {
		w.Header().Set(uplink.HeaderIdempotentReplayed, "true")
		writeJSON(w, http.StatusOK, e)
		return
	}
	s.log.Info("refplatform: terminal enrolled", "terminal", e.TerminalID, "device", e.DeviceID,
		"site", e.Site.Name, "township", e.Township.Code, "alg", e.Config.SignatureAlg)
	// The catalog follows the township the terminal was enrolled for.
	if _, err := s.BindTerminal(e.TerminalID, e.Township.Code); err != nil {
		s.log.Warn("refplatform: enrolled terminal keeps the default catalog", "terminal", e.TerminalID, "township", e.Township.Code, "err", err)
	}
	writeJSON(w, http.StatusCreated, e)
}

func pickSignature(sigs []uplink.Signature, alg string) (uplink.Signature, bool) {
	for _, s := range sigs {
		if s.Alg == alg {
			return s, true
		}
	}
	return uplink.Signature{}, false
}

func (s *Server) handleIssueToken(w http.ResponseWriter, r *http.Request) {
	var req EnrollmentTokenRequest
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, &req); err != nil {
			writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
			return
		}
	}
	tok, err := s.IssueEnrollmentToken(req, s.baseURL(r))
	if err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, tok)
}

func (s *Server) handleRefEnrollments(w http.ResponseWriter, r *http.Request) {
	ts, err := s.EnrolledTerminals()
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if ts == nil {
		ts = []EnrolledTerminal{}
	}
	writeJSON(w, http.StatusOK, ts)
}

func (s *Server) handleRefRevoke(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("terminalId")
	err := s.RevokeTerminal(id, "revoked by the operator")
	if errors.Is(err, errNotEnrolled) {
		writeError(w, http.StatusNotFound, uplink.CodeNotFound, "unknown terminal")
		return
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	t, err := s.enrolledTerminal(id)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t.EnrolledTerminal)
}
