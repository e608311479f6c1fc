package refplatform

// The platform's TLS identity: a self-signed certificate made at first
// start and kept in the data folder. Terminals do not trust it through a
// CA: they pin its SHA-256 (of the leaf certificate's DER), which the
// enrollment QR carries.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Files of the TLS identity inside Options.DataDir.
const (
	TLSCertFile = "tls-cert.pem"
	TLSKeyFile  = "tls-key.pem"
)

type tlsIdentity struct {
	cert tls.Certificate
	sum  [32]byte
}

// tlsID loads the certificate, making it on first use.
func (s *Server) tlsID() (*tlsIdentity, error) {
	p := s.prov
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tls != nil {
		return p.tls, nil
	}
	certPath, keyPath := filepath.Join(p.dataDir, TLSCertFile), filepath.Join(p.dataDir, TLSKeyFile)
	if _, err := os.Stat(certPath); errors.Is(err, fs.ErrNotExist) {
		if err := makeSelfSigned(certPath, keyPath, s.now()); err != nil {
			return nil, fmt.Errorf("refplatform: make TLS certificate: %w", err)
		}
		s.log.Info("refplatform: made a self-signed TLS certificate", "file", certPath)
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("refplatform: load TLS certificate: %w", err)
	}
	p.tls = &tlsIdentity{cert: cert, sum: sha256.Sum256(cert.Certificate[0])}
	return p.tls, nil
}

func makeSelfSigned(certPath, keyPath string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Tongban reference county platform", Organization: []string{"Tongban demo"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// CertificateSHA256 is the pin of the platform's TLS certificate: SHA-256
// of the leaf certificate's DER. It makes the certificate on first use.
func (s *Server) CertificateSHA256() ([]byte, error) {
	id, err := s.tlsID()
	if err != nil {
		return nil, err
	}
	return id.sum[:], nil
}

// TLSConfig serves the platform's certificate (for httptest or a custom
// listener; ListenAndServeTLS uses it).
func (s *Server) TLSConfig() (*tls.Config, error) {
	id, err := s.tlsID()
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{id.cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}, nil
}

// SetEnrollURL sets the https base URL enrollment QR codes name (when the
// platform is served through a listener of the caller's own).
func (s *Server) SetEnrollURL(u string) {
	s.prov.mu.Lock()
	s.prov.enrollURL = u
	s.prov.mu.Unlock()
}

// ListenAndServeTLS serves the same handler over TLS with the platform's
// certificate on addr (loopback only, like ListenAndServe) until ctx ends.
// Unless Options.EnrollURL was given, enrollment QR codes name this
// address from then on. ready, if not nil, gets the real address.
func (s *Server) ListenAndServeTLS(ctx context.Context, addr string, ready func(addr string)) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("refplatform: TLS listen address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("refplatform: TLS listen address %q is not loopback", addr)
	}
	cfg, err := s.TLSConfig()
	if err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return fmt.Errorf("refplatform: listen %s: %w", addr, err)
	}
	real := ln.Addr().String()
	s.prov.mu.Lock()
	if !s.prov.fixedURL {
		s.prov.enrollURL = "https://" + real
	}
	s.prov.mu.Unlock()

	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         cfg,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }() // certificate from srv.TLSConfig
	id, _ := s.tlsID()
	s.log.Info("refplatform: listening (TLS)", "addr", real, "certSha256", fmt.Sprintf("%x", id.sum))
	if ready != nil {
		ready(real)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("refplatform: serve TLS %s: %w", real, err)
	case <-ctx.Done():
	}
	cancelBase()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("refplatform: shutdown TLS %s: %w", real, err)
	}
	<-errc
	return nil
}
