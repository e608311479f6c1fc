package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	id003sim "tongban/drivers/id003/sim"
	"tongban/drivers/serialport"
	"tongban/drivers/simport"
	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
	"tongban/provisioning/enroll"
	"tongban/provisioning/identity"
	"tongban/provisioning/profile"
)

// TestProvisionCommands: kioskd platform token → kioskd provision -qr →
// status → a signed call with the stored identity → wipe, against the
// reference platform on its real listeners.
func TestProvisionCommands(t *testing.T) {
	data := t.TempDir()
	srv, err := refplatform.New(refplatform.Options{DataDir: filepath.Join(data, "platform"), Logger: slog.New(slog.DiscardHandler),
		RequireSignatures: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	httpAddr := make(chan string, 1)
	wg.Go(func() { _ = srv.ListenAndServe(ctx, "127.0.0.1:0", func(a string) { httpAddr <- a }) })
	stopTLS := servePlatformTLS(ctx, srv, "127.0.0.1:0", data, slog.New(slog.DiscardHandler))
	t.Cleanup(func() {
		cancel()
		stopTLS()
		wg.Wait()
		srv.Close()
	})
	if err := writeAddr(data, "platform", <-httpAddr); err != nil {
		t.Fatal(err)
	}
	if err := waitFile(ctx, filepath.Join(data, "platform-tls.addr"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := cmdPlatformToken(ctx, []string{"-data", data, "-site-kind", "hospital", "-site-name", "县人民医院", "-json"}); err != nil {
		t.Fatal(err)
	}
	tok, err := srv.IssueEnrollmentToken(refplatform.EnrollmentTokenRequest{Site: uplink.Site{Kind: "hospital", Name: "县人民医院"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := cmdProvision(ctx, []string{"-data", data, "-qr", tok.QR, "-sm2"}); err != nil {
		t.Fatal(err)
	}
	if err := cmdProvisionStatus([]string{"-data", data}); err != nil {
		t.Fatal(err)
	}
	id, err := identity.LoadOrCreate(identityDir(data))
	if err != nil || !id.Enrolled() || id.Enrollment.Site.Kind != "hospital" || len(id.Enrollment.KeyFiles) != 2 {
		t.Fatalf("after provision: %+v %v", id.Enrollment, err)
	}
	c, _, err := enroll.UplinkClient(identityDir(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Health(ctx); err != nil {
		t.Fatalf("signed call with the provisioned identity: %v", err)
	}
	// The spent token again: a clear, final error.
	if err := cmdProvision(ctx, []string{"-data", data, "-qr", tok.QR}); err == nil {
		t.Fatal("spent token accepted")
	}
	if err := cmdProvisionWipe([]string{"-data", data}); err != nil {
		t.Fatal(err)
	}
	if id, _ := identity.LoadOrCreate(identityDir(data)); id.Enrolled() {
		t.Fatal("still enrolled after wipe")
	}
	if err := cmdProvision(ctx, []string{"-data", data}); err == nil {
		t.Fatal("provision without -qr or -token accepted")
	}
}

// TestProbeCommand: kioskd probe on a simulator's pty writes a profile the
// daemon loads, with the path relative to the profile's folder.
func TestProbeCommand(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "dev", "bill-validator")
	ep, err := simport.Open(link, serialport.Line{Baud: 9600, DataBits: 8, Parity: "even", StopBits: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = id003sim.New(id003sim.Config{Delays: id003sim.FastDelays()}).Serve(ctx, ep)
	}()
	t.Cleanup(func() {
		cancel()
		ep.Close()
		<-done
	})
	file := filepath.Join(dir, "profile.json")
	if err := cmdProbe(ctx, []string{"-scan=false", link, "-write", file}); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Devices["billValidator"]; d.Driver != "id003" || d.Path != link {
		t.Fatalf("profile %+v", p.Devices)
	}
	if err := cmdProbe(ctx, []string{"-scan=false", link, "-write", file}); err == nil {
		t.Fatal("existing profile overwritten without -force")
	}
	if err := cmdProbe(ctx, []string{"-scan=false", "-json", filepath.Join(dir, "nothing")}); err == nil {
		t.Fatal("a probe that found nothing succeeded")
	}
}
