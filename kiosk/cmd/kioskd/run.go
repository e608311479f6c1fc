package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"tongban/kiosk/journal"
	"tongban/kiosk/receipt"
	"tongban/kiosk/refplatform"
	"tongban/kiosk/sealed"
	"tongban/kiosk/terminal"
	"tongban/kiosk/uplink"
	"tongban/provisioning/enroll"
	"tongban/provisioning/identity"
	"tongban/provisioning/profile"
	"tongban/ui"
	"tongban/ui/service"
)

// daemonConfig is what `kioskd run` needs; tests build one directly.
type daemonConfig struct {
	Profile     *profile.Profile
	DataDir     string // the daemon keeps kiosk/journal.db and kiosk/identity.json here
	PlatformURL string
	Listen      string
	// Service is the technician's status, device list and metrics address
	// (loopback); empty serves none.
	Service     string
	DemoSim     string
	IdleTimeout time.Duration
	Log         *slog.Logger
	// Ready receives the screen's address once it is served.
	Ready func(addr string)
	// ServiceReady receives the technician service's address.
	ServiceReady func(addr string)
	// AllowUnenrolled runs a terminal that was never enrolled as before
	// enrollment existed: under its device id, unsigned (demo platforms
	// and tests). Otherwise it starts on the unprovisioned screen.
	AllowUnenrolled bool
	// Heartbeat is how often the platform hears from the terminal; 0: as
	// the platform configures (60 s by default); negative: never.
	Heartbeat time.Duration
	// ProfilePath is the profile file the technician page saves to
	// (tech.go); empty: the profile cannot be changed at run time.
	ProfilePath string
	// TechPIN guards the technician's actions (probe, save profile,
	// self-tests); empty: they are refused.
	TechPIN string

	// Set by runDaemon for the technician service (fleet.go, tech.go).
	svcGauges func() []service.Gauge
	svcMount  func(*http.ServeMux)
	// Township is the catalog's township when the enrollment names none
	// (kiosk/terminal/catalog.go); empty lets the platform decide.
	Township string
	// Staff tunes partner-site staff mode: PIN lockout and idle sign-out
	// (kiosk/terminal/staff.go).
	Staff terminal.StaffConfig
}

func cmdRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	prof := fs.String("profile", "profile.json", "hardware profile (see provisioning/profile/README.md)")
	data := fs.String("data", "data", "data folder")
	plat := fs.String("platform", "http://127.0.0.1:8790", "county platform base URL")
	listen := fs.String("listen", "127.0.0.1:8780", "touch-screen address (loopback only)")
	svc := fs.String("service", "127.0.0.1:8781", "technician status page, device list and metrics address (loopback only; empty: none)")
	demoSim := fs.String("demo-sim", "", "simulator control URL: shows the demo note panel on the screen")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	idle := fs.Duration("idle-timeout", 90*time.Second, "an untouched session ends after this (with cash inside: a voucher is printed)")
	township := fs.String("township", refplatform.DefaultTownship, "township whose catalog the screen offers, unless the enrollment names one")
	heartbeat := fs.Duration("heartbeat", 0, "heartbeat interval (0: as the platform configures, 60 s by default; negative: none)")
	staffLockout := fs.Duration("staff-lockout", 15*time.Minute, "a staff badge is locked this long after five wrong PINs")
	staffIdle := fs.Duration("staff-idle", 5*time.Minute, "an untouched staff session signs out after this")
	techPIN := fs.String("tech-pin-file", "", "file holding the technician PIN that guards probe, profile saving and self-tests on the service listener (empty: those actions are off)")
	unenrolled := fs.Bool("allow-unenrolled", false, "run a never-enrolled terminal unsigned under its device id (demo platforms, tests) instead of showing the unprovisioned screen")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := newLogger(os.Stderr, "kioskd", *level)
	p, err := profile.Load(*prof)
	if err != nil {
		return err
	}
	pin, err := readTechPIN(*techPIN)
	if err != nil {
		return err
	}
	return runDaemon(ctx, daemonConfig{Profile: p, DataDir: *data, PlatformURL: *plat, Listen: *listen, DemoSim: *demoSim, Log: log, IdleTimeout: *idle, AllowUnenrolled: *unenrolled, Township: *township, Heartbeat: *heartbeat, ProfilePath: *prof, TechPIN: pin,
		Ready: func(addr string) {
			log.Info("touch screen ready", "url", "http://"+addr+"/")
			if err := writeAddr(*data, "ui", addr); err != nil {
				log.Error("write address file", "err", err)
			}
		},
		Service: *svc,
		Staff:   terminal.StaffConfig{Lockout: *staffLockout, IdleTimeout: *staffIdle},
		ServiceReady: func(addr string) {
			log.Info("technician service ready", "status", "http://"+addr+"/status", "metrics", "http://"+addr+"/metrics")
			if err := writeAddr(*data, "service", addr); err != nil {
				log.Error("write address file", "err", err)
			}
		}})
}

func runDaemon(ctx context.Context, c daemonConfig) error {
	dir := filepath.Join(c.DataDir, "kiosk")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	id, err := identity.LoadOrCreate(dir)
	if err != nil {
		return err
	}
	j, err := journal.Open(filepath.Join(dir, "journal.db"), nil)
	if err != nil {
		return err
	}
	defer j.Close()

	// Every device is built in devices.go; the core drives the cash
	// devices and the printer itself.
	prof := c.Profile
	if c.ProfilePath != "" {
		// Serial devices open through links a technician's saved
		// profile can re-point at run time (devlinks.go).
		if prof, err = linkedProfile(dir, c.Profile); err != nil {
			return err
		}
	}
	devs, err := buildDevices(prof, c.Log)
	if err != nil {
		return err
	}
	// The screen, the scanner and the technician's service come up before
	// the core: an unprovisioned terminal needs them to be enrolled
	// (provisioning.go), and the screen follows sw from one to the other.
	sw := newScreenSwitch(nil, nil)
	fl := newFleet(dir, devs.Health, c.Log.With("component", "fleet"))
	c.svcGauges = func() []service.Gauge {
		// The journal's commits: every money event waits for one before
		// the device or the screen hears, so a slow disk shows here first.
		st := j.Stats()
		return append(fl.gauges(),
			service.Gauge{Name: "tongban_journal_commits_total", Type: "counter", Help: "Durable journal commits.", Value: float64(st.Commits)},
			service.Gauge{Name: "tongban_journal_commit_seconds_total", Type: "counter", Help: "Time spent in durable journal commits.", Value: st.Total.Seconds()},
			service.Gauge{Name: "tongban_journal_commit_max_seconds", Help: "Longest durable journal commit since start.", Value: st.Max.Seconds()})
	}
	tech := newTechService(c, dir, devs, fl, id.TerminalID())
	c.svcMount = tech.mount
	stopDevices, err := devs.start(ctx, c, id.DeviceID, sw.Scanned)
	if err != nil {
		return err
	}
	defer stopDevices()
	var demoOrigins []string
	if c.DemoSim != "" {
		if u, err := url.Parse(c.DemoSim); err == nil {
			demoOrigins = append(demoOrigins, u.Scheme+"://"+u.Host)
		}
	}
	screen := ui.New(sw, ui.Options{Logger: c.Log.With("component", "ui"), DemoOrigins: demoOrigins})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	screenErr := make(chan error, 1)
	serveScreen := func() {
		go func() {
			screenErr <- screen.ListenAndServe(ctx, c.Listen, c.Ready)
			cancel()
		}()
	}

	terminalID, platformURL := id.DeviceID, c.PlatformURL
	client := uplink.NewClient(c.PlatformURL, id.DeviceID)
	// An enrolled terminal talks to the platform it enrolled with, over the
	// pinned connection, and signs every request with its device key.
	signed, eid, err := enroll.UplinkClient(dir)
	var prov *provisioner
	switch {
	case errors.Is(err, identity.ErrNotEnrolled) && !c.AllowUnenrolled:
		// Unprovisioned: the screen shows the device id until a
		// technician enrolls the terminal, then the core starts.
		prov = newProvisioner(ctx, dir, id.DeviceID, c.PlatformURL, hardwareSummary(c.Profile), c.Log.With("component", "provision"))
		sw.set(prov, prov.Scanned)
		serveScreen()
		c.Log.Info("kioskd unprovisioned: scan an enrollment QR or type a token on the screen", "device", id.DeviceID)
		if _, ok := prov.wait(ctx); !ok {
			return <-screenErr
		}
		if signed, eid, err = enroll.UplinkClient(dir); err != nil {
			return fmt.Errorf("enrolled identity: %w", err)
		}
		client, terminalID, platformURL = signed, eid.TerminalID(), signed.BaseURL
	case err == nil:
		client, terminalID, platformURL = signed, eid.TerminalID(), signed.BaseURL
	case !errors.Is(err, identity.ErrNotEnrolled):
		return fmt.Errorf("enrolled identity: %w", err)
	}
	cfg := terminal.Config{
		TerminalID:     terminalID,
		Journal:        j,
		Platform:       client,
		Logger:         c.Log,
		DemoSimControl: c.DemoSim,
		IdleTimeout:    c.IdleTimeout,
		Staff:          c.Staff,
	}
	// Government services (kiosk/terminal/apply.go): the enrolled
	// township, the ID card reader, and the encrypted store that holds
	// applications until the platform has them (without it, none are taken).
	cfg.Township = c.Township
	if eid.Enrollment != nil && eid.Enrollment.Township.Code != "" {
		cfg.Township = eid.Enrollment.Township.Code
	}
	if devs.IDCard != nil {
		cfg.IDCard = devs.IDCard
	}
	if store, err := sealed.Open(dir); err != nil {
		c.Log.Error("sealed store unavailable: no applications", "err", err)
	} else {
		defer store.Close()
		cfg.Sealed = store
	}
	if devs.Cash != nil {
		cfg.Cash = devs.Cash
		cfg.AcceptValues = devs.AcceptValues
	}
	if devs.Coins != nil {
		cfg.Coins = devs.Coins
	}
	if devs.Printer != nil {
		cfg.Printer = devs.Printer
		cfg.Receipt = receipt.Layout{Paper: devs.Paper, Options: devs.Printer.BuilderOptions}.Job
		cfg.Staff.Print = receipt.Layout{Paper: devs.Paper, Options: devs.Printer.BuilderOptions}.StaffJob // staff mode's documents
	}
	core, err := terminal.New(cfg)
	if err != nil {
		cancel()
		if prov != nil {
			<-screenErr
		}
		return err
	}
	c.Log.Info("kioskd starting", "version", version, "terminal", terminalID, "journal", j.Len(), "platform", platformURL)
	if devs.Scanner != nil {
		// The screen offers bill barcodes and payment codes only while the
		// scanner works (a degraded terminal: typed account only).
		devs.Scanner.OnHealth(core.DeviceHealth("scanner"))
		core.DeviceHealth("scanner")(devs.Scanner.Health())
	}

	var wg sync.WaitGroup
	wg.Go(func() { core.Run(ctx) })
	tech.setCore(core)
	if c.Heartbeat >= 0 {
		fl.attach(core, client, c.Heartbeat)
		wg.Go(func() { fl.run(ctx) })
	}
	if prov != nil {
		// The technician sees the site and township, then the home screen.
		prov.shown(ctx)
	}
	sw.set(core, core.Scanned)
	if prov == nil {
		serveScreen()
	}
	err = <-screenErr
	cancel()
	wg.Wait()
	return err
}
