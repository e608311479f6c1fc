// Package enroll enrolls the terminal with its county platform: it reads
// the enrollment QR (or a typed token), makes the device's key pairs on the
// device, trades the one-time token for a terminal id, site, township and
// configuration over HTTPS pinned to the certificate hash the QR carries,
// and commits the new identity (wiping the old one). The technician screen
// and `kioskd provision` both call Enroll: one code path.
//
// It follows the pattern the anchors share (lamassu's pairing QR, Mender's
// device keys, AWS/balena's bootstrap secret): a short-lived bootstrap
// secret (the token) and a pinned platform certificate get a key made on
// the device accepted by the platform; every later request is signed with
// that key (kiosk/uplink, signing.go).
package enroll

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"tongban/drivers/scanner/codec"
	"tongban/kiosk/uplink"
	"tongban/provisioning/identity"
)

// Final outcomes a technician can act on. Match with errors.Is.
var (
	// ErrWrongPin: the platform's certificate is not the one the QR pins
	// (a wrong or outdated QR, or someone in the middle).
	ErrWrongPin = errors.New("wrong pin: the platform's TLS certificate does not match the enrollment QR")
	// ErrTokenExpired: the token's time is up; ask for a new QR.
	ErrTokenExpired = errors.New("enrollment token expired")
	// ErrTokenUsed: the token enrolled another device (or other keys).
	ErrTokenUsed = errors.New("enrollment token already used")
	// ErrTokenUnknown: the platform does not know the token.
	ErrTokenUnknown = errors.New("enrollment token unknown to the platform")
	// ErrRefused: any other final refusal by the platform.
	ErrRefused = errors.New("enrollment refused by the platform")
)

// PinError is a certificate that does not match the pin. It matches
// ErrWrongPin.
type PinError struct {
	Got, Want []byte
}

func (e *PinError) Error() string {
	return fmt.Sprintf("wrong pin: the platform's certificate has SHA-256 %x, the enrollment QR pins %x", e.Got, e.Want)
}

// Is makes errors.Is(err, ErrWrongPin) true.
func (e *PinError) Is(target error) bool { return target == ErrWrongPin }

// Request is what the technician gives the terminal.
type Request struct {
	Platform string    // base URL, https (http only on loopback)
	Token    string    // one-time enrollment token
	Pin      []byte    // SHA-256 of the platform's leaf certificate (DER); required for https
	Expires  time.Time // from the QR; zero for a typed token (the platform checks)
}

// String never shows the token.
func (r Request) String() string {
	return fmt.Sprintf("enroll at %s (pin %x, expires %s)", r.Platform, r.Pin, r.Expires.Format(time.RFC3339))
}

// LogValue logs without the token.
func (r Request) LogValue() slog.Value {
	return slog.GroupValue(slog.String("platform", r.Platform), slog.String("pin", hex.EncodeToString(r.Pin)),
		slog.Time("expires", r.Expires))
}

// ParseQR reads an enrollment QR payload (drivers/scanner/README.md).
func ParseQR(payload string) (Request, error) {
	e, err := codec.ParseEnrollment(payload)
	if err != nil {
		return Request{}, err
	}
	r := Request{Platform: e.Platform, Token: e.Token, Pin: e.CertSHA256, Expires: e.Expires}
	return r, r.check()
}

// FromCode takes a scanned code already classified as an enrollment.
func FromCode(c codec.Code) (Request, error) {
	if c.Kind != codec.KindEnroll || c.Enroll == nil {
		return Request{}, fmt.Errorf("enroll: scanned code is %s, not an enrollment QR", c.Kind)
	}
	e := c.Enroll
	r := Request{Platform: e.Platform, Token: e.Token, Pin: e.CertSHA256, Expires: e.Expires}
	return r, r.check()
}

// Typed builds a request from a typed token, the platform address and the
// pin as 64 hex digits (spaces and colons allowed, any case).
func Typed(platform, token, pinHex string) (Request, error) {
	r := Request{Platform: strings.TrimRight(strings.TrimSpace(platform), "/"), Token: strings.TrimSpace(token)}
	if p := strings.NewReplacer(" ", "", ":", "").Replace(strings.TrimSpace(pinHex)); p != "" {
		b, err := hex.DecodeString(p)
		if err != nil || len(b) != sha256.Size {
			return Request{}, errors.New("enroll: pin must be 64 hex digits (SHA-256 of the platform certificate)")
		}
		r.Pin = b
	}
	return r, r.check()
}

func (r Request) check() error {
	u, err := url.Parse(r.Platform)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("enroll: platform address %q is not a plain URL", r.Platform)
	}
	switch {
	case u.Scheme == "https":
		if len(r.Pin) != sha256.Size {
			return errors.New("enroll: an https platform needs the pin (SHA-256 of its certificate) from the enrollment QR")
		}
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		if r.Pin != nil {
			// A pin cannot be checked over plain http; refusing beats
			// pretending it was.
			return errors.New("enroll: a pin was given for a plain http platform; enroll through its https address")
		}
	default:
		return errors.New("enroll: platform address must be https (plain http only on loopback, for demos)")
	}
	if len(r.Token) < 16 || len(r.Token) > 128 || strings.IndexFunc(r.Token, func(c rune) bool {
		return !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_')
	}) >= 0 {
		return errors.New("enroll: token must be 16 to 128 of A-Z a-z 0-9 - _")
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// PinnedHTTPClient is uplink.NewHTTPClient with TLS pinned to pin: the
// platform's leaf certificate must hash (SHA-256 of its DER) to pin; no CA
// is consulted, since the reference platform's certificate is self-signed
// and the QR is the trust anchor. A nil pin gives the plain client (for
// loopback http).
func PinnedHTTPClient(pin []byte) *http.Client {
	hc := uplink.NewHTTPClient()
	if pin == nil {
		return hc
	}
	want := bytes.Clone(pin)
	if tr, ok := hc.Transport.(*http.Transport); ok {
		tr.TLSClientConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			// Why: chain verification would reject a self-signed
			// certificate; VerifyConnection checks the pin instead, on
			// every connection including resumed ones.
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return &PinError{Want: want}
				}
				got := sha256.Sum256(cs.PeerCertificates[0].Raw)
				if subtle.ConstantTimeCompare(got[:], want) != 1 {
					return &PinError{Got: got[:], Want: want}
				}
				return nil
			},
		}
	}
	return hc
}

// Options are the terminal's side of an enrollment.
type Options struct {
	// Dir is the identity folder (the daemon's data/kiosk).
	Dir string
	// SM2 makes an SM2 key from the start. Without it, an SM2 key is made
	// only when the platform answers sm2_required (national crypto).
	SM2 bool
	// Hardware is sent to the platform (role → driver, software version).
	Hardware uplink.HardwareSummary
	Logger   *slog.Logger
	// Now is the clock for the expiry check and signatures; nil: time.Now.
	Now func() time.Time
	// Timeout bounds the whole enrollment, retries included; 0: 30 s.
	Timeout time.Duration
	// HTTP overrides PinnedHTTPClient (tests).
	HTTP *http.Client
}

// Result is a successful enrollment.
type Result struct {
	Identity   identity.Identity
	Enrollment uplink.Enrollment
	// Replaced is the enrollment this one replaced and wiped, nil if the
	// terminal was unprovisioned.
	Replaced *identity.Enrollment
	Elapsed  time.Duration
}

// Enroll enrolls the terminal. On success the new keys and enrollment are
// committed and the old ones are wiped; on failure the old identity (if
// any) is left as it was. Final errors match ErrWrongPin, ErrTokenExpired,
// ErrTokenUsed, ErrTokenUnknown or ErrRefused; others (network, platform
// trouble that outlasted the retries) may be retried by the caller with
// the same request.
func Enroll(ctx context.Context, req Request, opts Options) (Result, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if err := req.check(); err != nil {
		return Result{}, err
	}
	if !req.Expires.IsZero() && !now().Before(req.Expires) {
		return Result{}, fmt.Errorf("enroll: %w at %s; ask the platform operator for a new QR", ErrTokenExpired, req.Expires.Local().Format("2006-01-02 15:04"))
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	store := identity.Open(opts.Dir)
	id, err := store.Load()
	if err != nil {
		return Result{}, fmt.Errorf("enroll: %w", err)
	}
	keys, err := identity.GenerateKeys(opts.SM2)
	if err != nil {
		return Result{}, fmt.Errorf("enroll: %w", err)
	}
	hc := opts.HTTP
	if hc == nil {
		hc = PinnedHTTPClient(req.Pin)
	}
	client := &uplink.Client{BaseURL: req.Platform, TerminalID: id.DeviceID, HTTP: hc}
	log.Info("enrolling", "req", req, "device", id.DeviceID, "sm2", keys.SM2 != nil, "replacing", id.TerminalID())

	var (
		e        uplink.Enrollment
		backoff  = 200 * time.Millisecond
		sm2Asked bool
	)
	for attempt := 1; ; attempt++ {
		ereq, err := request(req.Token, id.DeviceID, keys, opts.Hardware)
		if err != nil {
			return Result{}, err
		}
		client.Signer = &uplink.Signer{Keys: signingKeys(keys), Now: now}
		e, err = client.Enroll(ctx, ereq)
		if err == nil {
			break
		}
		if pe, ok := errors.AsType[*PinError](err); ok {
			log.Warn("enrollment: wrong pin", "got", hex.EncodeToString(pe.Got), "want", hex.EncodeToString(pe.Want))
			return Result{}, fmt.Errorf("enroll at %s: %w", req.Platform, pe)
		}
		if ue, ok := errors.AsType[*uplink.Error](err); ok && ue.Code == uplink.CodeSM2Required && keys.SM2 == nil && !sm2Asked {
			// The platform requires national crypto; the token was not
			// spent. Add an SM2 key and ask again at once.
			sm2Asked = true
			if keys.SM2, err = sm2.GenerateKey(rand.Reader); err != nil {
				return Result{}, fmt.Errorf("enroll: generate sm2 key: %w", err)
			}
			log.Info("enrollment: platform requires national crypto, adding an SM2 key")
			continue
		}
		if !uplink.IsRetryable(err) || ctx.Err() != nil {
			return Result{}, classify(req, err)
		}
		// Same keys, same token: if the platform committed and the reply
		// was lost, it answers with the same enrollment.
		log.Warn("enrollment attempt failed, retrying", "attempt", attempt, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return Result{}, classify(req, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 3*time.Second)
	}

	cfg, _ := json.Marshal(e.Config)
	cat, _ := json.Marshal(e.Catalog)
	ie := identity.Enrollment{
		Platform: req.Platform, TerminalID: e.TerminalID, DeviceID: id.DeviceID,
		Site:      identity.Site{Kind: e.Site.Kind, Name: e.Site.Name, Address: e.Site.Address},
		Township:  identity.Township{Code: e.Township.Code, Name: e.Township.Name},
		Algorithm: e.Config.SignatureAlg, Catalog: cat, Config: cfg, EnrolledAt: e.EnrolledAt.UTC(),
	}
	if req.Pin != nil {
		ie.CertSHA256 = hex.EncodeToString(req.Pin)
	}
	prev := id.Enrollment
	nid, err := store.Commit(keys, ie)
	if err != nil {
		return Result{}, fmt.Errorf("enroll: enrolled as %s but could not store it: %w", e.TerminalID, err)
	}
	res := Result{Identity: nid, Enrollment: e, Replaced: prev, Elapsed: time.Since(start)}
	log.Info("enrolled", "terminal", e.TerminalID, "site", e.Site.Name, "kind", e.Site.Kind,
		"township", e.Township.Code, "alg", e.Config.SignatureAlg, "elapsed", res.Elapsed)
	return res, nil
}

func request(token, device string, keys *identity.Keys, hw uplink.HardwareSummary) (uplink.EnrollRequest, error) {
	ed, err := uplink.EncodePublicKey(keys.Ed25519Public())
	if err != nil {
		return uplink.EnrollRequest{}, fmt.Errorf("enroll: %w", err)
	}
	r := uplink.EnrollRequest{Token: token, DeviceID: device, PublicKeys: uplink.PublicKeys{Ed25519: ed}, Hardware: hw}
	if keys.SM2 != nil {
		if r.PublicKeys.SM2, err = uplink.EncodePublicKey(&keys.SM2.PublicKey); err != nil {
			return uplink.EnrollRequest{}, fmt.Errorf("enroll: %w", err)
		}
	}
	return r, nil
}

// signingKeys is every key, for the enrollment's proof of possession.
func signingKeys(k *identity.Keys) []uplink.SigningKey {
	out := []uplink.SigningKey{{Alg: uplink.AlgEd25519, Key: k.Ed25519}}
	if k.SM2 != nil {
		out = append(out, uplink.SigningKey{Alg: uplink.AlgSM2SM3, Key: k.SM2})
	}
	return out
}

// classify maps a final failure to the sentinel a technician acts on.
func classify(req Request, err error) error {
	ue, ok := errors.AsType[*uplink.Error](err)
	if !ok || ue.Retryable {
		return fmt.Errorf("enroll at %s: %w", req.Platform, err)
	}
	var kind error
	switch ue.Code {
	case uplink.CodeTokenExpired:
		kind = ErrTokenExpired
	case uplink.CodeTokenUsed:
		kind = ErrTokenUsed
	case uplink.CodeTokenUnknown:
		kind = ErrTokenUnknown
	default:
		kind = ErrRefused
	}
	return fmt.Errorf("enroll at %s: %w: %w", req.Platform, kind, err)
}

// IsFinal reports whether retrying the same request cannot help.
func IsFinal(err error) bool {
	for _, e := range []error{ErrWrongPin, ErrTokenExpired, ErrTokenUsed, ErrTokenUnknown, ErrRefused} {
		if errors.Is(err, e) {
			return true
		}
	}
	return uplink.IsFinal(err)
}

// UplinkClient is the platform client of an enrolled terminal: its
// platform address, its terminal id, TLS pinned to the enrolled
// certificate, and every request signed with the device key under the
// algorithm the platform asked for. It returns identity.ErrNotEnrolled for
// an unprovisioned terminal.
func UplinkClient(dir string) (*uplink.Client, identity.Identity, error) {
	store := identity.Open(dir)
	id, err := store.Load()
	if err != nil {
		return nil, identity.Identity{}, err
	}
	if !id.Enrolled() {
		return nil, id, identity.ErrNotEnrolled
	}
	keys, err := store.Keys()
	if err != nil {
		return nil, id, err
	}
	e := id.Enrollment
	var pin []byte
	if e.CertSHA256 != "" {
		if pin, err = hex.DecodeString(e.CertSHA256); err != nil || len(pin) != sha256.Size {
			return nil, id, fmt.Errorf("enrollment: pinned certificate hash %q is not 64 hex digits", e.CertSHA256)
		}
	}
	sk := uplink.SigningKey{Alg: uplink.AlgEd25519, Key: keys.Ed25519}
	if e.Algorithm == uplink.AlgSM2SM3 {
		if keys.SM2 == nil {
			return nil, id, errors.New("enrollment: the platform asked for SM2 signatures but there is no SM2 key; enroll again")
		}
		sk = uplink.SigningKey{Alg: uplink.AlgSM2SM3, Key: keys.SM2}
	}
	c := &uplink.Client{BaseURL: e.Platform, TerminalID: e.TerminalID, HTTP: PinnedHTTPClient(pin),
		Signer: &uplink.Signer{Keys: []uplink.SigningKey{sk}}}
	return c, id, nil
}

// Wipe removes the enrollment and keys of the terminal in dir (re-enroll
// or decommission). See identity.Store.Wipe.
func Wipe(dir string) (bool, error) { return identity.Open(dir).Wipe() }
