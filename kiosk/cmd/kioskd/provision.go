package main

// kioskd provision: enroll the terminal from a shell (the same code path as
// the technician screen: provisioning/enroll), show its identity, wipe it.
// kioskd platform token: issue an enrollment token on a running reference
// platform and print its QR.

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
	"tongban/provisioning/enroll"
	"tongban/provisioning/identity"
	"tongban/provisioning/profile"
)

// identityDir is where the daemon keeps its identity (runDaemon's folder).
func identityDir(data string) string { return filepath.Join(data, "kiosk") }

func cmdProvision(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "status":
			return cmdProvisionStatus(args[1:])
		case "wipe":
			return cmdProvisionWipe(args[1:])
		}
	}
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	data := fs.String("data", "data", "data folder (the identity lives in DIR/kiosk)")
	qr := fs.String("qr", "", "the enrollment QR's text, tongban-enroll:v1?... (\"-\": read it from stdin)")
	token := fs.String("token", "", "a typed enrollment token (with -platform and -pin)")
	plat := fs.String("platform", "", "the platform's https base URL (with -token)")
	pin := fs.String("pin", "", "SHA-256 of the platform's TLS certificate, 64 hex digits (with -token)")
	useSM2 := fs.Bool("sm2", false, "make an SM2 key too (national cryptography); made anyway when the platform requires it")
	prof := fs.String("profile", "", "hardware profile whose devices are described to the platform (optional)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long (retries included)")
	level := fs.String("log-level", "warn", "debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage:
  kioskd provision [-data DIR] -qr PAYLOAD [-sm2]
  kioskd provision [-data DIR] -token T -platform URL -pin HEX [-sm2]
  kioskd provision status [-data DIR] [-json]
  kioskd provision wipe   [-data DIR]

Enrolls this terminal with its county platform: makes the device keys here,
spends the one-time token, stores the terminal id, site and township. An
earlier enrollment is replaced and its keys wiped (only on success).
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see kioskd provision -h)", fs.Arg(0))
	}
	var (
		req enroll.Request
		err error
	)
	switch {
	case *qr != "" && *token != "":
		return errors.New("give -qr or -token, not both")
	case *qr == "-":
		line, rerr := bufio.NewReader(os.Stdin).ReadString('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return fmt.Errorf("read QR from stdin: %w", rerr)
		}
		req, err = enroll.ParseQR(strings.TrimSpace(line))
	case *qr != "":
		req, err = enroll.ParseQR(*qr)
	case *token != "":
		req, err = enroll.Typed(*plat, *token, *pin)
	default:
		fs.Usage()
		return errors.New("give -qr PAYLOAD, or -token with -platform and -pin")
	}
	if err != nil {
		return err
	}
	hw := uplink.HardwareSummary{Software: "kioskd " + version}
	if *prof != "" {
		p, err := profile.Load(*prof)
		if err != nil {
			return err
		}
		hw.Devices = map[string]string{}
		for role, d := range p.Devices {
			hw.Devices[role] = d.Driver
		}
	}
	log := newLogger(os.Stderr, "provision", *level)
	res, err := enroll.Enroll(ctx, req, enroll.Options{Dir: identityDir(*data), SM2: *useSM2, Hardware: hw, Logger: log, Timeout: *timeout})
	if err != nil {
		switch {
		case errors.Is(err, enroll.ErrWrongPin):
			return fmt.Errorf("%w\n  the QR is not for this platform, or the connection is intercepted: get a fresh QR from the platform operator", err)
		case errors.Is(err, enroll.ErrTokenExpired), errors.Is(err, enroll.ErrTokenUsed), errors.Is(err, enroll.ErrTokenUnknown):
			return fmt.Errorf("%w\n  ask the platform operator for a new enrollment QR", err)
		}
		return err
	}
	printEnrollment(os.Stdout, res.Identity)
	if res.Replaced != nil {
		fmt.Printf("replaced: terminal %s of %s (its keys are wiped)\n", res.Replaced.TerminalID, res.Replaced.Platform)
	}
	fmt.Printf("took:     %v\n", res.Elapsed.Round(time.Millisecond))
	return nil
}

func printEnrollment(w io.Writer, id identity.Identity) {
	e := id.Enrollment
	if e == nil {
		fmt.Fprintf(w, "device:   %s\nstatus:   unprovisioned (not enrolled)\n", id.DeviceID)
		return
	}
	fmt.Fprintf(w, "terminal: %s (device %s)\n", e.TerminalID, id.DeviceID)
	site := fmt.Sprintf("%s (%s)", e.Site.Name, e.Site.Kind)
	if e.Site.Address != "" {
		site += ", " + e.Site.Address
	}
	fmt.Fprintf(w, "site:     %s\n", site)
	fmt.Fprintf(w, "township: %s (%s)\n", e.Township.Name, e.Township.Code)
	pin := "none (loopback http)"
	if e.CertSHA256 != "" {
		pin = "certificate SHA-256 " + e.CertSHA256
	}
	fmt.Fprintf(w, "platform: %s, pinned %s\n", e.Platform, pin)
	keys := make([]string, 0, len(e.KeyFiles))
	for alg := range e.KeyFiles {
		keys = append(keys, alg)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "signing:  %s (device keys: %s)\n", e.Algorithm, strings.Join(keys, ", "))
	fmt.Fprintf(w, "enrolled: %s\n", e.EnrolledAt.Local().Format("2006-01-02 15:04:05"))
}

func cmdProvisionStatus(args []string) error {
	fs := flag.NewFlagSet("provision status", flag.ContinueOnError)
	data := fs.String("data", "data", "data folder")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	id, err := identity.LoadOrCreate(identityDir(*data))
	if err != nil {
		return err
	}
	if *asJSON {
		out := struct {
			identity.Identity
			Enrolled   bool                 `json:"enrolled"`
			Enrollment *identity.Enrollment `json:"enrollment,omitempty"`
		}{id, id.Enrolled(), id.Enrollment}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Println(string(b))
		return nil
	}
	printEnrollment(os.Stdout, id)
	return nil
}

func cmdProvisionWipe(args []string) error {
	fs := flag.NewFlagSet("provision wipe", flag.ContinueOnError)
	data := fs.String("data", "data", "data folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := identityDir(*data)
	id, err := identity.LoadOrCreate(dir)
	if err != nil {
		return err
	}
	wiped, err := enroll.Wipe(dir)
	if err != nil {
		return err
	}
	switch {
	case id.Enrollment != nil:
		fmt.Printf("wiped the enrollment of terminal %s (%s) and its keys; device id %s kept\n",
			id.Enrollment.TerminalID, id.Enrollment.Platform, id.DeviceID)
		fmt.Println("the platform operator should revoke the terminal too (POST /ref/enrollments/{terminalId}/revoke on the reference platform)")
	case wiped:
		fmt.Printf("removed stray device keys; device %s was not enrolled\n", id.DeviceID)
	default:
		fmt.Printf("nothing to wipe: device %s is not enrolled\n", id.DeviceID)
	}
	return nil
}

// servePlatformTLS runs the platform's TLS listener next to its http one
// (enrollment QR codes name it and pin its certificate). It returns a
// function that stops it and waits. addr "" serves no TLS.
func servePlatformTLS(ctx context.Context, srv *refplatform.Server, addr, data string, log *slog.Logger) (stop func()) {
	if addr == "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		err := srv.ListenAndServeTLS(ctx, addr, func(a string) {
			sum, _ := srv.CertificateSHA256()
			log.Info("reference county platform ready (TLS, for enrollment)", "url", "https://"+a, "certSha256", hex.EncodeToString(sum))
			if err := writeAddr(data, "platform-tls", a); err != nil {
				log.Error("write address file", "err", err)
			}
		})
		if err != nil {
			log.Error("TLS listener", "err", err)
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

func cmdPlatformToken(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("platform token", flag.ContinueOnError)
	data := fs.String("data", "data", "data folder of a running platform")
	base := fs.String("url", "", "platform URL (default: read from the data folder)")
	kind := fs.String("site-kind", "bank", "bank, post, hospital, government, community or other")
	name := fs.String("site-name", "", "the site's name (default: a demo bank branch)")
	addr := fs.String("site-address", "", "the site's address")
	town := fs.String("township", "", "township code (default: chengguan)")
	townName := fs.String("township-name", "", "township name")
	term := fs.String("terminal-id", "", "terminal id to assign (default: the device's earlier one, or a new one)")
	ttl := fs.Duration("ttl", refplatform.DefaultTokenTTL, "how long the token is valid")
	national := fs.Bool("sm2", false, "require national cryptography (SM2 keys and signatures)")
	asJSON := fs.Bool("json", false, "print the reply as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := platformURL(*base, *data)
	if err != nil {
		return err
	}
	req := refplatform.EnrollmentTokenRequest{
		Site:       uplink.Site{Kind: *kind, Name: *name, Address: *addr},
		Township:   uplink.Township{Code: *town, Name: *townName},
		TerminalID: *term, TTLSeconds: int(ttl.Seconds()), NationalCrypto: *national,
	}
	if req.Township.Code != "" && req.Township.Name == "" {
		req.Township.Name = req.Township.Code
	}
	body, _ := json.Marshal(req)
	data2, err := platformCall(ctx, u, http.MethodPost, "/ref/enrollment-tokens", body, http.StatusCreated, 1<<20)
	if err != nil {
		return err
	}
	tok, done, err := platformReply[refplatform.EnrollmentToken](data2, *asJSON, "token reply")
	if done || err != nil {
		return err
	}
	q, err := qrcode.New(tok.QR, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("QR: %w", err)
	}
	fmt.Print(q.ToSmallString(false))
	fmt.Printf("site:      %s (%s)\n", tok.Site.Name, tok.Site.Kind)
	fmt.Printf("township:  %s (%s)\n", tok.Township.Name, tok.Township.Code)
	fmt.Printf("platform:  %s\n", tok.Platform)
	if tok.CertSHA256 != "" {
		fmt.Printf("pin:       %s\n", tok.CertSHA256)
	} else {
		fmt.Println("pin:       none (plain http on loopback: demo only; start the platform with -tls-listen for https)")
	}
	fmt.Printf("token:     %s\n", tok.Token)
	fmt.Printf("expires:   %s\n", tok.ExpiresAt.Local().Format("2006-01-02 15:04:05"))
	if tok.NationalCrypto {
		fmt.Println("crypto:    national (SM2)")
	}
	fmt.Printf("payload:   %s\n", tok.QR)
	fmt.Printf("\nscan the QR with the terminal's scanner, or run:\n  kioskd provision -qr '%s'\n", tok.QR)
	return nil
}
