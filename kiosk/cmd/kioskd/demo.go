package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"tongban/drivers/simulator"
	"tongban/provisioning/profile"
)

// cmdDemo starts the reference platform, the simulators and the daemon as
// three processes, as they run in the field (a killed daemon leaves the
// simulated devices, and the cash in them, where they are).
func cmdDemo(ctx context.Context, args []string) error {
	// Output piped to a pager or tee that Ctrl-C ends first must not kill
	// the demo before it has stopped its children in order.
	signal.Ignore(syscall.SIGPIPE)
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	data := fs.String("data", "demo-data", "data folder for all three components")
	uiAddr := fs.String("listen", "127.0.0.1:8780", "touch-screen address (loopback)")
	platAddr := fs.String("platform-listen", "127.0.0.1:8790", "reference platform address (loopback)")
	platTLS := fs.String("platform-tls-listen", "127.0.0.1:8793", "reference platform TLS address for enrollment and the signed uplink (loopback)")
	simAddr := fs.String("sim-control", "127.0.0.1:8791", "simulator control address (loopback)")
	svcAddr := fs.String("service", "127.0.0.1:8781", "technician status page and metrics address (loopback)")
	bill := fs.String("bill", "", "bill validator protocol, id003 or ssp (default: the profile's, id003 for a new one)")
	unprov := fs.Bool("unprovisioned", false, "wipe the terminal's enrollment and start it on the unprovisioned screen (enroll it by scanning a token's QR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	dir, err := filepath.Abs(*data)
	if err != nil {
		return err
	}
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	for _, n := range []string{"platform", "platform-tls", "sim", "ui", "service"} {
		os.Remove(filepath.Join(dir, n+".addr"))
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	profPath := filepath.Join(dir, "profile.json")
	protocol, err := prepareDemoProfile(profPath, *bill)
	if err != nil {
		return err
	}

	var procs []*exec.Cmd
	stopAll := func() {
		for i := len(procs) - 1; i >= 0; i-- {
			p := procs[i]
			if p.Process != nil {
				p.Process.Signal(syscall.SIGTERM)
				done := make(chan struct{})
				go func() { p.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					p.Process.Kill()
					<-done
				}
			}
		}
	}
	defer stopAll()
	exited := make(chan string, 3)
	spawn := func(name string, args ...string) error {
		lf, err := os.OpenFile(filepath.Join(logs, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		c := exec.Command(exe, args...)
		c.Stdout, c.Stderr = lf, lf
		// Own process group: Ctrl-C reaches the demo, which stops the
		// children in order (daemon first, devices and platform last).
		// Pdeathsig: should the demo itself die (killed, its terminal
		// closed), the children are told to stop rather than orphaned.
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		if err := c.Start(); err != nil {
			lf.Close()
			return fmt.Errorf("start %s: %w", name, err)
		}
		procs = append(procs, c)
		go func() { c.Wait(); lf.Close(); exited <- name }()
		return nil
	}
	// The platform requires signed requests: the demo's terminal enrolls
	// (demo_enroll.go) and signs every request, as in the field.
	if err := spawn("platform", "platform", "-data", dir, "-listen", *platAddr, "-tls-listen", *platTLS, "-require-signatures"); err != nil {
		return err
	}
	if err := spawn("sim", "sim", "-data", dir, "-control", *simAddr, "-bill", protocol); err != nil {
		return err
	}
	for _, n := range []string{"platform", "sim"} {
		if err := waitReady(ctx, dir, n, exited); err != nil {
			return err
		}
	}
	plat, _ := readAddr(dir, "platform")
	simc, _ := readAddr(dir, "sim")
	enrolled, err := demoProvision(ctx, exe, dir, profPath, plat, *unprov)
	if err != nil {
		return err
	}
	techPIN, err := demoTechPIN(dir)
	if err != nil {
		return err
	}
	if err := spawn("kioskd", "run", "-profile", profPath, "-data", dir, "-platform", "http://"+plat,
		"-listen", *uiAddr, "-service", *svcAddr, "-demo-sim", "http://"+simc,
		"-tech-pin-file", filepath.Join(dir, "tech-pin")); err != nil {
		return err
	}
	if err := waitReady(ctx, dir, "ui", exited); err != nil {
		return err
	}
	ui, _ := readAddr(dir, "ui")
	// The service starts before the screen; a failed listen is not fatal
	// to the daemon, so its absence is reported rather than waited for.
	status := "not available (see " + filepath.Join(logs, "kioskd.log") + ")"
	if waitFile(ctx, filepath.Join(dir, "service.addr"), 2*time.Second) == nil {
		svc, _ := readAddr(dir, "service")
		status = "http://" + svc + "/status   (metrics: http://" + svc + "/metrics)\n" +
			"  Technician page:     http://" + svc + "/tech   (demo technician PIN " + techPIN + ")"
	}
	fmt.Printf(`
Tongban terminal demo is running (ready in %.1fs), bill validator: %s.

  Touch screen:        http://%s/
  Technician status:   %s
  Check every device:  %[5]s doctor -data %[6]s
  County platform:     http://%[7]s/ref/payments
  Insert a note:       use the demo panel on the screen, or
                       %[5]s sim insert 10 -data %[6]s
  Insert a coin:       %[5]s sim coin 1 -data %[6]s   (while the screen takes cash)
  ID card, scanner:    %[5]s sim card place resident -data %[6]s
                       %[5]s sim scan CODE -data %[6]s
  Inject a fault:      %[5]s sim fault printer paperEnd -data %[6]s
                       (%[5]s sim faults lists them; FAULT:off or none clears)
  Pull a cable:        %[5]s sim unplug scanner -data %[6]s   (replug puts it back)
  Apply for a matter:  choose a department on the screen, then
                       %[5]s sim card place resident -data %[6]s   (the sample resident's ID card)
  Staff mode:          %[5]s platform staff -data %[6]s   (a badge QR; scan its text with sim scan,
                       PINs of the demo staff in kiosk/refplatform/README.md)
  Payments received:   %[5]s platform payments -data %[6]s
  Receipts printed:    %[8]s
  Logs:                %[9]s

Press Ctrl-C to stop.
`, time.Since(start).Seconds(), protocol, ui, status, exe, *data, plat, filepath.Join(dir, "sim", "receipts"), logs)
	fmt.Println(enrolled)

	select {
	case <-ctx.Done():
		fmt.Println("\nstopping…")
		return nil
	case name := <-exited:
		return fmt.Errorf("%s exited unexpectedly; see %s", name, filepath.Join(logs, name+".log"))
	}
}

func waitReady(ctx context.Context, dir, name string, exited <-chan string) error {
	path := filepath.Join(dir, name+".addr")
	deadline := time.After(15 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case n := <-exited:
			return fmt.Errorf("%s exited during start; see %s", n, filepath.Join(dir, "logs", n+".log"))
		case <-deadline:
			return fmt.Errorf("%s did not become ready", name)
		case <-time.After(15 * time.Millisecond):
		}
	}
}

// DemoProfile points every device at the simulators' stable links, with
// the ID003 bill validator.
func DemoProfile() *profile.Profile { return demoProfile(simulator.ProtocolID003) }

// demoProfile is the demo's profile with the bill validator speaking
// protocol. Paths are relative to the profile's folder, where the
// simulator keeps sim/dev/.
func demoProfile(protocol string) *profile.Profile {
	notes := []int64{1000, 2000, 5000, 10000, 100, 500}
	bv := profile.Device{Driver: "id003", Path: "sim/dev/bill-validator", Denominations: notes}
	if protocol == simulator.ProtocolSSP {
		bv = profile.Device{Driver: "ssp", Path: "sim/dev/bill-validator", Denominations: notes, Encrypted: true}
	}
	sim := func(name string) string { return profile.SimPinPrefix + name }
	const board = "sim/dev/gpio"
	return &profile.Profile{Devices: map[string]profile.Device{
		"billValidator": bv,
		"printer":       {Driver: "escpos", Path: "sim/dev/printer", Paper: 80},
		"idCardReader":  {Driver: "idcard", Path: "sim/dev/id-card-reader"},
		"scanner":       {Driver: "scanner", Path: "sim/dev/scanner", Model: "newland", Mode: "auto"},
		"coinAcceptor": {Driver: "pulse", Path: board, Pin: sim(simulator.PinCoin), InhibitPin: sim(simulator.PinCoinInhibit),
			InhibitLevel: "high", ValuePerPulse: simulator.CoinValuePerPulse, ActiveLow: true, Denominations: simulator.Coins()},
		"gpio": {Driver: "gpio", Path: board,
			Inputs: []profile.GPIOInput{
				{Name: "door", Kind: "door", Pin: sim(simulator.PinDoor)},
				{Name: "tamper", Kind: "tamper", Pin: sim(simulator.PinTamper)},
				{Name: "presence", Kind: "presence", Pin: sim(simulator.PinPresence)},
			},
			Lights: []profile.GPIOLight{
				{Name: "cardSlot", Pin: sim(simulator.PinCardSlotLight)},
				{Name: "noteSlot", Pin: sim(simulator.PinNoteSlotLight)},
				{Name: "printer", Pin: sim(simulator.PinPrinterLight)},
			}},
	}}
}

func writeDemoProfile(path string) error { return profile.Write(path, DemoProfile()) }

// prepareDemoProfile writes the demo profile if there is none, adds the
// devices an older demo profile lacks, and switches the bill validator's
// protocol if one is asked for. It returns the protocol the simulator must
// speak.
func prepareDemoProfile(path, protocol string) (string, error) {
	switch protocol {
	case "", simulator.ProtocolID003, simulator.ProtocolSSP:
	default:
		return "", fmt.Errorf("bill validator protocol %q: want id003 or ssp", protocol)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if protocol == "" {
			protocol = simulator.ProtocolID003
		}
		if err := profile.Write(path, demoProfile(protocol)); err != nil {
			return "", fmt.Errorf("write demo profile: %w", err)
		}
		return protocol, nil
	}
	if err != nil {
		return "", fmt.Errorf("demo profile: %w", err)
	}
	// Parse, not Load: paths stay relative as written.
	p, err := profile.Parse(b)
	if err != nil {
		return "", fmt.Errorf("demo profile %s: %w (remove it to get a fresh one)", path, err)
	}
	current := p.Devices["billValidator"].Driver
	if protocol == "" {
		protocol = current
		if protocol != simulator.ProtocolSSP {
			protocol = simulator.ProtocolID003
		}
	}
	want := demoProfile(protocol)
	changed := false
	for role, d := range want.Devices {
		if _, ok := p.Devices[role]; !ok || (role == "billValidator" && current != protocol) {
			p.Devices[role] = d
			changed = true
		}
	}
	if changed {
		if err := profile.Write(path, p); err != nil {
			return "", fmt.Errorf("update demo profile: %w", err)
		}
		fmt.Printf("Updated %s with the demo's devices.\n", path)
	}
	return protocol, nil
}

// demoTechPIN makes the demo's technician PIN once (six random digits,
// 0600 next to the data), so the technician page's actions can be tried;
// a real terminal gets its PIN from the installer (kioskd.service).
func demoTechPIN(dir string) (string, error) {
	path := filepath.Join(dir, "tech-pin")
	if pin, err := readTechPIN(path); err == nil {
		return pin, nil
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("demo technician PIN: %w", err)
	}
	pin := fmt.Sprintf("%06d", n.Int64())
	if err := os.WriteFile(path, []byte(pin+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("demo technician PIN: %w", err)
	}
	return pin, nil
}
