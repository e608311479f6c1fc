// Command kioskd is the Tongban terminal daemon and its companions: the
// device simulators, the reference county platform and a one-command demo.
//
//	kioskd run       the daemon (hardware profile + data folder)
//	kioskd sim       the simulated devices on pseudo terminals
//	kioskd platform  the reference county platform
//	kioskd demo      all three, wired together (what `make run` starts)
//	kioskd doctor    every device's state, from the running daemon
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `kioskd: Tongban self-service terminal daemon

Usage:
  kioskd run      [-profile FILE] [-data DIR] [-platform URL] [-listen ADDR] [-service ADDR]
                  [-tech-pin-file FILE] [-heartbeat D] [-allow-unenrolled]   (never enrolled: the unprovisioned screen)
  kioskd doctor   [-data DIR | -url URL] [-json]   every device's state; exit 1 if one is not online
  kioskd sim      [-data DIR] [-control ADDR] [-bill id003|ssp]
  kioskd sim insert YUAN [-data DIR]     insert a note into the simulated bill validator
  kioskd sim card place resident         put a sample ID card on the simulated reader
  kioskd sim scan CODE                   hold a code up to the simulated scanner
  kioskd sim fault DEVICE FAULT          inject a fault (kioskd sim faults lists them)
  kioskd sim unplug|replug DEVICE        pull or put back a simulated cable
  kioskd sim state [-data DIR]           show the simulators' state (cash box, receipts)
  kioskd sim help                        every simulator command
  kioskd platform [-data DIR] [-listen ADDR]
  kioskd platform payments [-data DIR | -url URL]
  kioskd platform token [-data DIR | -url URL] [-site-kind K -site-name N -township T] [-sm2]   an enrollment QR
  kioskd platform staff [-data DIR | -url URL] [-id S1001] [-png FILE]   a partner-site staff badge QR
  kioskd provision [-data DIR] (-qr PAYLOAD | -token T -platform URL -pin HEX) [-sm2]   enroll this terminal
  kioskd provision status|wipe [-data DIR]   show or wipe the terminal's identity
  kioskd probe    [-json] [-write FILE] [paths...]   find the devices on the serial ports, propose a profile
  kioskd demo     [-data DIR] [-bill id003|ssp] [-unprovisioned]   the whole terminal on simulated hardware
  kioskd version

Run "kioskd CMD -h" for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	cmd, args := os.Args[1], os.Args[2:]
	switch cmd {
	case "run":
		err = cmdRun(ctx, args)
	case "sim":
		err = cmdSim(ctx, args)
	case "platform":
		err = cmdPlatform(ctx, args)
	case "demo":
		err = cmdDemo(ctx, args)
	case "doctor":
		err = cmdDoctor(ctx, args)
	case "provision":
		err = cmdProvision(ctx, args) // provision.go
	case "probe":
		err = cmdProbe(ctx, args) // probe.go
	case "version":
		fmt.Println("kioskd", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "kioskd: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "kioskd %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

func newLogger(w io.Writer, component string, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})).With("component", component)
}

// writeAddr records a listening address for the other processes and the
// CLI, atomically so a reader never sees half of it.
func writeAddr(dir, name, addr string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, name+".addr")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readAddr(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name+".addr"))
	if err != nil {
		return "", fmt.Errorf("is the %s running with -data %s? %w", name, dir, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// waitFile waits for path to exist.
func waitFile(ctx context.Context, path string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s", path)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
