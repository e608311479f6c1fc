package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"tongban/drivers/cash"
	"tongban/drivers/escpos"
	escposcodec "tongban/drivers/escpos/codec"
	"tongban/drivers/gpiolines"
	"tongban/drivers/gpiowait"
	"tongban/drivers/id003"
	"tongban/drivers/idcard"
	"tongban/drivers/pulse"
	"tongban/drivers/scanner"
	"tongban/drivers/simgpio"
	"tongban/drivers/ssp"
	"tongban/provisioning/profile"
	"tongban/ui/service"
)

// gpioPoll is the longest a GPIO driver's line watcher sleeps between
// checks when nothing happens. Both watchers wake early for their own
// deadlines (a pulse train ending, a switch settling, an active line
// turning stuck) and stop at once (the pin is halted), so the idle wait
// only bounds how soon a lost edge is caught by re-reading the line; a
// long one keeps the idle daemon within its CPU budget.
const gpioPoll = gpiowait.IdleWait

// scannerIdleGap: see the scanner's wiring in build.
const scannerIdleGap = 400 * time.Millisecond

// deviceOrder is the order devices are listed in (status page, doctor).
func deviceOrder() []string {
	return []string{"billValidator", "coinAcceptor", "printer", "idCardReader", "scanner", "gpio"}
}

// daemonDevices is every device the hardware profile configures, built in
// this one place. Nothing is opened until the devices run: a device
// missing at start reports noDevice and is picked up when it appears.
type daemonDevices struct {
	Cash         cash.Acceptor // the bill validator (id003 or ssp); nil without one
	AcceptValues []int64       // the notes the profile allows; empty = all
	Coins        cash.Acceptor // the pulse coin acceptor; nil without one
	Printer      *escpos.Printer
	Paper        escposcodec.PaperWidth
	IDCard       *idcard.Reader
	Scanner      *scanner.Scanner
	GPIO         *gpiolines.Lines
	// Health is every device's health source, in deviceOrder, for the
	// technician's status page, metrics and doctor. It is read, never
	// subscribed to: the core holds the devices' OnHealth callbacks.
	Health []service.Source

	boards map[string]*simgpio.Client // simulated GPIO boards, by socket path
	log    *slog.Logger
}

// buildDevices makes a driver for every device in the profile. It fails
// only for a configuration a driver can never use.
func buildDevices(p *profile.Profile, log *slog.Logger) (*daemonDevices, error) {
	d := &daemonDevices{boards: map[string]*simgpio.Client{}, log: log}
	for role := range p.Devices {
		if !slices.Contains(deviceOrder(), role) {
			return nil, fmt.Errorf("device %q: no driver wiring for this role", role)
		}
	}
	for _, role := range deviceOrder() {
		dev, ok := p.Devices[role]
		if !ok {
			continue
		}
		src, err := d.build(role, dev)
		if err != nil {
			return nil, fmt.Errorf("device %q: %w", role, err)
		}
		d.Health = append(d.Health, src)
	}
	return d, nil
}

func (d *daemonDevices) build(role string, dev profile.Device) (service.Source, error) {
	switch dev.Driver {
	case "id003":
		bv := id003.New(id003.Config{Name: role, Path: dev.Path, Line: dev.Line, Logger: d.log})
		d.Cash, d.AcceptValues = bv, dev.Denominations
		return bv, nil
	case "ssp":
		bv := ssp.New(ssp.Config{Name: role, Path: dev.Path, Line: dev.Line, Addr: byte(dev.Addr), Encrypted: dev.Encrypted,
			FixedKey: uint64(dev.FixedKey), Protocol: byte(dev.Protocol), Logger: d.log})
		d.Cash, d.AcceptValues = bv, dev.Denominations
		return bv, nil
	case "escpos":
		d.Paper = escposcodec.PaperWidth(dev.Paper)
		d.Printer = escpos.New(escpos.Config{Name: role, Path: dev.Path, Line: dev.Line, Paper: d.Paper, Logger: d.log})
		return d.Printer, nil
	case "idcard":
		d.IDCard = idcard.New(idcard.Config{Name: role, Path: dev.Path, Line: dev.Line, Logger: d.log})
		return d.IDCard, nil
	case "scanner":
		cfg := scanner.Config{Name: role, Path: dev.Path, Line: dev.Line, Model: dev.Model, Mode: dev.Mode,
			Suffix: dev.Suffix, Prefix: dev.Prefix, StripAIM: dev.StripAIM, MaxLen: dev.MaxLen, Logger: d.log}
		if !strings.EqualFold(dev.Suffix, "none") {
			// With a suffix ending every read the idle gap only flushes a
			// read that lost its suffix, so a longer one spares a slow
			// scanner's reads; the idle port is read with no timeout.
			cfg.IdleGap = scannerIdleGap
		}
		sc, err := scanner.New(cfg)
		if err != nil {
			return nil, err
		}
		d.Scanner = sc
		return sc, nil
	case "pulse":
		cfg := pulse.Config{Name: role, Pin: d.pin(dev.Path, dev.Pin), ValuePerPulse: dev.ValuePerPulse, ActiveLow: dev.ActiveLow,
			Denominations: dev.Denominations, Poll: gpioPoll, Logger: d.log}
		if dev.InhibitPin != "" {
			cfg.InhibitPin, cfg.InhibitLevel = d.pin(dev.Path, dev.InhibitPin), dev.InhibitLevel == "high"
		}
		if dev.Pull != "" {
			// "" leaves pulse's default: up when active low, else down.
			pull, err := gpiolines.ParsePull(dev.Pull)
			if err != nil {
				return nil, err
			}
			cfg.Pull = pull
		}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		pd := pulse.New(cfg)
		d.Coins = pd
		return pd, nil
	case "gpio":
		cfg := gpiolines.Config{Name: role, Open: d.opener(dev.Path), Poll: gpioPoll, Logger: d.log}
		for _, in := range dev.Inputs {
			cfg.Inputs = append(cfg.Inputs, gpiolines.Input{Name: in.Name, Kind: gpiolines.Kind(in.Kind), Line: in.Pin, ActiveLow: in.ActiveLow,
				Pull: in.Pull, Debounce: time.Duration(in.DebounceMs) * time.Millisecond})
		}
		for _, l := range dev.Lights {
			cfg.Lights = append(cfg.Lights, gpiolines.LightConfig{Name: l.Name, Line: l.Pin, ActiveLow: l.ActiveLow})
		}
		lines, err := gpiolines.New(cfg)
		if err != nil {
			return nil, err
		}
		d.GPIO = lines
		return lines, nil
	}
	return nil, fmt.Errorf("driver %q has no wiring in the daemon", dev.Driver)
}

// board is the simulated GPIO board at path, one client per board.
func (d *daemonDevices) board(path string) *simgpio.Client {
	b, ok := d.boards[path]
	if !ok {
		b = simgpio.NewClient(path, d.log)
		d.boards[path] = b
	}
	return b
}

// pin is a GPIO line by its profile name: a simulated board's line for
// "sim:NAME", else a real line opened on first use.
func (d *daemonDevices) pin(path, name string) gpio.PinIO {
	if sim, ok := profile.SimPin(name); ok {
		return d.board(path).Pin(sim)
	}
	return &lazyPin{name: name}
}

// opener is gpiolines' Open for a device: simulated or real lines.
func (d *daemonDevices) opener(path string) func(string) (gpio.PinIO, error) {
	return func(line string) (gpio.PinIO, error) {
		if sim, ok := profile.SimPin(line); ok {
			return d.board(path).Open(sim)
		}
		return gpiolines.Open(line)
	}
}

// start runs what the core does not (the ID card reader, the scanner,
// whose reads go to scanned, the GPIO lines and the links to simulated
// GPIO boards) and the technician's service, until ctx ends. The returned
// func stops them and waits.
func (d *daemonDevices) start(ctx context.Context, c daemonConfig, terminalID string, scanned func(string)) (stop func(), err error) {
	if c.Service != "" {
		if err := service.CheckAddr(c.Service); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	run := func(name string, f func() error) {
		wg.Go(func() {
			if err := f(); err != nil && ctx.Err() == nil {
				d.log.Error("device stopped", "device", name, "err", err)
			}
		})
	}
	// The boards outlive the devices on them: stopping, the core's last
	// act is to inhibit the coin acceptor through its board.
	bctx, bcancel := context.WithCancel(context.WithoutCancel(ctx))
	var boards sync.WaitGroup
	for _, b := range d.boards {
		boards.Go(func() { b.Run(bctx) })
	}
	// The GPIO drivers (the core's coin acceptor among them) start once
	// each board had its first try, so a board that is there is found at
	// once rather than after a retry.
	for _, b := range d.boards {
		select {
		case <-b.Tried():
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	if d.IDCard != nil {
		run("idCardReader", func() error { return d.IDCard.Run(ctx) })
	}
	if d.Scanner != nil {
		run("scanner", func() error { return d.Scanner.Run(ctx) })
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case r := <-d.Scanner.Reads():
					d.log.Debug("scanner read", "read", r) // masked by Read's LogValue
					if scanned != nil {
						scanned(r.Code.Text)
					}
				}
			}
		})
	}
	if d.GPIO != nil {
		// The lines log their own events; nothing in the core takes them yet.
		run("gpio", func() error { return d.GPIO.Run(ctx, nil) })
	}
	if c.Service != "" {
		srv := service.New(service.Options{Devices: d.Health, TerminalID: terminalID, Version: version, Started: time.Now(),
			Gauges: c.svcGauges, Mount: c.svcMount, // fleet metrics, technician pages (fleet.go, tech.go)
			Logger: c.Log.With("component", "service")})
		wg.Go(func() {
			// A failed listen is logged, not fatal: the residents' screen
			// matters more than the technician's page.
			if err := srv.ListenAndServe(ctx, c.Service, c.ServiceReady); err != nil {
				c.Log.Error("technician service not available", "addr", c.Service, "err", err)
			}
		})
	}
	return func() { cancel(); wg.Wait(); bcancel(); boards.Wait() }, nil
}

// lazyPin is a real GPIO line opened on first use, so a line missing at
// start (no GPIO driver loaded yet) is noDevice and retried by the pulse
// driver rather than absent for good.
type lazyPin struct {
	name string
	mu   sync.Mutex
	p    gpio.PinIO
}

var _ gpio.PinIO = (*lazyPin)(nil)

func (l *lazyPin) open() (gpio.PinIO, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p == nil {
		p, err := gpiolines.Open(l.name)
		if err != nil {
			return nil, err
		}
		l.p = p
	}
	return l.p, nil
}

func (l *lazyPin) opened() gpio.PinIO {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.p
}

var errNotOpen = errors.New("GPIO line not open")

func (l *lazyPin) String() string   { return l.name }
func (l *lazyPin) Name() string     { return l.name }
func (l *lazyPin) Function() string { return "" }
func (l *lazyPin) Number() int {
	if p := l.opened(); p != nil {
		return p.Number()
	}
	return -1
}
func (l *lazyPin) Halt() error {
	if p := l.opened(); p != nil {
		return p.Halt()
	}
	return nil
}
func (l *lazyPin) In(pull gpio.Pull, edge gpio.Edge) error {
	p, err := l.open()
	if err != nil {
		return err
	}
	return p.In(pull, edge)
}
func (l *lazyPin) Read() gpio.Level {
	if p := l.opened(); p != nil {
		return p.Read()
	}
	return gpio.Low
}
func (l *lazyPin) WaitForEdge(timeout time.Duration) bool {
	if p := l.opened(); p != nil {
		return p.WaitForEdge(timeout)
	}
	time.Sleep(timeout)
	return false
}
func (l *lazyPin) Pull() gpio.Pull {
	if p := l.opened(); p != nil {
		return p.Pull()
	}
	return gpio.PullNoChange
}
func (l *lazyPin) DefaultPull() gpio.Pull {
	if p := l.opened(); p != nil {
		return p.DefaultPull()
	}
	return gpio.PullNoChange
}
func (l *lazyPin) Out(lv gpio.Level) error {
	p, err := l.open()
	if err != nil {
		return err
	}
	return p.Out(lv)
}
func (l *lazyPin) PWM(duty gpio.Duty, f physic.Frequency) error {
	if p := l.opened(); p != nil {
		return p.PWM(duty, f)
	}
	return errNotOpen
}
