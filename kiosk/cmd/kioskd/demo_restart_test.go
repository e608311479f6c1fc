package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tongban/provisioning/identity"
)

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// buildKioskd builds the real binary into dir, as the Makefile does
// (pure Go), for the tests that run it as a person would.
func buildKioskd(t *testing.T, dir string) string {
	t.Helper()
	exe := filepath.Join(dir, "kioskd")
	build := exec.Command("go", "build", "-o", exe, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return exe
}

// TestDemoStartsTwiceAndStopsCleanly is `make run` as a person uses it:
// from a clean data folder (the demo enrolls its terminal at first start)
// to a served screen within the 3 s start budget, Ctrl-C; then again on
// the same folder, which must neither enroll again nor fail. Each Ctrl-C
// ends the demo with status 0, its three processes gone and no error in
// any log (the coin acceptor is inhibited through a board still there).
func TestDemoStartsTwiceAndStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	dir := t.TempDir()
	exe := buildKioskd(t, dir)
	data := filepath.Join(dir, "data")

	run := func(round string) string {
		t.Helper()
		c := exec.Command(exe, "demo", "-data", data, "-listen", "127.0.0.1:0", "-service", "127.0.0.1:0",
			"-platform-listen", "127.0.0.1:0", "-platform-tls-listen", "127.0.0.1:0", "-sim-control", "127.0.0.1:0")
		var out lockedBuffer
		c.Stdout, c.Stderr = &out, &out
		start := time.Now()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- c.Wait() }()
		t.Cleanup(func() { c.Process.Kill() })
		for !strings.Contains(out.String(), "Press Ctrl-C to stop.") {
			select {
			case err := <-exited:
				t.Fatalf("%s start: demo exited (%v):\n%s", round, err, out.String())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("%s start: not ready after 30 s:\n%s", round, out.String())
			}
		}
		ui, err := readAddr(data, "ui")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + ui + "/")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s start: screen: %v %v", round, err, resp)
		}
		resp.Body.Close()
		took := time.Since(start)
		t.Logf("budget: %s start of the demo to a served screen: %v (budget 3s, ratio %.2f)", round, took.Round(time.Millisecond), took.Seconds()/3)
		if limit := 3 * time.Second; took > limit && (os.Getenv("BENCH") != "" || took > 4*limit) {
			t.Errorf("%s start took %v, budget 3s", round, took)
		}

		if err := c.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("%s stop: demo ended with %v:\n%s", round, err, out.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s stop: demo still running 20 s after Ctrl-C:\n%s", round, out.String())
		}
		if conn, err := net.DialTimeout("tcp", ui, time.Second); err == nil {
			conn.Close()
			t.Fatalf("%s stop: the screen still answers after the demo ended", round)
		}
		return out.String()
	}

	first := run("first")
	if !strings.Contains(first, "Enrolled the terminal at first start") {
		t.Fatalf("first start did not enroll:\n%s", first)
	}
	id1, err := identity.LoadOrCreate(identityDir(data))
	if err != nil || !id1.Enrolled() {
		t.Fatalf("identity after the first start: %v %+v", err, id1)
	}

	second := run("second")
	if strings.Contains(second, "Enrolled the terminal at first start") || !strings.Contains(second, "is enrolled") {
		t.Fatalf("second start enrolled again or did not say it was enrolled:\n%s", second)
	}
	id2, err := identity.LoadOrCreate(identityDir(data))
	if err != nil || id2.DeviceID != id1.DeviceID || id2.Enrollment.TerminalID != id1.Enrollment.TerminalID {
		t.Fatalf("identity changed across a restart: %v, %s/%s then %s/%s", err,
			id1.DeviceID, id1.Enrollment.TerminalID, id2.DeviceID, id2.Enrollment.TerminalID)
	}

	logs, _ := filepath.Glob(filepath.Join(data, "logs", "*.log"))
	if len(logs) < 3 {
		t.Fatalf("logs %v", logs)
	}
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "level=ERROR") {
				t.Errorf("%s: %s", filepath.Base(l), line)
			}
		}
	}
}
