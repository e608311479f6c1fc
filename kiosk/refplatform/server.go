// Package refplatform is the reference county platform: it implements
// uplink API v1 (kiosk/uplink/openapi.yaml) over a bbolt store, with demo
// accounts, credit vouchers, mobile orders for which it plays the acquirer
// (a simulated wallet, and a pay page under /pay/ for dynamic QR codes),
// operator endpoints under /ref/, a human verification page under /verify/
// and fault injection (latency, 5xx, timeouts, drop after commit, duplicate
// delivery). It serves the demo and the tests; it is not the real platform.
package refplatform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// StoreFile is the name of the store inside Options.DataDir.
const StoreFile = "refplatform.db"

// Options configure a Server.
type Options struct {
	// DataDir holds the store (StoreFile). Required; created if missing.
	DataDir string
	// PublicURL is the base of verifyUrl, e.g. "http://127.0.0.1:8700".
	// Empty: ListenAndServe uses its real address; a bare Handler uses the
	// request's Host.
	PublicURL string
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Faults in force from the start (POST /ref/faults replaces them).
	Faults Faults
	// Rand is the source fault rolls draw from; seed it for reproducible
	// runs. Nil: a PCG seeded from the clock.
	Rand rand.Source
	// TimeoutHold caps how long an injected timeout holds a request when
	// the client does not give up first. 0 means 2 minutes.
	TimeoutHold time.Duration
	// PaymentCodeDelay is how long the simulated wallet takes to answer a
	// paymentCode order (pay or decline). 0 means 2 s; negative means at
	// once (the creating reply already shows the outcome).
	PaymentCodeDelay time.Duration
	// OrderExpiry closes an order still pending this long after its
	// creation (reason "expired"). 0 means 5 minutes.
	OrderExpiry time.Duration
	// DefaultTownship is the township of every terminal not bound with
	// POST /ref/terminals/{terminalId}; empty means DefaultTownship
	// (chengguan). Its catalog is what GET /v1/catalog returns them.
	DefaultTownship string
	// CaseStep is how long each step of a case's timeline takes (accepted
	// → reviewing → decided → ready for pickup). 0 means 10 minutes;
	// negative means cases move only by POST /ref/cases/{caseId}/advance.
	CaseStep time.Duration

	// RequireSignatures makes unsigned /v1/ requests from terminals that
	// never enrolled fail too (401). Enrolled terminals must always sign.
	// Off by default, so the demo's unenrolled terminal keeps working.
	RequireSignatures bool
	// SignatureSkew is how far a signature's created time may be from Now;
	// 0 means uplink.DefaultSignatureSkew (5 minutes).
	SignatureSkew time.Duration
	// NationalCrypto makes every enrollment require an SM2 key, and SM2
	// signatures afterwards (a token can also ask for it by itself).
	NationalCrypto bool
	// EnrollURL is the https base URL enrollment QR codes name; empty: the
	// address ListenAndServeTLS listens on.
	EnrollURL string
	// ReplayCacheSize bounds the signature nonces remembered against
	// replay; 0 means 100000.
	ReplayCacheSize int
}

// Server is the reference platform.
type Server struct {
	store       *store
	log         *slog.Logger
	now         func() time.Time
	timeoutHold time.Duration
	codeDelay   time.Duration // Options.PaymentCodeDelay as given (0: default)
	orderExpiry time.Duration
	apps        *appsState    // catalog, persons, applications, cases, ratings (applications.go)
	prov        *provisioning // enrollment, terminal keys, signature checks (enroll.go, signing.go)
	handler     http.Handler
	fixedURL    bool // Options.PublicURL was given; otherwise the listen address decides

	mu        sync.Mutex // guards the fields below
	faults    Faults
	rng       *rand.Rand
	publicURL string

	quit      chan struct{} // closed by Close: ends held and delayed requests
	closeOnce sync.Once
	closeErr  error
}

// New opens (and on first start seeds) the store in opts.DataDir.
func New(opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("refplatform: Options.DataDir is required")
	}
	if err := opts.Faults.Validate(); err != nil {
		return nil, fmt.Errorf("refplatform: %w", err)
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("refplatform: create data dir: %w", err)
	}
	st, err := openStore(filepath.Join(opts.DataDir, StoreFile))
	if err != nil {
		return nil, fmt.Errorf("refplatform: %w", err)
	}
	s := &Server{
		store:       st,
		log:         opts.Logger,
		now:         opts.Now,
		timeoutHold: opts.TimeoutHold,
		codeDelay:   opts.PaymentCodeDelay,
		orderExpiry: opts.OrderExpiry,
		faults:      opts.Faults,
		publicURL:   opts.PublicURL,
		fixedURL:    opts.PublicURL != "",
		quit:        make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.timeoutHold <= 0 {
		s.timeoutHold = 2 * time.Minute
	}
	if s.orderExpiry <= 0 {
		s.orderExpiry = 5 * time.Minute
	}
	src := opts.Rand
	if src == nil {
		src = rand.NewPCG(uint64(time.Now().UnixNano()), 0x746f6e6762616e) // "tongban"
	}
	s.rng = rand.New(src)
	seeded, err := st.seedOnce(demoAccounts())
	if err != nil {
		_ = st.close()
		return nil, fmt.Errorf("refplatform: %w", err)
	}
	if seeded {
		s.log.Info("refplatform: seeded demo accounts", "dir", opts.DataDir)
	}
	if err := st.initStaff(); err != nil { // partner-site staff (staff.go)
		_ = st.close()
		return nil, fmt.Errorf("refplatform: %w", err)
	}
	if err := st.initFleet(); err != nil { // heartbeats and terminal configurations (fleet.go)
		_ = st.close()
		return nil, fmt.Errorf("refplatform: %w", err)
	}
	s.prov = newProvisioning(opts)
	if s.apps, err = newApps(opts, st); err != nil {
		_ = st.close()
		return nil, fmt.Errorf("refplatform: %w", err)
	}
	s.handler = s.routes()
	return s, nil
}

// Handler serves API v1, /ref/, /verify/ and /pay/.
func (s *Server) Handler() http.Handler { return s.handler }

// Close ends held requests and closes the store. Safe to call twice.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		if err := s.store.close(); err != nil {
			s.closeErr = fmt.Errorf("refplatform: close store: %w", err)
		}
	})
	return s.closeErr
}

// SetFaults replaces the fault injection settings.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
	return nil
}

// Faults returns the settings in force.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Payments lists every committed payment, newest last.
func (s *Server) Payments() ([]ReceivedPayment, error) {
	p, err := s.store.payments()
	if err != nil {
		return nil, fmt.Errorf("refplatform: list payments: %w", err)
	}
	return p, nil
}

func (s *Server) baseURL(r *http.Request) string {
	s.mu.Lock()
	u := s.publicURL
	s.mu.Unlock()
	if u != "" {
		return u
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// ListenAndServe serves on addr, which must be a loopback address ("" or
// no host means 127.0.0.1; port 0 picks a free port), until ctx ends; then
// it shuts down gracefully (5 s) and returns nil. ready, if not nil, gets
// the real address once the listener is open. It does not Close the store.
func (s *Server) ListenAndServe(ctx context.Context, addr string, ready func(addr string)) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("refplatform: listen address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("refplatform: listen address %q is not loopback", addr)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return fmt.Errorf("refplatform: listen %s: %w", addr, err)
	}
	real := ln.Addr().String()
	if !s.fixedURL {
		s.mu.Lock()
		s.publicURL = "http://" + real
		s.mu.Unlock()
	}

	// Cancelling baseCtx ends held and delayed requests at shutdown; commits
	// do not watch it, so a payment in progress still completes.
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("refplatform: listening", "addr", real)
	if ready != nil {
		ready(real)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("refplatform: serve %s: %w", real, err)
	case <-ctx.Done():
	}
	cancelBase()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("refplatform: shutdown %s: %w", real, err)
	}
	<-errc // http.ErrServerClosed
	return nil
}
