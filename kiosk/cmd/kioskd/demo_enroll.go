package main

// The demo enrolls its terminal the way a technician would: it asks its
// platform for a one-time enrollment token and the terminal enrolls with
// the QR's payload (`kioskd provision -qr`, the code path of the
// unprovisioned screen). The platform then requires signatures, so every
// request the demo's daemon makes is signed and verified.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"tongban/kiosk/refplatform"
	"tongban/provisioning/identity"
)

// demoEnrolled reports whether the terminal in dir is enrolled with the
// platform at base and that enrollment is still good there (a platform
// whose data was removed has forgotten it).
func demoEnrolled(ctx context.Context, dir, base string) (bool, error) {
	id, err := identity.LoadOrCreate(identityDir(dir))
	if err != nil {
		return false, err
	}
	if !id.Enrolled() {
		return false, nil
	}
	var ts []refplatform.EnrolledTerminal
	if err := demoGet(ctx, base+"/ref/enrollments", &ts); err != nil {
		return false, err
	}
	for _, t := range ts {
		if t.TerminalID == id.Enrollment.TerminalID && t.DeviceID == id.DeviceID && t.RevokedAt == nil {
			return true, nil
		}
	}
	return false, nil
}

// demoIssueToken asks the platform at base for an enrollment token.
func demoIssueToken(ctx context.Context, base string, req refplatform.EnrollmentTokenRequest) (refplatform.EnrollmentToken, error) {
	var tok refplatform.EnrollmentToken
	body, _ := json.Marshal(req)
	raw, err := platformCall(ctx, base, http.MethodPost, "/ref/enrollment-tokens", body, http.StatusCreated, 1<<20)
	if err != nil {
		return tok, fmt.Errorf("enrollment token: %w", err)
	}
	if err := json.Unmarshal(raw, &tok); err != nil {
		return tok, fmt.Errorf("enrollment token: %w", err)
	}
	return tok, nil
}

func demoGet(ctx context.Context, u string, out any) error {
	raw, err := platformCall(ctx, u, http.MethodGet, "", nil, http.StatusOK, 8<<20)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return json.Unmarshal(raw, out)
}

// demoEnroll enrolls the demo's terminal at its platform unless it
// already is; it returns what it printed for the technician.
func demoEnroll(ctx context.Context, exe, dir, profPath, base, logPath string) (string, error) {
	ok, err := demoEnrolled(ctx, dir, base)
	if err != nil {
		return "", err
	}
	if ok {
		return "already enrolled", nil
	}
	tok, err := demoIssueToken(ctx, base, refplatform.EnrollmentTokenRequest{})
	if err != nil {
		return "", err
	}
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", err
	}
	defer lf.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	c := exec.CommandContext(cctx, exe, "provision", "-data", dir, "-qr", "-", "-profile", profPath, "-log-level", "info")
	c.Stdin = strings.NewReader(tok.QR + "\n") // not on the command line: ps shows that
	c.Stdout, c.Stderr = io.MultiWriter(&out, lf), lf
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("enroll the demo terminal: %w (see %s)", err, logPath)
	}
	return strings.TrimSpace(out.String()), nil
}

// demoProvision enrolls the demo's terminal at the platform listening on
// plat, or with unprov wipes its enrollment so that it starts on the
// unprovisioned screen. It returns a note for the demo's banner.
func demoProvision(ctx context.Context, exe, dir, profPath, plat string, unprov bool) (string, error) {
	if unprov {
		if _, err := identity.Open(identityDir(dir)).Wipe(); err != nil {
			return "", fmt.Errorf("wipe the demo terminal's enrollment: %w", err)
		}
		return fmt.Sprintf(`The terminal is UNPROVISIONED: the screen shows its device id. Enroll it as a technician would:
  %[1]s platform token -data %[2]s          (prints the QR and its payload)
  %[1]s sim scan 'PAYLOAD' -data %[2]s      (hold the QR to the terminal's scanner)
or type the token on the screen.`, exe, dir), nil
	}
	// The QR names the platform's TLS address and pins its certificate.
	if err := waitFile(ctx, filepath.Join(dir, "platform-tls.addr"), 5*time.Second); err != nil {
		return "", fmt.Errorf("platform TLS listener not ready: %w", err)
	}
	out, err := demoEnroll(ctx, exe, dir, profPath, "http://"+plat, filepath.Join(dir, "logs", "provision.log"))
	if err != nil {
		return "", err
	}
	if out == "already enrolled" {
		id, _ := identity.LoadOrCreate(identityDir(dir))
		return fmt.Sprintf("Terminal %s is enrolled; every uplink request is signed (the platform requires it).", id.TerminalID()), nil
	}
	return "Enrolled the terminal at first start, as a technician would (platform token, then provision with its QR):\n" + out, nil
}
