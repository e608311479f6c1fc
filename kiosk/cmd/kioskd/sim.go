package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"tongban/drivers/simulator"
)

const simUsage = `kioskd sim: the simulated devices, and commands for a running simulator

Run the simulator:
  kioskd sim [-data DIR] [-control ADDR] [-bill id003|ssp] [-fast]

Talk to it (flags may follow the arguments):
  kioskd sim insert YUAN [-data DIR]        a note into the bill validator (e.g. 10)
  kioskd sim coin YUAN [-cut N]             a coin into the coin acceptor (0.5 or 1);
                                            -cut N stops its pulse train after N pulses
  kioskd sim card place SAMPLE              put a sample ID card on the reader:
                                            resident, rareName, hkmotw, foreign2017, foreign2023
  kioskd sim card remove                    take it away
  kioskd sim scan CODE                      hold a code up to the scanner (a bill barcode,
                                            a payment code, a receipt QR's URL)
  kioskd sim gpio INPUT on|off              move a cabinet switch: door, tamper, presence
                                            (also: kioskd sim door open|close)
  kioskd sim fault DEVICE FAULT             inject a fault; FAULT:off clears a lasting one,
                                            none clears them all, e.g.
                                              kioskd sim fault printer paperEnd
                                              kioskd sim fault idCardReader mute
                                              kioskd sim fault scanner slow:40
                                              kioskd sim fault billValidator none
  kioskd sim faults                         every device's faults, with what they do
  kioskd sim unplug DEVICE                  pull a serial device's cable
  kioskd sim replug DEVICE                  put it back (on a new pseudo terminal)
  kioskd sim state                          every device's state, cash box, receipts

DEVICE is one of billValidator, printer, idCardReader, scanner, coinAcceptor, gpio
(unplug/replug: the first four).
`

func cmdSim(ctx context.Context, args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return cmdSimControl(ctx, args[0], args[1:])
	}
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), simUsage+"\nFlags of the simulator:\n")
		fs.PrintDefaults()
	}
	data := fs.String("data", "data", "data folder (the simulators keep sim/ in it)")
	control := fs.String("control", "127.0.0.1:8791", "control API address (loopback)")
	bill := fs.String("bill", simulator.ProtocolID003, "bill validator protocol: id003 or ssp")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	fast := fs.Bool("fast", false, "devices move in milliseconds instead of real mechanical times (tests)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := newLogger(os.Stderr, "sim", *level)
	s, err := simulator.New(simulator.Options{Dir: filepath.Join(*data, "sim"), Logger: log, Fast: *fast, BillValidator: *bill})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.Run(ctx)
	}()
	err = s.ListenAndServe(ctx, *control, func(addr string) {
		links := []any{"control", "http://" + addr, "billValidatorProtocol", s.Protocol()}
		for _, role := range simulator.Roles() {
			links = append(links, role, s.Link(role))
		}
		log.Info("simulators ready", links...)
		if err := writeAddr(*data, "sim", addr); err != nil {
			log.Error("write address file", "err", err)
		}
	})
	cancel()
	wg.Wait()
	return err
}

// yuanToFen parses an amount in yuan ("10", "0.5").
func yuanToFen(s string) (int64, error) {
	yuan, err := strconv.ParseFloat(s, 64)
	if err != nil || yuan <= 0 || yuan > 100000 {
		return 0, fmt.Errorf("%q: want an amount in yuan, e.g. 10 or 0.5", s)
	}
	return int64(math.Round(yuan * 100)), nil
}

// cmdSimControl talks to a running simulator.
func cmdSimControl(ctx context.Context, verb string, args []string) error {
	if verb == "help" {
		fmt.Print(simUsage)
		return nil
	}
	fs := flag.NewFlagSet("sim "+verb, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), simUsage) }
	data := fs.String("data", "data", "data folder of the running simulator")
	cut := fs.Int("cut", 0, "coin: stop the pulse train after this many pulses")
	// Flags may come after the positional arguments: kioskd sim insert 10 -data d
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return err
		}
		args = fs.Args()
		if len(args) > 0 {
			pos = append(pos, args[0])
			args = args[1:]
		}
	}
	usage := func(line string) error {
		return fmt.Errorf("usage: kioskd sim %s [-data DIR]  (kioskd sim help lists every command)", line)
	}
	addr, err := readAddr(*data, "sim")
	if err != nil {
		return err
	}
	base := "http://" + addr
	switch verb {
	case "insert":
		if len(pos) != 1 {
			return usage("insert YUAN")
		}
		fen, err := yuanToFen(pos[0])
		if err != nil {
			return fmt.Errorf("insert %w", err)
		}
		return post(ctx, base+"/insert", map[string]any{"value": fen})
	case "coin":
		if len(pos) != 1 {
			return usage("coin YUAN [-cut N]")
		}
		fen, err := yuanToFen(pos[0])
		if err != nil {
			return fmt.Errorf("coin %w", err)
		}
		return post(ctx, base+"/coin", map[string]any{"value": fen, "cutAfter": *cut})
	case "card":
		switch {
		case len(pos) == 2 && pos[0] == "place":
			return post(ctx, base+"/card/place", map[string]any{"sample": pos[1]})
		case len(pos) == 1 && pos[0] == "remove":
			return post(ctx, base+"/card/remove", map[string]any{})
		}
		return usage("card place SAMPLE | card remove")
	case "scan":
		if len(pos) != 1 {
			return usage("scan CODE")
		}
		return post(ctx, base+"/scan", map[string]any{"code": pos[0]})
	case "gpio", "door", "tamper", "presence":
		input := verb
		if verb == "gpio" {
			if len(pos) != 2 {
				return usage("gpio INPUT on|off")
			}
			input, pos = pos[0], pos[1:]
		}
		if len(pos) != 1 {
			return usage(verb + " on|off")
		}
		var active bool
		switch pos[0] {
		case "on", "open", "1", "active":
			active = true
		case "off", "close", "closed", "0", "inactive":
		default:
			return usage(verb + " on|off")
		}
		return post(ctx, base+"/gpio", map[string]any{"input": input, "active": active})
	case "fault":
		if len(pos) != 2 {
			showFaults(ctx, base+"/faults")
			return usage("fault DEVICE FAULT")
		}
		return post(ctx, base+"/fault", map[string]any{"device": pos[0], "fault": pos[1]})
	case "faults":
		return showFaults(ctx, base+"/faults")
	case "unplug", "replug":
		if len(pos) != 1 {
			return usage(verb + " DEVICE")
		}
		return post(ctx, base+"/plug", map[string]any{"device": pos[0], "in": verb == "replug"})
	case "state":
		return get(ctx, base+"/state")
	}
	return fmt.Errorf("unknown sim command %q\n\n%s", verb, simUsage)
}

func post(ctx context.Context, url string, body any) error {
	b, _ := json.Marshal(body)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(cctx, http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return show(http.DefaultClient.Do(req))
}

func get(ctx context.Context, url string) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(cctx, http.MethodGet, url, nil)
	return show(http.DefaultClient.Do(req))
}

func show(resp *http.Response, err error) error {
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("simulator: %s", e.Error)
		}
		return fmt.Errorf("simulator: %s %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") == nil {
		b = out.Bytes()
	}
	fmt.Println(strings.TrimSpace(string(b)))
	return nil
}

// showFaults prints every device's faults as text.
func showFaults(ctx context.Context, url string) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(cctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	defer resp.Body.Close()
	var faults map[string][]string
	if err := json.NewDecoder(resp.Body).Decode(&faults); err != nil {
		return fmt.Errorf("simulator: faults: %w", err)
	}
	for _, role := range simulator.Roles() {
		fmt.Printf("%s:\n", role)
		for _, f := range faults[role] {
			fmt.Printf("  %s\n", f)
		}
	}
	fmt.Println("\nkioskd sim fault DEVICE NAME[:ARG]  injects one; NAME:off clears a lasting one, none clears all.")
	return nil
}
