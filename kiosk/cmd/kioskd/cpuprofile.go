//go:build cpuprofile

package main

// A CPU profile of the daemon, for finding what an idle terminal spends
// its CPU on; only in a binary built with -tags cpuprofile, so the field
// binary carries no profiler:
//
//	go build -tags cpuprofile -o bin/kioskd-prof ./kiosk/cmd/kioskd
//	TONGBAN_CPUPROFILE=idle.pprof TONGBAN_CPUPROFILE_AFTER=5s TONGBAN_CPUPROFILE_FOR=60s bin/kioskd-prof run ...
//	go tool pprof -top bin/kioskd-prof idle.pprof
//
// The profile starts AFTER the given delay (past start-up) and is written
// when FOR has passed. "{cmd}" in the path is replaced by the subcommand,
// so under `kioskd demo` each of the three processes writes its own.

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"
)

func init() {
	path := os.Getenv("TONGBAN_CPUPROFILE")
	if path == "" {
		return
	}
	if len(os.Args) > 1 {
		path = strings.ReplaceAll(path, "{cmd}", os.Args[1])
	}
	after, err1 := time.ParseDuration(os.Getenv("TONGBAN_CPUPROFILE_AFTER"))
	span, err2 := time.ParseDuration(os.Getenv("TONGBAN_CPUPROFILE_FOR"))
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "cpuprofile: TONGBAN_CPUPROFILE_AFTER and TONGBAN_CPUPROFILE_FOR must be durations")
		os.Exit(2)
	}
	go func() {
		time.Sleep(after)
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cpuprofile:", err)
			return
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "cpuprofile:", err)
			return
		}
		time.Sleep(span)
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "cpuprofile: written to", path)
	}()
}
