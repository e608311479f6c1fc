package refplatform

// Signature checks on /v1/ (uplink openapi.yaml, "Request signing"): an
// enrolled terminal must sign every request with the key it enrolled, under
// the algorithm the platform asked for; stale and replayed signatures are
// refused. Terminals that never enrolled pass unsigned unless
// Options.RequireSignatures is set (the demo's terminal is unenrolled).

import (
	"bytes"
	"crypto"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"tongban/kiosk/uplink"
)

// serveSigned checks the request's signature, then runs next.
func (s *Server) serveSigned(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if r.URL.Path == "/v1/enroll" {
		next.ServeHTTP(w, r) // signed with the new keys; the handler checks them
		return
	}
	tid := r.Header.Get(uplink.HeaderTerminalID)
	t, err := s.enrolledTerminal(tid)
	switch {
	case errors.Is(err, errNotEnrolled):
		if !s.prov.requireSig {
			next.ServeHTTP(w, r)
			return
		}
		s.refuseSignature(w, r, &uplink.SignatureError{Code: uplink.CodeTerminalUnknown,
			Message: "terminal " + tid + " is not enrolled, and this platform requires signed requests: enroll it first"})
		return
	case err != nil:
		s.storeError(w, r, err)
		return
	case t.RevokedAt != nil:
		s.refuseSignature(w, r, &uplink.SignatureError{Code: uplink.CodeTerminalRevoked,
			Message: "terminal " + tid + " was revoked at " + t.RevokedAt.Format(time.RFC3339) + " (" + t.RevokedReason + "): enroll it again"})
		return
	}
	// Read the body for its digest, and hand the handler a fresh reader.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "read body: "+err.Error())
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sigs, err := uplink.ParseSignatures(r.Header)
	if err != nil {
		s.refuseSignature(w, r, err)
		return
	}
	// Only the algorithm the platform asked for counts, so an Ed25519
	// signature can never stand in for a required SM2 one.
	sig, ok := pickSignature(sigs, t.SignatureAlg)
	if !ok {
		s.refuseSignature(w, r, &uplink.SignatureError{Code: uplink.CodeSignatureInvalid,
			Message: "no " + t.SignatureAlg + " signature (this terminal signs with " + t.SignatureAlg + ")"})
		return
	}
	var pub crypto.PublicKey
	switch t.SignatureAlg {
	case uplink.AlgSM2SM3:
		pub, err = uplink.ParsePublicKey(t.SignatureAlg, t.PublicKeys.SM2)
	default:
		pub, err = uplink.ParsePublicKey(t.SignatureAlg, t.PublicKeys.Ed25519)
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	now := s.now()
	if err := sig.Verify(r, body, pub, now, s.prov.skew); err != nil {
		s.refuseSignature(w, r, err)
		return
	}
	// Only a signature that verified is remembered, so forged requests
	// cannot fill the cache or block a real nonce.
	fresh, full := s.prov.replay.add(tid+"/"+sig.Nonce, now)
	if full {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, uplink.CodeUnavailable, "replay cache full, try again")
		return
	}
	if !fresh {
		s.refuseSignature(w, r, &uplink.SignatureError{Code: uplink.CodeSignatureReplayed,
			Message: "nonce " + sig.Nonce + " of " + tid + " was seen before"})
		return
	}
	next.ServeHTTP(w, r)
}

// refuseSignature answers 401 (final) with the signature error's code, and
// Accept-Signature (RFC 9421 §5.1) naming what the platform wants.
func (s *Server) refuseSignature(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := uplink.CodeSignatureInvalid, err.Error()
	if se, ok := errors.AsType[*uplink.SignatureError](err); ok {
		code, msg = se.Code, se.Message
	}
	s.log.Warn("refplatform: signature refused", "path", r.URL.Path, "terminal", r.Header.Get(uplink.HeaderTerminalID), "code", code, "msg", msg)
	w.Header().Set("Accept-Signature", `sig1=("@method" "@path" "@query" "content-digest" "x-terminal-id" "idempotency-key");tag="`+uplink.SignatureTag+`"`)
	writeError(w, http.StatusUnauthorized, code, msg)
}

// replayCache remembers nonces for ttl, at most max of them, in memory: a
// restart forgets them, which is acceptable for the reference platform (a
// real one would share the cache between its instances).
type replayCache struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	seen  map[string]time.Time // key -> expiry
	queue []replayEntry        // insertion order; expiries are non-decreasing unless the clock steps back
	head  int
}

type replayEntry struct {
	key    string
	expiry time.Time
}

func newReplayCache(max int, ttl time.Duration) *replayCache {
	return &replayCache{max: max, ttl: ttl, seen: make(map[string]time.Time)}
}

// add records key at now. fresh is false when key is already remembered;
// full is true when the cache holds max unexpired keys (key is then not
// recorded: the caller refuses the request as retryable rather than
// forget a nonce that could still be replayed).
func (c *replayCache) add(key string, now time.Time) (fresh, full bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.head < len(c.queue) && !now.Before(c.queue[c.head].expiry) {
		e := c.queue[c.head]
		if exp, ok := c.seen[e.key]; ok && !exp.After(e.expiry) {
			delete(c.seen, e.key)
		}
		c.queue[c.head] = replayEntry{}
		c.head++
	}
	if c.head > 1024 && c.head*2 > len(c.queue) {
		c.queue = append(c.queue[:0:0], c.queue[c.head:]...)
		c.head = 0
	}
	if exp, ok := c.seen[key]; ok && now.Before(exp) {
		return false, false
	}
	if len(c.seen) >= c.max {
		return true, true
	}
	exp := now.Add(c.ttl)
	c.seen[key] = exp
	c.queue = append(c.queue, replayEntry{key: key, expiry: exp})
	return true, false
}

// Len is the number of remembered nonces.
func (c *replayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}
