package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tongban/drivers/simulator"
	"tongban/kiosk/refplatform"
	"tongban/kiosk/terminal"
	"tongban/provisioning/profile"
	"tongban/ui"
)

// stack is a whole terminal in one test: the reference platform, the
// simulators on real pseudo terminals, and the daemon, wired as in the demo.
type stack struct {
	t        *testing.T
	dir      string
	platform *refplatform.Server
	platURL  string
	sim      *simulator.Simulator
	simURL   string
	uiAddr   string
	svcAddr  string // the technician service
	profile  *profile.Profile
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startStack runs the terminal with a bill validator and a printer.
func startStack(t *testing.T) *stack {
	t.Helper()
	return startStackWith(t, nil)
}

// startStackWith runs the terminal with the profile prof makes for the
// stack's data folder and simulator; nil: a bill validator and a printer.
func startStackWith(t *testing.T, prof func(dir string, sim *simulator.Simulator) *profile.Profile) *stack {
	t.Helper()
	return startStackOpts(t, stackOptions{profile: prof})
}

// stackOptions vary the stack; the zero value is startStack's (an
// unenrolled terminal, allowed to run unsigned).
type stackOptions struct {
	profile func(dir string, sim *simulator.Simulator) *profile.Profile
	// platform adjusts the reference platform's options.
	platform func(*refplatform.Options)
	// daemon adjusts the daemon's configuration before it starts.
	daemon func(*daemonConfig)
	// before runs once the platform and simulators are up, before the
	// daemon starts (e.g. to enroll it).
	before func(s *stack)
}

func startStackOpts(t *testing.T, o stackOptions) *stack {
	t.Helper()
	prof := o.profile
	s := &stack{t: t, dir: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	log := testLogger(t)

	popts := refplatform.Options{DataDir: s.dir, Logger: log}
	if o.platform != nil {
		o.platform(&popts)
	}
	plat, err := refplatform.New(popts)
	if err != nil {
		t.Fatal(err)
	}
	s.platform = plat
	ready := make(chan string, 3)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		plat.ListenAndServe(ctx, "127.0.0.1:0", func(a string) { ready <- a })
	}()
	s.platURL = "http://" + <-ready

	sim, err := simulator.New(simulator.Options{Dir: filepath.Join(s.dir, "sim"), Fast: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	s.sim = sim
	s.wg.Add(2)
	go func() { defer s.wg.Done(); sim.Run(ctx) }()
	go func() { defer s.wg.Done(); sim.ListenAndServe(ctx, "127.0.0.1:0", func(a string) { ready <- a }) }()
	s.simURL = "http://" + <-ready

	if prof == nil {
		prof = func(string, *simulator.Simulator) *profile.Profile {
			p := &profile.Profile{Devices: map[string]profile.Device{
				"billValidator": {Driver: "id003", Path: sim.Link(simulator.BillValidator), Denominations: []int64{1000, 2000, 5000, 10000}},
				"printer":       {Driver: "escpos", Path: sim.Link(simulator.Printer), Paper: 80},
			}}
			b, _ := json.Marshal(p)
			p, err := profile.Parse(b) // fills the drivers' line settings as a loaded file would
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	s.profile = prof(s.dir, sim)
	if o.before != nil {
		o.before(s)
	}
	svcReady := make(chan string, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		dc := daemonConfig{Profile: s.profile, DataDir: s.dir, PlatformURL: s.platURL, Listen: "127.0.0.1:0",
			Service: "127.0.0.1:0", ServiceReady: func(a string) { svcReady <- a },
			DemoSim: s.simURL, Log: log, Ready: func(a string) { ready <- a }, AllowUnenrolled: true, Heartbeat: -1}
		if o.daemon != nil {
			o.daemon(&dc)
		}
		err := runDaemon(ctx, dc)
		if err != nil {
			t.Errorf("daemon: %v", err)
			ready <- ""
		}
	}()
	s.uiAddr = <-ready
	if s.uiAddr == "" {
		t.FailNow()
	}
	select {
	case s.svcAddr = <-svcReady:
	case <-time.After(5 * time.Second):
		t.Fatal("technician service not served")
	}
	t.Cleanup(s.stop)
	return s
}

func (s *stack) stop() {
	s.cancel()
	s.wg.Wait()
	s.platform.Close()
}

// client is a Go screen: it speaks the WebSocket protocol like the page.
type client struct {
	t      *testing.T
	conn   *websocket.Conn
	nextID int64
	mu     sync.Mutex
	snaps  []terminal.Snapshot
	comps  map[int64]ui.Message
	cond   *sync.Cond
	closed bool
}

func (s *stack) dial() *client {
	s.t.Helper()
	d := websocket.Dialer{Subprotocols: []string{ui.Subprotocol}}
	h := http.Header{"Origin": {"http://" + s.uiAddr}}
	conn, _, err := d.Dial("ws://"+s.uiAddr+"/ws", h)
	if err != nil {
		s.t.Fatalf("dial screen: %v", err)
	}
	c := &client{t: s.t, conn: conn, comps: map[int64]ui.Message{}}
	c.cond = sync.NewCond(&c.mu)
	go c.read()
	s.t.Cleanup(func() { conn.Close() })
	return c
}

func (c *client) read() {
	for {
		var m ui.Message
		if err := c.conn.ReadJSON(&m); err != nil {
			c.mu.Lock()
			c.closed = true
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		switch m.Header.Type {
		case "unsolicited":
			var s terminal.Snapshot
			if json.Unmarshal(m.Payload, &s) == nil {
				c.snaps = append(c.snaps, s)
			}
		case "completion":
			c.comps[m.Header.RequestID] = m
		case "acknowledge":
			if m.Header.Status != nil {
				c.comps[m.Header.RequestID] = m
			}
		}
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

// do sends a command and waits for its completion code.
func (c *client) do(name string, payload any) (string, string) {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.mu.Unlock()
	b, _ := json.Marshal(payload)
	if err := c.conn.WriteJSON(ui.Message{Header: ui.Header{Type: "command", Name: name, RequestID: id, Version: "1.0"}, Payload: b}); err != nil {
		c.t.Fatalf("send %s: %v", name, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if m, ok := c.comps[id]; ok {
			if m.Header.Status != nil {
				return *m.Header.Status, m.Header.ErrorDescription
			}
			return m.Header.CompletionCode, m.Header.ErrorDescription
		}
		if c.closed || time.Now().After(deadline) {
			c.t.Fatalf("%s: no completion", name)
		}
		c.waitLocked(deadline)
	}
}

func (c *client) waitLocked(deadline time.Time) {
	timer := time.AfterFunc(time.Until(deadline), func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	c.cond.Wait()
	timer.Stop()
}

// until waits for a snapshot that satisfies ok and returns it.
func (c *client) until(what string, ok func(terminal.Snapshot) bool) terminal.Snapshot {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for i := len(c.snaps) - 1; i >= 0; i-- {
			if ok(c.snaps[i]) {
				return c.snaps[i]
			}
		}
		if c.closed || time.Now().After(deadline) {
			var last terminal.Snapshot
			if len(c.snaps) > 0 {
				last = c.snaps[len(c.snaps)-1]
			}
			b, _ := json.Marshal(last)
			c.t.Fatalf("timed out waiting for %s; last state %s", what, b)
		}
		c.waitLocked(deadline)
	}
}

func (c *client) history() []terminal.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]terminal.Snapshot(nil), c.snaps...)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
