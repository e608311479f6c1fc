package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"tongban/drivers/device"
	"tongban/ui/service"
)

// errNotOnline makes doctor exit 1, so scripts can test the devices.
var errNotOnline = errors.New("not online")

func cmdDoctor(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: kioskd doctor [-data DIR | -url URL] [-json]

Asks the running daemon's technician service for every configured device's
state, counters and last error. Exits 1 if any device is not online (or the
daemon cannot be reached), 0 if all are.

`)
		fs.PrintDefaults()
	}
	data := fs.String("data", "data", "data folder of the running daemon (its service.addr names the service)")
	base := fs.String("url", "", "the service's base URL instead, e.g. http://127.0.0.1:8781")
	asJSON := fs.Bool("json", false, "print the service's JSON report instead of a table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	u := strings.TrimSuffix(*base, "/")
	if u == "" {
		addr, err := readAddr(*data, "service")
		if err != nil {
			return err
		}
		u = "http://" + addr
	}
	return doctor(ctx, os.Stdout, u, *asJSON)
}

// doctor prints the device report from the service at base and returns
// an error matching errNotOnline if a device is not online.
func doctor(ctx context.Context, w io.Writer, base string, asJSON bool) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, base+"/api/devices", nil)
	if err != nil {
		return fmt.Errorf("doctor: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("doctor: is the daemon running? %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("doctor: read %s: %w", base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("doctor: %s: %s %s", base, resp.Status, strings.TrimSpace(string(raw)))
	}
	var rep service.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("doctor: %s sent no device report: %w", base, err)
	}
	if asJSON {
		w.Write(raw)
	} else {
		printReport(w, rep)
		printFleet(ctx, w, base) // heartbeat and platform configuration (fleet.go)
	}
	var down []string
	for _, h := range rep.Devices {
		if h.State != device.Online {
			d := fmt.Sprintf("%s (%s", h.Name, h.State)
			if h.Detail != "" {
				d += ": " + h.Detail
			}
			down = append(down, d+")")
		}
	}
	if len(down) > 0 {
		return fmt.Errorf("%d of %d devices %w: %s", len(down), len(rep.Devices), errNotOnline, strings.Join(down, ", "))
	}
	return nil
}

func printReport(w io.Writer, rep service.Report) {
	fmt.Fprintf(w, "Terminal %s  kioskd %s  up %s\n\n", rep.TerminalID, rep.Version, rep.Now.Sub(rep.Started).Round(time.Second))
	if len(rep.Devices) == 0 {
		fmt.Fprintln(w, "No devices in the hardware profile.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tDRIVER\tSTATE\tSINCE\tDETAIL\tPATH\tCOUNTERS\tLAST ERROR")
	for _, h := range rep.Devices {
		var cs []string
		for k, v := range h.Counters {
			cs = append(cs, fmt.Sprintf("%s=%d", k, v))
		}
		slices.Sort(cs)
		last := "-"
		if h.LastError != "" {
			last = h.ErrorAt.Local().Format("15:04:05") + " " + h.LastError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Driver, h.State, h.Since.Local().Format("15:04:05"),
			dash(h.Detail), dash(h.Path), dash(strings.Join(cs, " ")), oneLine(last))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return oneLine(s)
}

// oneLine keeps a table row on one line whatever a driver wrote.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
