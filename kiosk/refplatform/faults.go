package refplatform

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"tongban/kiosk/uplink"
)

// Faults is the fault injection setting (schema Faults). Rates are
// probabilities in 0..1, rolled per request with the server's seeded source.
type Faults struct {
	LatencyMs           int      `json:"latencyMs"`
	Fail5xxRate         float64  `json:"fail5xxRate"`
	TimeoutRate         float64  `json:"timeoutRate"`
	DropAfterCommitRate float64  `json:"dropAfterCommitRate"`
	DuplicateReplyRate  float64  `json:"duplicateReplyRate"`
	Paths               []string `json:"paths,omitempty"`
}

// Validate checks ranges.
func (f Faults) Validate() error {
	if f.LatencyMs < 0 || f.LatencyMs > 60_000 {
		return fmt.Errorf("faults: latencyMs %d out of range 0..60000", f.LatencyMs)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"fail5xxRate", f.Fail5xxRate}, {"timeoutRate", f.TimeoutRate},
		{"dropAfterCommitRate", f.DropAfterCommitRate}, {"duplicateReplyRate", f.DuplicateReplyRate},
	} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return fmt.Errorf("faults: %s %v out of range 0..1", r.name, r.v)
		}
	}
	for _, p := range f.Paths {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("faults: path prefix %q must start with /", p)
		}
	}
	return nil
}

func (f Faults) applies(path string) bool {
	if !strings.HasPrefix(path, "/v1/") {
		return false // operator and verify pages stay reachable, so faults can always be switched off
	}
	if len(f.Paths) == 0 {
		return true
	}
	for _, p := range f.Paths {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// faultPlan is what the dice decided for one request.
type faultPlan struct {
	latency   time.Duration
	timeout   bool
	fail5xx   int // status, 0 = none
	duplicate bool
	drop      bool
}

func (p faultPlan) none() bool {
	return p.latency == 0 && !p.timeout && p.fail5xx == 0 && !p.duplicate && !p.drop
}

// plan rolls the dice for one request under the lock (math/rand/v2's Rand is
// not safe for concurrent use). A rate of 0 draws nothing, so the sequence of
// draws depends only on the settings and the requests.
func (s *Server) plan(path string) faultPlan {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	if !f.applies(path) {
		return faultPlan{}
	}
	roll := func(rate float64) bool { return rate > 0 && s.rng.Float64() < rate }
	p := faultPlan{latency: time.Duration(f.LatencyMs) * time.Millisecond}
	p.timeout = roll(f.TimeoutRate)
	if roll(f.Fail5xxRate) {
		p.fail5xx = []int{500, 502, 503, 504}[s.rng.IntN(4)]
	}
	p.duplicate = roll(f.DuplicateReplyRate)
	p.drop = roll(f.DropAfterCommitRate)
	return p
}

// wait sleeps d, or less if the request or the server ends. It reports
// whether the full time passed.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.quit:
	}
	return false
}

// serveFaulty runs next under the rolled faults.
func (s *Server) serveFaulty(w http.ResponseWriter, r *http.Request, next http.Handler) {
	p := s.plan(r.URL.Path)
	if p.none() {
		next.ServeHTTP(w, r)
		return
	}
	// Read the body up front: the server notices a client that hangs up
	// only once the body is consumed, and a held request must end then.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "read request body: "+err.Error())
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if p.latency > 0 && !s.wait(r.Context(), p.latency) {
		writeError(w, http.StatusServiceUnavailable, uplink.CodeUnavailable, "request ended during injected latency")
		return
	}
	if p.timeout {
		// Hold without handling until the client gives up: nothing is committed.
		s.log.Info("fault: timeout", "path", r.URL.Path)
		s.wait(r.Context(), s.timeoutHold)
		writeError(w, http.StatusGatewayTimeout, uplink.CodeTimeout, "injected timeout")
		return
	}
	if p.fail5xx != 0 {
		s.log.Info("fault: 5xx", "path", r.URL.Path, "status", p.fail5xx)
		code := uplink.CodeUnavailable
		switch p.fail5xx {
		case http.StatusInternalServerError:
			code = uplink.CodeInternal
		case http.StatusGatewayTimeout:
			code = uplink.CodeTimeout
		case http.StatusServiceUnavailable:
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, p.fail5xx, code, "injected failure")
		return
	}
	if !p.duplicate && !p.drop {
		next.ServeHTTP(w, r)
		return
	}

	// Duplicate or drop: handle into a buffer first.
	deliver := func() *bufferedResponse {
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(bytes.NewReader(body))
		br := newBufferedResponse()
		next.ServeHTTP(br, r2)
		return br
	}
	br := deliver()
	if p.duplicate {
		// As if the network delivered the request twice: the client sees the
		// answer to the second delivery.
		s.log.Info("fault: duplicate delivery", "path", r.URL.Path)
		br = deliver()
	}
	if p.drop {
		s.log.Info("fault: drop after commit", "path", r.URL.Path, "status", br.status)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
			return
		}
		// Not hijackable (HTTP/2): abort the response, which resets the stream.
		panic(http.ErrAbortHandler)
	}
	br.copyTo(w)
}

// bufferedResponse is a ResponseWriter that keeps the reply in memory.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedResponse() *bufferedResponse {
	return &bufferedResponse{header: http.Header{}}
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}
