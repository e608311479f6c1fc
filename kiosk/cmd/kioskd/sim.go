package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"tongban/drivers/simulator"
)

func cmdSim(ctx context.Context, args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return cmdSimControl(ctx, args[0], args[1:])
	}
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	data := fs.String("data", "data", "data folder (the simulators keep sim/ in it)")
	control := fs.String("control", "127.0.0.1:8791", "control API address (loopback)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	fast := fs.Bool("fast", false, "devices move in milliseconds instead of real mechanical times (tests)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := newLogger(os.Stderr, "sim", *level)
	s, err := simulator.New(simulator.Options{Dir: filepath.Join(*data, "sim"), Logger: log, Fast: *fast})
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
		log.Info("simulators ready", "billValidator", s.Link(simulator.BillValidator), "printer", s.Link(simulator.Printer), "control", "http://"+addr)
		if err := writeAddr(*data, "sim", addr); err != nil {
			log.Error("write address file", "err", err)
		}
	})
	cancel()
	wg.Wait()
	return err
}

// cmdSimControl talks to a running simulator.
func cmdSimControl(ctx context.Context, verb string, args []string) error {
	fs := flag.NewFlagSet("sim "+verb, flag.ContinueOnError)
	data := fs.String("data", "data", "data folder of the running simulator")
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
	addr, err := readAddr(*data, "sim")
	if err != nil {
		return err
	}
	base := "http://" + addr
	switch verb {
	case "insert":
		if len(pos) != 1 {
			return fmt.Errorf("usage: kioskd sim insert YUAN [-data DIR]")
		}
		yuan, err := strconv.ParseFloat(pos[0], 64)
		if err != nil || yuan <= 0 {
			return fmt.Errorf("insert %q: want a note value in yuan, e.g. 10", pos[0])
		}
		return post(ctx, base+"/insert", map[string]any{"value": int64(yuan*100 + 0.5)})
	case "fault":
		if len(pos) != 2 {
			return fmt.Errorf("usage: kioskd sim fault DEVICE FAULT [-data DIR]  (e.g. printer paperEnd, printer paperEnd:off, billValidator stackerOpen, billValidator none)")
		}
		return post(ctx, base+"/fault", map[string]any{"device": pos[0], "fault": pos[1]})
	case "unplug", "replug":
		if len(pos) != 1 {
			return fmt.Errorf("usage: kioskd sim %s DEVICE [-data DIR]", verb)
		}
		return post(ctx, base+"/plug", map[string]any{"device": pos[0], "in": verb == "replug"})
	case "state":
		return get(ctx, base+"/state")
	}
	return fmt.Errorf("unknown sim command %q (insert, fault, unplug, replug, state)", verb)
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
		return fmt.Errorf("simulator: %s", strings.TrimSpace(string(b)))
	}
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") == nil {
		b = out.Bytes()
	}
	fmt.Println(strings.TrimSpace(string(b)))
	return nil
}
