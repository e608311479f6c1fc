package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"tongban/kiosk/journal"
	"tongban/kiosk/receipt"
	"tongban/kiosk/terminal"
	"tongban/kiosk/uplink"
	"tongban/provisioning/enroll"
	"tongban/provisioning/identity"
	"tongban/provisioning/profile"
	"tongban/ui"
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := newLogger(os.Stderr, "kioskd", *level)
	p, err := profile.Load(*prof)
	if err != nil {
		return err
	}
	return runDaemon(ctx, daemonConfig{Profile: p, DataDir: *data, PlatformURL: *plat, Listen: *listen, DemoSim: *demoSim, Log: log, IdleTimeout: *idle,
		Ready: func(addr string) {
			log.Info("touch screen ready", "url", "http://"+addr+"/")
			if err := writeAddr(*data, "ui", addr); err != nil {
				log.Error("write address file", "err", err)
			}
		},
		Service: *svc,
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

	terminalID, platformURL := id.DeviceID, c.PlatformURL
	client := uplink.NewClient(c.PlatformURL, id.DeviceID)
	// An enrolled terminal talks to the platform it enrolled with, over the
	// pinned connection, and signs every request with its device key.
	if signed, eid, err := enroll.UplinkClient(dir); err == nil {
		client, terminalID, platformURL = signed, eid.TerminalID(), signed.BaseURL
	} else if !errors.Is(err, identity.ErrNotEnrolled) {
		return fmt.Errorf("enrolled identity: %w", err)
	}
	cfg := terminal.Config{
		TerminalID:     terminalID,
		Journal:        j,
		Platform:       client,
		Logger:         c.Log,
		DemoSimControl: c.DemoSim,
		IdleTimeout:    c.IdleTimeout,
	}
	// Every device is built in devices.go; the core drives the cash
	// devices and the printer itself.
	devs, err := buildDevices(c.Profile, c.Log)
	if err != nil {
		return err
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
	}
	core, err := terminal.New(cfg)
	if err != nil {
		return err
	}
	// The other devices (their scans go to the core) and the technician's
	// service run beside the core, under the daemon's context.
	stopDevices, err := devs.start(ctx, c, id.DeviceID, core.Scanned)
	if err != nil {
		return err
	}
	defer stopDevices()
	c.Log.Info("kioskd starting", "version", version, "terminal", terminalID, "journal", j.Len(), "platform", platformURL)

	var demoOrigins []string
	if c.DemoSim != "" {
		if u, err := url.Parse(c.DemoSim); err == nil {
			demoOrigins = append(demoOrigins, u.Scheme+"://"+u.Host)
		}
	}
	screen := ui.New(core, ui.Options{Logger: c.Log.With("component", "ui"), DemoOrigins: demoOrigins})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		core.Run(ctx)
	}()
	err = screen.ListenAndServe(ctx, c.Listen, c.Ready)
	cancel()
	wg.Wait()
	return err
}
