package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"tongban/drivers/escpos"
	escposcodec "tongban/drivers/escpos/codec"
	"tongban/drivers/id003"
	"tongban/kiosk/journal"
	"tongban/kiosk/receipt"
	"tongban/kiosk/terminal"
	"tongban/kiosk/uplink"
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
	DemoSim     string
	IdleTimeout time.Duration
	Log         *slog.Logger
	// Ready receives the screen's address once it is served.
	Ready func(addr string)
}

func cmdRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	prof := fs.String("profile", "profile.json", "hardware profile (see provisioning/profile/README.md)")
	data := fs.String("data", "data", "data folder")
	plat := fs.String("platform", "http://127.0.0.1:8790", "county platform base URL")
	listen := fs.String("listen", "127.0.0.1:8780", "touch-screen address (loopback only)")
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

	cfg := terminal.Config{
		TerminalID:     id.DeviceID,
		Journal:        j,
		Platform:       uplink.NewClient(c.PlatformURL, id.DeviceID),
		Logger:         c.Log,
		DemoSimControl: c.DemoSim,
		IdleTimeout:    c.IdleTimeout,
	}
	if d, ok := c.Profile.Devices["billValidator"]; ok {
		cfg.Cash = id003.New(id003.Config{Name: "billValidator", Path: d.Path, Line: d.Line, Logger: c.Log})
		cfg.AcceptValues = d.Denominations
	}
	if d, ok := c.Profile.Devices["printer"]; ok {
		paper := escposcodec.PaperWidth(d.Paper)
		cfg.Printer = escpos.New(escpos.Config{Name: "printer", Path: d.Path, Line: d.Line, Paper: paper, Logger: c.Log})
		cfg.Receipt = receipt.Layout{Paper: paper}.Job
	}
	core, err := terminal.New(cfg)
	if err != nil {
		return err
	}
	c.Log.Info("kioskd starting", "version", version, "terminal", id.DeviceID, "journal", j.Len(), "platform", c.PlatformURL)

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
