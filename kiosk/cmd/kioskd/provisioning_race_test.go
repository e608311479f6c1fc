package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A bad QR scanned or a token typed while an enrollment runs is refused
// and leaves that enrollment's screen alone. Before, it flipped the screen
// to "failed", after which a second enrollment started beside the first
// (two writers of the identity folder, the second result never taken).
func TestUnprovisionedSecondEnrollmentRefusedWhileOneRuns(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	plat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		http.Error(w, "down for the test", http.StatusServiceUnavailable)
	}))
	defer plat.Close()
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newProvisioner(ctx, t.TempDir(), "DEV-TEST", plat.URL, hardwareSummary(nil), slog.New(slog.DiscardHandler))
	status := func() string {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.view.Status
	}
	typed, _ := json.Marshal(map[string]string{"token": "Zk3xY0qL9vB2nM8rT4wA"})
	if _, err := p.Do(ctx, "Provision.Enroll", typed); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the enrollment never reached the platform")
		}
		time.Sleep(5 * time.Millisecond)
	}

	p.Scanned("tongban-enroll:v1?p=https%3A%2F%2Fplatform.example&t=short&exp=1&fp=abcd")
	if s := status(); s != "enrolling" {
		t.Fatalf("an unreadable QR during an enrollment turned the screen to %q", s)
	}
	bad, _ := json.Marshal(map[string]string{"token": "", "platform": "ftp://x"})
	if _, err := p.Do(ctx, "Provision.Enroll", bad); err == nil {
		t.Fatal("a malformed typed token was accepted")
	}
	if _, err := p.Do(ctx, "Provision.Enroll", typed); err == nil {
		t.Fatal("a second enrollment started while one runs")
	}
	time.Sleep(100 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Fatalf("the platform saw %d enrollments, want 1", n)
	}
	if s := status(); s != "enrolling" {
		t.Fatalf("status %q", s)
	}
}
