package enroll_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/scanner"
	"tongban/drivers/scanner/codec"
	scannersim "tongban/drivers/scanner/sim"
	"tongban/drivers/simport"
	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
	"tongban/provisioning/enroll"
	"tongban/provisioning/identity"
)

func testLogger() *slog.Logger {
	if os.Getenv("VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// clock is a settable clock shared by the platform and the terminal.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// platform is the reference platform in-process, on its real loopback
// listeners: TLS (for enrollment and the enrolled terminal) and plain http.
type platform struct {
	t       *testing.T
	srv     *refplatform.Server
	tlsURL  string
	httpURL string
	pin     []byte
}

func startPlatform(t *testing.T, opts refplatform.Options) *platform {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	opts.Logger = testLogger()
	opts.Rand = rand.NewPCG(1, 2)
	srv, err := refplatform.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	tlsReady, httpReady := make(chan string, 1), make(chan string, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := srv.ListenAndServeTLS(ctx, "127.0.0.1:0", func(a string) { tlsReady <- a }); err != nil {
			t.Error(err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := srv.ListenAndServe(ctx, "127.0.0.1:0", func(a string) { httpReady <- a }); err != nil {
			t.Error(err)
		}
	}()
	p := &platform{t: t, srv: srv, tlsURL: "https://" + <-tlsReady, httpURL: "http://" + <-httpReady}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		srv.Close()
	})
	if p.pin, err = srv.CertificateSHA256(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *platform) token(req refplatform.EnrollmentTokenRequest) refplatform.EnrollmentToken {
	p.t.Helper()
	tok, err := p.srv.IssueEnrollmentToken(req, p.httpURL)
	if err != nil {
		p.t.Fatal(err)
	}
	return tok
}

func bankSite() refplatform.EnrollmentTokenRequest {
	return refplatform.EnrollmentTokenRequest{
		Site:     uplink.Site{Kind: uplink.SiteBank, Name: "县农商银行城关支行", Address: "城关镇人民路1号"},
		Township: uplink.Township{Code: "chengguan", Name: "城关镇"},
	}
}

func mustQR(t *testing.T, qr string) enroll.Request {
	t.Helper()
	r, err := enroll.ParseQR(qr)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func hardware() uplink.HardwareSummary {
	return uplink.HardwareSummary{Software: "kioskd test", Devices: map[string]string{"billValidator": "id003", "printer": "escpos"}}
}

// apiError unwraps the platform's reply.
func apiError(t *testing.T, err error) *uplink.Error {
	t.Helper()
	ue, ok := errors.AsType[*uplink.Error](err)
	if !ok {
		t.Fatalf("want an *uplink.Error, got %v", err)
	}
	return ue
}

func TestEnrollEd25519EndToEnd(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, refplatform.Options{RequireSignatures: true})
	tok := p.token(bankSite())
	if !strings.HasPrefix(tok.QR, "tongban-enroll:v1?") || tok.Platform != p.tlsURL || tok.CertSHA256 != hex.EncodeToString(p.pin) {
		t.Fatalf("token %+v", tok)
	}
	dir := t.TempDir()
	before, err := identity.LoadOrCreate(dir)
	if err != nil || before.Enrolled() {
		t.Fatalf("fresh identity %+v, %v", before, err)
	}

	start := time.Now()
	res, err := enroll.Enroll(context.Background(), mustQR(t, tok.QR), enroll.Options{Dir: dir, Hardware: hardware(), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	e := res.Enrollment
	if e.Site.Name != "县农商银行城关支行" || e.Site.Kind != "bank" || e.Township.Code != "chengguan" ||
		e.Config.SignatureAlg != uplink.AlgEd25519 || e.DeviceID != before.DeviceID || res.Replaced != nil {
		t.Fatalf("enrollment %+v", res)
	}
	// The identity on disk says enrolled; keys are private.
	id, err := identity.LoadOrCreate(dir)
	if err != nil || !id.Enrolled() || id.TerminalID() != e.TerminalID || id.DeviceID != before.DeviceID ||
		id.Enrollment.CertSHA256 != hex.EncodeToString(p.pin) || id.Enrollment.Platform != p.tlsURL {
		t.Fatalf("identity after enrollment %+v %+v, %v", id, id.Enrollment, err)
	}
	for _, name := range id.Enrollment.KeyFiles {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("key file %s: %v %v", name, st.Mode(), err)
		}
	}
	if len(id.Enrollment.KeyFiles) != 1 {
		t.Fatalf("key files %v, want ed25519 only", id.Enrollment.KeyFiles)
	}

	// The enrolled terminal's signed calls go through; the platform knows it.
	c, _, err := enroll.UplinkClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Bill(context.Background(), uplink.Water, "100100100001"); err != nil {
		t.Fatalf("signed bill look-up: %v", err)
	}
	took := time.Since(start)
	t.Logf("budget: enrollment (QR to committed identity) + first signed call %v (budget 5s, ratio %.3f)", took.Round(time.Millisecond), took.Seconds()/5)
	terms, err := p.srv.EnrolledTerminals()
	if err != nil || len(terms) != 1 || terms[0].TerminalID != e.TerminalID || terms[0].Hardware.Devices["printer"] != "escpos" {
		t.Fatalf("platform terminals %+v, %v", terms, err)
	}

	// The platform bound the terminal to its township: its catalog follows.
	resp, err := http.Get(p.httpURL + "/ref/terminals")
	if err != nil {
		t.Fatal(err)
	}
	var binds []refplatform.TerminalBinding
	json.NewDecoder(resp.Body).Decode(&binds)
	resp.Body.Close()
	if !slices.ContainsFunc(binds, func(b refplatform.TerminalBinding) bool {
		return b.TerminalID == e.TerminalID && b.Township == "chengguan"
	}) {
		t.Fatalf("township bindings %+v", binds)
	}

	// The same terminal unsigned is refused, even though the platform
	// would let an unenrolled one through without RequireSignatures.
	unsigned := uplink.NewClient(p.tlsURL, e.TerminalID)
	unsigned.HTTP = enroll.PinnedHTTPClient(p.pin)
	_, err = unsigned.Bill(context.Background(), uplink.Water, "100100100001")
	if ue := apiError(t, err); ue.Status != 401 || ue.Code != uplink.CodeSignatureRequired || !uplink.IsFinal(err) {
		t.Fatalf("unsigned call of an enrolled terminal: %v", err)
	}
}

func TestEnrollSM2(t *testing.T) {
	t.Parallel()
	t.Run("platform requires national crypto", func(t *testing.T) {
		p := startPlatform(t, refplatform.Options{NationalCrypto: true})
		dir := t.TempDir()
		// No SM2 asked for: the platform says sm2_required without spending
		// the token, and Enroll adds an SM2 key.
		res, err := enroll.Enroll(context.Background(), mustQR(t, p.token(bankSite()).QR), enroll.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if res.Enrollment.Config.SignatureAlg != uplink.AlgSM2SM3 || res.Identity.Enrollment.Algorithm != uplink.AlgSM2SM3 ||
			len(res.Identity.Enrollment.KeyFiles) != 2 {
			t.Fatalf("enrollment %+v identity %+v", res.Enrollment, res.Identity.Enrollment)
		}
		c, _, err := enroll.UplinkClient(dir)
		if err != nil {
			t.Fatal(err)
		}
		if c.Signer.Keys[0].Alg != uplink.AlgSM2SM3 {
			t.Fatalf("client signs with %s", c.Signer.Keys[0].Alg)
		}
		if _, err := c.Bill(context.Background(), uplink.Gas, "300300300001"); err != nil {
			t.Fatalf("SM2-signed call: %v", err)
		}
		// An Ed25519 signature by the same device does not stand in for SM2.
		keys, err := identity.Open(dir).Keys()
		if err != nil {
			t.Fatal(err)
		}
		c.Signer = &uplink.Signer{Keys: []uplink.SigningKey{{Alg: uplink.AlgEd25519, Key: keys.Ed25519}}}
		_, err = c.Bill(context.Background(), uplink.Gas, "300300300001")
		if ue := apiError(t, err); ue.Status != 401 || ue.Code != uplink.CodeSignatureInvalid {
			t.Fatalf("ed25519 signature on an SM2 terminal: %v", err)
		}
	})
	t.Run("terminal asks for SM2 up front", func(t *testing.T) {
		p := startPlatform(t, refplatform.Options{})
		tr := bankSite()
		tr.NationalCrypto = true
		tr.Site = uplink.Site{Kind: uplink.SiteHospital, Name: "县人民医院门诊大厅"}
		dir := t.TempDir()
		res, err := enroll.Enroll(context.Background(), mustQR(t, p.token(tr).QR), enroll.Options{Dir: dir, SM2: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Enrollment.Config.SignatureAlg != uplink.AlgSM2SM3 || res.Enrollment.Site.Kind != uplink.SiteHospital {
			t.Fatalf("enrollment %+v", res.Enrollment)
		}
		c, _, err := enroll.UplinkClient(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Health(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestEnrollWrongPin(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, refplatform.Options{})
	tok := p.token(bankSite())
	req := mustQR(t, tok.QR)
	good := req.Pin
	req.Pin = bytes.Clone(good)
	req.Pin[0] ^= 0xff
	dir := t.TempDir()
	_, err := enroll.Enroll(context.Background(), req, enroll.Options{Dir: dir})
	if !errors.Is(err, enroll.ErrWrongPin) || !enroll.IsFinal(err) {
		t.Fatalf("wrong pin: %v", err)
	}
	if !strings.Contains(err.Error(), "wrong pin") {
		t.Fatalf("message %q does not say wrong pin", err)
	}
	if id, _ := identity.LoadOrCreate(dir); id.Enrolled() {
		t.Fatal("enrolled despite a wrong pin")
	}
	// Nothing reached the platform: the token still works with the right pin.
	req.Pin = good
	if _, err := enroll.Enroll(context.Background(), req, enroll.Options{Dir: dir}); err != nil {
		t.Fatalf("right pin after wrong pin: %v", err)
	}
	// A typed token with a pin of the wrong length is refused before dialling.
	if _, err := enroll.Typed(p.tlsURL, tok.Token, "abcd"); err == nil {
		t.Fatal("short pin accepted")
	}
}

func TestEnrollExpiredToken(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	p := startPlatform(t, refplatform.Options{Now: clk.Now})
	tr := bankSite()
	tr.TTLSeconds = 600
	tok := p.token(tr)

	// The QR's own expiry is checked before anything is sent.
	clk.Add(11 * time.Minute)
	_, err := enroll.Enroll(context.Background(), mustQR(t, tok.QR), enroll.Options{Dir: t.TempDir(), Now: clk.Now})
	if !errors.Is(err, enroll.ErrTokenExpired) || !enroll.IsFinal(err) {
		t.Fatalf("expired QR: %v", err)
	}
	// A typed token carries no expiry: the platform refuses it, finally.
	typed, err := enroll.Typed(p.tlsURL, tok.Token, hex.EncodeToString(p.pin))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = enroll.Enroll(context.Background(), typed, enroll.Options{Dir: dir, Now: clk.Now})
	if !errors.Is(err, enroll.ErrTokenExpired) || apiError(t, err).Code != uplink.CodeTokenExpired || !enroll.IsFinal(err) {
		t.Fatalf("expired typed token: %v", err)
	}
	if id, _ := identity.LoadOrCreate(dir); id.Enrolled() {
		t.Fatal("enrolled with an expired token")
	}
}

func TestEnrollReusedToken(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, refplatform.Options{})
	tok := p.token(bankSite())
	dirA := t.TempDir()
	if _, err := enroll.Enroll(context.Background(), mustQR(t, tok.QR), enroll.Options{Dir: dirA}); err != nil {
		t.Fatal(err)
	}
	// Another device with the same token.
	_, err := enroll.Enroll(context.Background(), mustQR(t, tok.QR), enroll.Options{Dir: t.TempDir()})
	if !errors.Is(err, enroll.ErrTokenUsed) || apiError(t, err).Status != 403 || !enroll.IsFinal(err) {
		t.Fatalf("reused token, other device: %v", err)
	}
	// The same device again (new keys) with the spent token.
	_, err = enroll.Enroll(context.Background(), mustQR(t, tok.QR), enroll.Options{Dir: dirA})
	if !errors.Is(err, enroll.ErrTokenUsed) {
		t.Fatalf("reused token, same device: %v", err)
	}
	// That failed attempt left the device's enrollment as it was.
	if c, _, err := enroll.UplinkClient(dirA); err != nil {
		t.Fatal(err)
	} else if err := c.Health(context.Background()); err != nil {
		t.Fatalf("enrollment damaged by a refused re-enrollment: %v", err)
	}
	// An unknown token.
	bad := mustQR(t, tok.QR)
	bad.Token = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	_, err = enroll.Enroll(context.Background(), bad, enroll.Options{Dir: t.TempDir()})
	if !errors.Is(err, enroll.ErrTokenUnknown) {
		t.Fatalf("unknown token: %v", err)
	}
}

// TestEnrollLostReplyReplays: a device that resends its enrollment (same
// token, same keys) after a lost reply gets the same terminal back.
func TestEnrollLostReplyReplays(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, refplatform.Options{})
	tok := p.token(bankSite())
	keys, err := identity.GenerateKeys(false)
	if err != nil {
		t.Fatal(err)
	}
	ed, _ := uplink.EncodePublicKey(keys.Ed25519Public())
	c := &uplink.Client{BaseURL: p.tlsURL, TerminalID: "TB-0011223344", HTTP: enroll.PinnedHTTPClient(p.pin),
		Signer: &uplink.Signer{Keys: []uplink.SigningKey{{Alg: uplink.AlgEd25519, Key: keys.Ed25519}}}}
	req := uplink.EnrollRequest{Token: tok.Token, PublicKeys: uplink.PublicKeys{Ed25519: ed}}
	first, err := c.Enroll(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Enroll(context.Background(), req)
	if err != nil || again.TerminalID != first.TerminalID || !again.EnrolledAt.Equal(first.EnrolledAt) {
		t.Fatalf("resend: %+v, %v (first %+v)", again, err, first)
	}
}

// signedRaw builds a request for the enrolled terminal in dir, signed with
// its key, for tests that tamper with or replay it.
func signedRaw(t *testing.T, dir, method, url string, body []byte, key string) *http.Request {
	t.Helper()
	c, id, err := enroll.UplinkClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(uplink.HeaderTerminalID, id.TerminalID())
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set(uplink.HeaderIdempotencyKey, key)
	}
	if err := c.Signer.Sign(req, body); err != nil {
		t.Fatal(err)
	}
	return req
}

// send sends a prepared request (body re-attached) and returns status and
// error code.
func send(t *testing.T, hc *http.Client, req *http.Request, body []byte) (int, string) {
	t.Helper()
	r := req.Clone(context.Background())
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	resp, err := hc.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb uplink.ErrorBody
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &eb)
	return resp.StatusCode, eb.Error.Code
}

func enrolled(t *testing.T, p *platform) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := enroll.Enroll(context.Background(), mustQR(t, p.token(bankSite()).QR), enroll.Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func payBody(t *testing.T, dir string) []byte {
	t.Helper()
	id, err := identity.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(uplink.PaymentRequest{
		TerminalID: id.TerminalID(), Utility: uplink.Water, Account: "100100100001", BillID: "SF202610-100100100001",
		Method: uplink.MethodCash, Amount: 10000, Notes: []uplink.Note{{Value: 10000, Count: 1}},
		JournaledAt: time.Now().UTC(),
	})
	return b
}

func TestSignedRequestReplayRefused(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, refplatform.Options{})
	dir := enrolled(t, p)
	hc := enroll.PinnedHTTPClient(p.pin)
	body := payBody(t, dir)
	req := signedRaw(t, dir, http.MethodPost, p.tlsURL+"/v1/payments", body, uplink.NewIdempotencyKey())
	if st, code := send(t, hc, req, body); st != http.StatusCreated {
		t.Fatalf("first delivery: %d %s", st, code)
	}
	// The identical request again (an attacker or a retrying proxy).
	if st, code := send(t, hc, req, body); st != http.StatusUnauthorized || code != uplink.CodeSignatureReplayed {
		t.Fatalf("replayed request: %d %s, want 401 %s", st, code, uplink.CodeSignatureReplayed)
	}
	// A GET replayed is refused too.
	get := signedRaw(t, dir, http.MethodGet, p.tlsURL+"/v1/bills/water/100100100001", nil, "")
	if st, _ := send(t, hc, get, nil); st != http.StatusOK {
		t.Fatalf("signed GET: %d", st)
	}
	if st, code := send(t, hc, get, nil); st != http.StatusUnauthorized || code != uplink.CodeSignatureReplayed {
		t.Fatalf("replayed GET: %d %s", st, code)
	}
	// Only one payment was booked.
	if pays, _ := p.srv.Payments(); len(pays) != 1 {
		t.Fatalf("%d payments booked, want 1", len(pays))
	}
}

// TestDuplicateDeliveryIsRetryable: when a duplicate delivery makes the
// platform refuse a signature as replayed, the client sees a retryable
// error (the first delivery may have committed), and the resend with the
// same Idempotency-Key gets the committed payment.
func TestDuplicateDeliveryIsRetryable(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, refplatform.Options{})
	dir := enrolled(t, p)
	c, id, err := enroll.UplinkClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.srv.SetFaults(refplatform.Faults{DuplicateReplyRate: 1, Paths: []string{"/v1/payments"}}); err != nil {
		t.Fatal(err)
	}
	var req uplink.PaymentRequest
	if err := json.Unmarshal(payBody(t, dir), &req); err != nil {
		t.Fatal(err)
	}
	key := uplink.NewIdempotencyKey()
	_, err = c.Pay(context.Background(), key, req)
	if _, ok := errors.AsType[*uplink.ReplayedError](err); !ok || !uplink.IsRetryable(err) || uplink.IsFinal(err) {
		t.Fatalf("duplicate delivery: %v (retryable %v)", err, uplink.IsRetryable(err))
	}
	if err := p.srv.SetFaults(refplatform.Faults{}); err != nil {
		t.Fatal(err)
	}
	pay, err := c.Pay(context.Background(), key, req)
	if err != nil || pay.TerminalID != id.TerminalID() {
		t.Fatalf("resend after duplicate delivery: %+v, %v", pay, err)
	}
	if pays, _ := p.srv.Payments(); len(pays) != 1 {
		t.Fatalf("%d payments booked, want 1", len(pays))
	}
}

func TestTamperedRequestRefused(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, refplatform.Options{})
	dir := enrolled(t, p)
	hc := enroll.PinnedHTTPClient(p.pin)
	body := payBody(t, dir)

	// Body changed after signing: 20000 fen instead of 10000.
	req := signedRaw(t, dir, http.MethodPost, p.tlsURL+"/v1/payments", body, uplink.NewIdempotencyKey())
	tampered := bytes.Replace(body, []byte(`"amount":10000`), []byte(`"amount":20000`), 1)
	if bytes.Equal(tampered, body) {
		t.Fatal("test body has no amount to tamper with")
	}
	if st, code := send(t, hc, req, tampered); st != http.StatusUnauthorized || code != uplink.CodeDigestMismatch {
		t.Fatalf("tampered body: %d %s", st, code)
	}
	// Digest recomputed by the attacker: the signature no longer verifies.
	req = signedRaw(t, dir, http.MethodPost, p.tlsURL+"/v1/payments", body, uplink.NewIdempotencyKey())
	req.Header.Set(uplink.HeaderContentDigest, uplink.ContentDigest(tampered))
	if st, code := send(t, hc, req, tampered); st != http.StatusUnauthorized || code != uplink.CodeSignatureInvalid {
		t.Fatalf("tampered body and digest: %d %s", st, code)
	}
	// Idempotency key swapped.
	req = signedRaw(t, dir, http.MethodPost, p.tlsURL+"/v1/payments", body, uplink.NewIdempotencyKey())
	req.Header.Set(uplink.HeaderIdempotencyKey, uplink.NewIdempotencyKey())
	if st, code := send(t, hc, req, body); st != http.StatusUnauthorized || code != uplink.CodeSignatureInvalid {
		t.Fatalf("swapped idempotency key: %d %s", st, code)
	}
	// Path changed (another account).
	get := signedRaw(t, dir, http.MethodGet, p.tlsURL+"/v1/bills/water/100100100001", nil, "")
	get.URL.Path = "/v1/bills/water/100100100002"
	if st, code := send(t, hc, get, nil); st != http.StatusUnauthorized || code != uplink.CodeSignatureInvalid {
		t.Fatalf("changed path: %d %s", st, code)
	}
	if pays, _ := p.srv.Payments(); len(pays) != 0 {
		t.Fatalf("%d payments booked from tampered requests", len(pays))
	}
}

func TestUnsignedAndStaleRefused(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now().UTC()}
	p := startPlatform(t, refplatform.Options{RequireSignatures: true, Now: clk.Now})
	// Unknown terminal, no signature.
	c := uplink.NewClient(p.tlsURL, "TB-UNENROLLED")
	c.HTTP = enroll.PinnedHTTPClient(p.pin)
	_, err := c.Bill(context.Background(), uplink.Water, "100100100001")
	if ue := apiError(t, err); ue.Status != 401 || ue.Code != uplink.CodeTerminalUnknown || !uplink.IsFinal(err) {
		t.Fatalf("unsigned unenrolled terminal: %v", err)
	}
	// Over plain http the same.
	c2 := uplink.NewClient(p.httpURL, "TB-UNENROLLED")
	if err := c2.Health(context.Background()); apiError(t, err).Status != 401 {
		t.Fatalf("unsigned over http: %v", err)
	}
	// The default demo platform lets the unenrolled terminal through.
	demo := startPlatform(t, refplatform.Options{})
	if err := uplink.NewClient(demo.httpURL, "TB-UNENROLLED").Health(context.Background()); err != nil {
		t.Fatalf("demo platform refused an unenrolled terminal: %v", err)
	}

	// A signature made 6 minutes ago (the terminal's clock is behind).
	dir := t.TempDir()
	if _, err := enroll.Enroll(context.Background(), mustQR(t, p.token(bankSite()).QR), enroll.Options{Dir: dir, Now: clk.Now}); err != nil {
		t.Fatal(err)
	}
	sc, _, err := enroll.UplinkClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	sc.Signer.Now = func() time.Time { return clk.Now().Add(-6 * time.Minute) }
	_, err = sc.Bill(context.Background(), uplink.Water, "100100100001")
	if ue := apiError(t, err); ue.Status != 401 || ue.Code != uplink.CodeSignatureExpired {
		t.Fatalf("stale signature: %v", err)
	}
	sc.Signer.Now = func() time.Time { return clk.Now().Add(4 * time.Minute) } // within the 5 min skew
	if _, err := sc.Bill(context.Background(), uplink.Water, "100100100001"); err != nil {
		t.Fatalf("signature 4 min ahead: %v", err)
	}
}

func TestReEnrollWipesOldIdentity(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, refplatform.Options{})
	dir := t.TempDir()
	first, err := enroll.Enroll(context.Background(), mustQR(t, p.token(bankSite()).QR), enroll.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	oldClient, _, err := enroll.UplinkClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	oldFiles := first.Identity.Enrollment.KeyFiles

	tr := bankSite()
	tr.Site = uplink.Site{Kind: uplink.SitePost, Name: "城关邮政支局", Address: "城关镇解放路8号"}
	second, err := enroll.Enroll(context.Background(), mustQR(t, p.token(tr).QR), enroll.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if second.Replaced == nil || second.Replaced.TerminalID != first.Enrollment.TerminalID || second.Enrollment.Site.Kind != uplink.SitePost {
		t.Fatalf("re-enrollment %+v", second)
	}
	for _, name := range oldFiles {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("old key file %s still there (%v)", name, err)
		}
	}
	// Old key: refused. New key: accepted.
	_, err = oldClient.Bill(context.Background(), uplink.Water, "100100100001")
	if ue := apiError(t, err); ue.Status != 401 || ue.Code != uplink.CodeSignatureInvalid {
		t.Fatalf("old key after re-enrollment: %v", err)
	}
	newClient, _, err := enroll.UplinkClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newClient.Bill(context.Background(), uplink.Water, "100100100001"); err != nil {
		t.Fatalf("new key: %v", err)
	}

	// Decommission: wipe locally, revoke on the platform.
	if wiped, err := enroll.Wipe(dir); err != nil || !wiped {
		t.Fatalf("wipe: %v %v", wiped, err)
	}
	id, err := identity.LoadOrCreate(dir)
	if err != nil || id.Enrolled() || id.DeviceID != first.Identity.DeviceID {
		t.Fatalf("after wipe %+v, %v", id, err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "device-") || e.Name() == "enrollment.json" {
			t.Fatalf("%s left after wipe", e.Name())
		}
	}
	if _, _, err := enroll.UplinkClient(dir); !errors.Is(err, identity.ErrNotEnrolled) {
		t.Fatalf("client after wipe: %v", err)
	}
	if err := p.srv.RevokeTerminal(second.Enrollment.TerminalID, "decommissioned"); err != nil {
		t.Fatal(err)
	}
	_, err = newClient.Bill(context.Background(), uplink.Water, "100100100001")
	if ue := apiError(t, err); ue.Status != 401 || ue.Code != uplink.CodeTerminalRevoked {
		t.Fatalf("revoked terminal: %v", err)
	}
}

// TestEnrollBudgetWithScanner is the technician's path: the terminal's own
// scanner (the simulator on a pseudo terminal, through the real driver)
// reads the QR, the terminal enrolls against the reference platform over
// TLS and makes its first signed call. Budget: under 5 s.
func TestEnrollBudgetWithScanner(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, refplatform.Options{RequireSignatures: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	link := filepath.Join(t.TempDir(), "scanner")
	ep, err := simport.Open(link, scanner.DefaultLine())
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	sim := scannersim.New(ep, scannersim.Config{Model: codec.ModelNewland, Logger: testLogger()})
	go sim.Run(ctx)
	drv, err := scanner.New(scanner.Config{Path: link, Model: codec.ModelNewland, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	go drv.Run(ctx)
	// Scan only once the driver holds the port, as a technician would
	// once the screen says the scanner is ready.
	for deadline := time.Now().Add(5 * time.Second); drv.Health().State != device.Online; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("scanner not online: %+v", drv.Health())
		}
	}
	qr := p.token(bankSite()).QR
	dir := t.TempDir()

	start := time.Now()
	sim.Scan(qr)
	var read scanner.Read
	select {
	case read = <-drv.Reads():
	case <-time.After(5 * time.Second):
		t.Fatal("no read from the scanner")
	}
	scanned := time.Since(start)
	req, err := enroll.FromCode(read.Code)
	if err != nil {
		t.Fatal(err)
	}
	res, err := enroll.Enroll(ctx, req, enroll.Options{Dir: dir, Hardware: hardware()})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := enroll.UplinkClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	total := time.Since(start)
	t.Logf("budget: enrollment from scan to first signed call %v (budget 5s, ratio %.3f; scan %v, enroll %v)",
		total.Round(time.Millisecond), total.Seconds()/5, scanned.Round(10*time.Microsecond), res.Elapsed.Round(time.Millisecond))
	// Strict under `make bench` (BENCH=1); under the shared load of `make
	// test` only a gross regression fails.
	if limit := 5 * time.Second; total > limit && (os.Getenv("BENCH") != "" || total > 4*limit) {
		t.Errorf("enrollment took %v, budget 5 s", total)
	}
	if strings.Contains(read.Code.String(), req.Token) {
		t.Error("the scanner's masked code shows the token")
	}
}
