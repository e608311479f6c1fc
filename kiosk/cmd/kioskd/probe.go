package main

// kioskd probe: find which device is on which serial port and propose a
// hardware profile (provisioning/probe).

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"tongban/provisioning/probe"
	"tongban/provisioning/profile"
)

func cmdProbe(ctx context.Context, args []string) error {
	fset := flag.NewFlagSet("probe", flag.ContinueOnError)
	asJSON := fset.Bool("json", false, "print the findings and the proposed profile as JSON")
	write := fset.String("write", "", "write the proposed hardware profile to FILE")
	force := fset.Bool("force", false, "let -write replace an existing file")
	timeout := fset.Duration("timeout", probe.DefaultTimeout, "how long each identify attempt waits for a reply")
	scan := fset.Bool("scan", true, "list the machine's serial ports too (false: probe only the paths given)")
	verbose := fset.Bool("v", false, "show every attempt")
	level := fset.String("log-level", "warn", "debug, info, warn or error")
	fset.Usage = func() {
		fmt.Fprint(fset.Output(), `Usage: kioskd probe [-json] [-write profile.json] [paths...]

Lists the serial ports (with USB vendor:product ids) plus the paths given
(e.g. the simulators' pseudo terminals, data/sim/dev/*), tries every
protocol's identify command at its line settings (ESC/POS, ID003, SSP, ID
card SAM, Newland scanner) and proposes a hardware profile. Stop kioskd
first: a port in use cannot be probed.
`)
		fset.PrintDefaults()
	}
	// Flags may come before, between or after the paths.
	var paths []string
	for rest := args; ; {
		if err := fset.Parse(rest); err != nil {
			return err
		}
		if fset.NArg() == 0 {
			break
		}
		paths = append(paths, fset.Arg(0))
		rest = fset.Args()[1:]
	}
	var (
		ports []probe.Port
		lerr  error
	)
	if *scan {
		ports, lerr = probe.ListPorts(paths...)
	} else {
		for _, p := range paths {
			ports = append(ports, probe.Port{Path: p, Given: true})
		}
	}
	if lerr != nil {
		fmt.Fprintf(os.Stderr, "kioskd probe: %v (probing the given paths only)\n", lerr)
	}
	if len(ports) == 0 {
		return errors.New("no serial ports found; name pseudo terminals to probe, e.g. kioskd probe data/sim/dev/*")
	}
	log := newLogger(os.Stderr, "probe", *level)
	start := time.Now()
	findings := probe.Probe(ctx, ports, probe.Options{Timeout: *timeout, Logger: log})
	took := time.Since(start)
	prof, warns, perr := probe.Propose(findings)

	if *asJSON {
		out := struct {
			Ports    []probe.Finding  `json:"ports"`
			Profile  *profile.Profile `json:"profile,omitempty"`
			Warnings []string         `json:"warnings,omitempty"`
			Error    string           `json:"error,omitempty"`
			Elapsed  string           `json:"elapsed"`
		}{Ports: findings, Profile: prof, Warnings: warns, Elapsed: took.Round(time.Millisecond).String()}
		if perr != nil {
			out.Error = perr.Error()
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		fmt.Println(string(b))
	} else {
		printFindings(findings, *verbose)
		fmt.Printf("\n%d port(s) probed in %v\n", len(findings), took.Round(time.Millisecond))
		for _, w := range warns {
			fmt.Println("warning:", w)
		}
		if prof != nil {
			b, _ := json.MarshalIndent(prof, "", "  ")
			fmt.Printf("\nproposed hardware profile:\n%s\n", b)
		}
	}
	if perr != nil {
		return perr
	}
	if *write != "" {
		if _, err := os.Stat(*write); err == nil && !*force {
			return fmt.Errorf("%s exists; add -force to replace it", *write)
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := profile.Write(*write, relativeTo(filepath.Dir(*write), prof)); err != nil {
			return err
		}
		if !*asJSON {
			fmt.Printf("written to %s\n", *write)
		}
	}
	return nil
}

func printFindings(findings []probe.Finding, verbose bool) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PORT\tUSB\tPROTOCOL\tROLE\tLINE\tDEVICE")
	for _, f := range findings {
		usb := "-"
		if f.Port.VID != "" {
			usb = f.Port.VID + ":" + f.Port.PID
			if f.Port.Product != "" {
				usb += " " + f.Port.Product
			}
		}
		switch {
		case f.Found():
			dev := f.Identity
			if f.Detail != "" {
				dev += "; " + f.Detail
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Port.Path, usb, f.Protocol, f.Role, f.Line, dev)
		case f.Err != "":
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\terror: %s\n", f.Port.Path, usb, f.Err)
		default:
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\tnothing answered (a generic scanner cannot be identified)\n", f.Port.Path, usb)
		}
		if f.Port.Hint != "" {
			fmt.Fprintf(tw, "\t\t\t\t\tUSB id suggests: %s\n", f.Port.Hint)
		}
		if verbose {
			for _, a := range f.Attempts {
				fmt.Fprintf(tw, "\t\t%s\t\t%s\t%s (%v)\n", a.Protocol, a.Line, a.Result, a.Elapsed.Round(time.Millisecond))
			}
		}
	}
	tw.Flush()
	for _, f := range findings {
		if !f.Found() && f.Note != "" && !verbose {
			fmt.Println("\nnote:", f.Note)
			break
		}
	}
}

// relativeTo rewrites relative device paths so they stay right when the
// profile is loaded from dir (profile.Load reads them relative to the
// profile's folder).
func relativeTo(dir string, p *profile.Profile) *profile.Profile {
	out := &profile.Profile{Devices: map[string]profile.Device{}}
	absDir, err := filepath.Abs(dir)
	for role, d := range p.Devices {
		if d.Path != "" && !filepath.IsAbs(d.Path) && err == nil {
			if abs, err := filepath.Abs(d.Path); err == nil {
				if rel, err := filepath.Rel(absDir, abs); err == nil && !strings.HasPrefix(rel, "..") {
					d.Path = rel
				} else {
					d.Path = abs
				}
			}
		}
		out.Devices[role] = d
	}
	return out
}
