// Package service is the technician's window into a running terminal: a
// status page, a JSON device list (what `kioskd doctor` reads) and
// Prometheus metrics. It listens on its own loopback address, apart from
// the resident's screen, so nothing a technician needs is reachable from
// the touch screen's page, and the screen's server stays as it is.
//
//	GET /status       HTML, Chinese and English, refreshes every 2 s
//	GET /api/devices  JSON: every configured device's health
//	GET /metrics      Prometheus text exposition format 0.0.4
package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"tongban/drivers/device"
)

// Source is anything that reports a device's health: every driver does.
type Source interface {
	Health() device.Health
}

// Options configure the service.
type Options struct {
	// Devices in the order the page lists them.
	Devices    []Source
	TerminalID string
	Version    string
	// Started is when the daemon started (uptime, process_start_time).
	Started time.Time
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now (tests set it).
	Now func() time.Time
	// StatmPath is where RSS is read; "" means /proc/self/statm.
	StatmPath string
	// Gauges are extra metric samples (extra.go); nil: none.
	Gauges func() []Gauge
	// Mount adds more handlers to the service (the technician's pages);
	// they get the same loopback-only checks.
	Mount func(mux *http.ServeMux)
}

// Server serves the technician's endpoints.
type Server struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
}

// New makes a server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Started.IsZero() {
		opts.Started = opts.Now()
	}
	if opts.StatmPath == "" {
		opts.StatmPath = "/proc/self/statm"
	}
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/status", http.StatusFound)
	})
	s.mux.HandleFunc("GET /status", s.status)
	s.mux.HandleFunc("GET /api/devices", s.devicesJSON)
	s.mux.HandleFunc("GET /metrics", s.metrics)
	s.mount()
	return s
}

// Report is what GET /api/devices returns.
type Report struct {
	TerminalID string          `json:"terminalId"`
	Version    string          `json:"version"`
	Started    time.Time       `json:"started"`
	Now        time.Time       `json:"now"`
	Devices    []device.Health `json:"devices"`
}

// Report collects every device's health now.
func (s *Server) Report() Report {
	r := Report{TerminalID: s.opts.TerminalID, Version: s.opts.Version, Started: s.opts.Started, Now: s.opts.Now(),
		Devices: make([]device.Health, 0, len(s.opts.Devices))}
	for _, d := range s.opts.Devices {
		r.Devices = append(r.Devices, d.Health())
	}
	return r
}

// ServeHTTP implements http.Handler. Only requests addressed to a
// loopback name are served: a web page elsewhere that points a DNS name
// at 127.0.0.1 (DNS rebinding) gets nothing.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !loopbackHost(r.Host) {
		http.Error(w, "forbidden: loopback only", http.StatusForbidden)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) devicesJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s.Report()); err != nil {
		s.log.Debug("write device report", "err", err)
	}
}

// CheckAddr refuses a listen address that is not loopback.
func CheckAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("service listen %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("service listen %q: the technician service is served on loopback only", addr)
	}
	return nil
}

// ListenAndServe serves on addr, which must be a loopback address, until
// ctx ends; ready receives the bound address.
func (s *Server) ListenAndServe(ctx context.Context, addr string, ready func(string)) error {
	if err := CheckAddr(addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("service listen: %w", err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if ready != nil {
		ready(ln.Addr().String())
	}
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("service: %w", err)
	}
	return nil
}

// goroutines is split out so the metrics code reads as a list.
func goroutines() int { return runtime.NumGoroutine() }
