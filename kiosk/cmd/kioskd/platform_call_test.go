package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"tongban/kiosk/refplatform"
)

// TestPlatformCommandsCallThePlatform runs the platform commands that
// share platformCall (payments, staff badge, enrollment token) against
// the reference platform on loopback, and a refused call.
func TestPlatformCommandsCallThePlatform(t *testing.T) {
	data := t.TempDir()
	srv, err := refplatform.New(refplatform.Options{DataDir: filepath.Join(data, "platform"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	addr := make(chan string, 1)
	wg.Go(func() { _ = srv.ListenAndServe(ctx, "127.0.0.1:0", func(a string) { addr <- a }) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		srv.Close()
	})
	a := <-addr
	if err := writeAddr(data, "platform", a); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{{"payments", "-data", data, "-json"}, {"payments", "-data", data}} {
		if err := cmdPlatform(ctx, args); err != nil {
			t.Fatalf("platform %v: %v", args, err)
		}
	}
	png := filepath.Join(data, "badge.png")
	if err := cmdPlatformStaff(ctx, []string{"-data", data, "-png", png}); err != nil {
		t.Fatalf("platform staff: %v", err)
	}
	if st, err := os.Stat(png); err != nil || st.Size() == 0 {
		t.Fatalf("badge QR not saved: %v", err)
	}
	if err := cmdPlatformToken(ctx, []string{"-data", data, "-json"}); err != nil {
		t.Fatalf("platform token: %v", err)
	}
	err = cmdPlatformStaff(ctx, []string{"-data", data, "-id", "nobody", "-png", "-"})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown staff: %v, want the platform's 404", err)
	}
	if _, err := platformCall(ctx, "http://"+a, http.MethodGet, "/ref/payments", nil, http.StatusCreated, 1<<20); err == nil ||
		!strings.Contains(err.Error(), "200 OK") {
		t.Fatalf("a status other than the one wanted: %v", err)
	}
}
