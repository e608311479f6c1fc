package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"tongban/provisioning/profile"
)

// cmdDemo starts the reference platform, the simulators and the daemon as
// three processes, as they run in the field (a killed daemon leaves the
// simulated devices, and the cash in them, where they are).
func cmdDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	data := fs.String("data", "demo-data", "data folder for all three components")
	uiAddr := fs.String("listen", "127.0.0.1:8780", "touch-screen address (loopback)")
	platAddr := fs.String("platform-listen", "127.0.0.1:8790", "reference platform address (loopback)")
	simAddr := fs.String("sim-control", "127.0.0.1:8791", "simulator control address (loopback)")
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
	for _, n := range []string{"platform", "sim", "ui"} {
		os.Remove(filepath.Join(dir, n+".addr"))
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	profPath := filepath.Join(dir, "profile.json")
	if _, err := os.Stat(profPath); errors.Is(err, os.ErrNotExist) {
		if err := writeDemoProfile(profPath); err != nil {
			return fmt.Errorf("write demo profile: %w", err)
		}
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
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := c.Start(); err != nil {
			lf.Close()
			return fmt.Errorf("start %s: %w", name, err)
		}
		procs = append(procs, c)
		go func() { c.Wait(); lf.Close(); exited <- name }()
		return nil
	}
	if err := spawn("platform", "platform", "-data", dir, "-listen", *platAddr); err != nil {
		return err
	}
	if err := spawn("sim", "sim", "-data", dir, "-control", *simAddr); err != nil {
		return err
	}
	for _, n := range []string{"platform", "sim"} {
		if err := waitReady(ctx, dir, n, exited); err != nil {
			return err
		}
	}
	plat, _ := readAddr(dir, "platform")
	simc, _ := readAddr(dir, "sim")
	if err := spawn("kioskd", "run", "-profile", profPath, "-data", dir, "-platform", "http://"+plat,
		"-listen", *uiAddr, "-demo-sim", "http://"+simc); err != nil {
		return err
	}
	if err := waitReady(ctx, dir, "ui", exited); err != nil {
		return err
	}
	ui, _ := readAddr(dir, "ui")
	fmt.Printf(`
Tongban terminal demo is running (ready in %.1fs).

  Touch screen:        http://%s/
  County platform:     http://%s/ref/payments
  Insert a note:       use the demo panel on the screen, or
                       %s sim insert 10 -data %s
  Payments received:   %s platform payments -data %s
  Receipts printed:    %s
  Logs:                %s

Press Ctrl-C to stop.
`, time.Since(start).Seconds(), ui, plat, exe, *data, exe, *data, filepath.Join(dir, "sim", "receipts"), logs)

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

// DemoProfile points every device at the simulators' stable links.
func DemoProfile() *profile.Profile {
	return &profile.Profile{Devices: map[string]profile.Device{
		"billValidator": {Driver: "id003", Path: "sim/dev/bill-validator",
			Denominations: []int64{1000, 2000, 5000, 10000, 100, 500}},
		"printer": {Driver: "escpos", Path: "sim/dev/printer", Paper: 80},
	}}
}

func writeDemoProfile(path string) error { return profile.Write(path, DemoProfile()) }
