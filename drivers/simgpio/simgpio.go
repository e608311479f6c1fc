// Package simgpio carries simulated GPIO lines from the simulator process
// to the daemon. The pulse and gpiolines simulators drive periph gpiotest
// pins, which live in one process; the demo, like the field, runs the
// devices and the daemon as separate processes. A Board in the simulator
// serves its lines on a unix socket (a stable path under sim/dev/, next to
// the serial devices' links), and a Client in the daemon turns each
// "sim:NAME" pin of the hardware profile into a gpio.PinIO that follows the
// board, so the pulse and gpiolines drivers run unchanged. Real GPIO lines
// need none of this.
//
// The wire is one text line per level: "NAME 0" or "NAME 1". The board
// sends its inputs (the lines the simulators drive), all of them when a
// client connects (ended by a line ".") and then every edge; the client
// sends its outputs (lights, inhibit), all of them on connect and then
// every change.
package simgpio

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"tongban/drivers/gpiowait"
)

// ErrNotConnected is returned by a client pin while the simulator's board
// is not reachable (the simulator is not running yet, or stopped).
var ErrNotConnected = errors.New("simulated GPIO board not connected")

// edgeBuffer is how many edges a pin holds for a driver that is slow or
// not watching; the pin's level is always set at once as well.
const edgeBuffer = 64

// snapshotEnd ends the board's list of levels sent on connect.
const snapshotEnd = "."

func levelByte(l gpio.Level) byte {
	if l {
		return '1'
	}
	return '0'
}

func parseLine(s string) (string, gpio.Level, error) {
	name, v, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok || name == "" || (v != "0" && v != "1") {
		return "", false, fmt.Errorf("simgpio: bad line %q", s)
	}
	return name, v == "1", nil
}

// Board is the simulator's side: named gpiotest pins, inputs driven by the
// simulators and outputs driven by the daemon.
type Board struct {
	log *slog.Logger

	mu      sync.Mutex
	inputs  map[string]*gpiotest.Pin
	outputs map[string]*gpiotest.Pin
	conns   map[net.Conn]bool
}

// NewBoard makes an empty board.
func NewBoard(log *slog.Logger) *Board {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Board{log: log, inputs: map[string]*gpiotest.Pin{}, outputs: map[string]*gpiotest.Pin{}, conns: map[net.Conn]bool{}}
}

// AddInput puts a line the simulators drive on the board, under the pin's
// name. Edges sent on its EdgesChan reach the daemon; the pin must have
// one (the gpiolines simulator's board makes buffered ones). Add inputs
// before Serve: only those are forwarded.
func (b *Board) AddInput(p *gpiotest.Pin) error {
	if p.EdgesChan == nil {
		return fmt.Errorf("simgpio: input %q has no EdgesChan", p.N)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inputs[p.N] = p
	return nil
}

// AddOutput puts a line the daemon drives (a light, an inhibit input) on
// the board, under the pin's name.
func (b *Board) AddOutput(p *gpiotest.Pin) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.outputs[p.N] = p
}

// Level is a line's current level, and whether the board has it.
func (b *Board) Level(name string) (gpio.Level, bool) {
	b.mu.Lock()
	p := b.inputs[name]
	if p == nil {
		p = b.outputs[name]
	}
	b.mu.Unlock()
	if p == nil {
		return false, false
	}
	return p.Read(), true
}

// Clients is the number of daemons connected.
func (b *Board) Clients() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

// Serve listens on the unix socket path and serves the board until ctx
// ends. A stale socket file (a simulator that was killed) is replaced.
func (b *Board) Serve(ctx context.Context, path string) error {
	if err := os.MkdirAll(dirOf(path), 0o755); err != nil {
		return fmt.Errorf("simgpio: %w", err)
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("simgpio: listen %s: %w", path, err)
	}
	return b.ServeListener(ctx, ln)
}

// ServeListener serves the board on ln until ctx ends, then closes ln.
func (b *Board) ServeListener(ctx context.Context, ln net.Listener) error {
	b.mu.Lock()
	inputs := make([]*gpiotest.Pin, 0, len(b.inputs))
	for _, p := range b.inputs {
		inputs = append(inputs, p)
	}
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range inputs {
		wg.Go(func() { b.forward(ctx, p) })
	}
	go func() {
		<-ctx.Done()
		ln.Close()
		b.mu.Lock()
		for c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("simgpio: accept: %w", err)
		}
		wg.Go(func() { b.serveConn(ctx, c) })
	}
}

// forward takes every edge a simulator puts on an input pin, sets the
// pin's level (as a driver's WaitForEdge would) and sends it to the
// daemons. Edges are taken whether or not a daemon listens, so a
// simulator never blocks on an absent host.
func (b *Board) forward(ctx context.Context, p *gpiotest.Pin) {
	for {
		select {
		case <-ctx.Done():
			return
		case l := <-p.EdgesChan:
			p.Out(l)
			b.broadcast([]byte(p.N + " " + string(levelByte(l)) + "\n"))
		}
	}
}

func (b *Board) broadcast(msg []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.conns {
		c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(msg); err != nil {
			b.log.Warn("simulated GPIO client lost", "err", err)
			c.Close()
			delete(b.conns, c)
		}
	}
}

func (b *Board) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	// The snapshot is written under the lock that broadcast holds, so no
	// edge can slip between the snapshot and the first broadcast.
	b.mu.Lock()
	var snap strings.Builder
	names := make([]string, 0, len(b.inputs))
	for n := range b.inputs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		snap.WriteString(n + " " + string(levelByte(b.inputs[n].Read())) + "\n")
	}
	snap.WriteString(snapshotEnd + "\n")
	c.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := io.WriteString(c, snap.String())
	if err == nil {
		b.conns[c] = true
	}
	b.mu.Unlock()
	if err != nil {
		b.log.Warn("simulated GPIO client lost", "err", err)
		return
	}
	b.log.Info("simulated GPIO client connected")
	sc := bufio.NewScanner(c)
	for sc.Scan() && ctx.Err() == nil {
		name, l, err := parseLine(sc.Text())
		if err != nil {
			b.log.Warn("simulated GPIO: bad line from client", "err", err)
			continue
		}
		b.mu.Lock()
		p := b.outputs[name]
		b.mu.Unlock()
		if p == nil {
			b.log.Warn("simulated GPIO: client drives a line the board has not", "line", name)
			continue
		}
		p.Out(l)
		b.log.Debug("simulated GPIO output", "line", name, "level", l)
	}
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	b.log.Info("simulated GPIO client disconnected")
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		return path[:i]
	}
	return "."
}

// Client is the daemon's side: it keeps a connection to one board and
// hands out pins that follow it.
type Client struct {
	path string
	log  *slog.Logger

	tried     chan struct{} // closed once the first connection attempt is over
	triedOnce sync.Once

	mu      sync.Mutex
	conn    net.Conn
	pins    map[string]*Pin
	present map[string]bool // inputs the board announced in its snapshot
}

// NewClient makes a client for the board at path; nothing happens until Run.
func NewClient(path string, log *slog.Logger) *Client {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{path: path, log: log.With("gpioBoard", path), pins: map[string]*Pin{}, present: map[string]bool{}, tried: make(chan struct{})}
}

// Tried is closed once Run's first connection attempt is over, connected
// or not, so drivers started after it do not begin with a needless
// "not connected".
func (c *Client) Tried() <-chan struct{} { return c.tried }

func (c *Client) triedFirst() { c.triedOnce.Do(func() { close(c.tried) }) }

// Path is the board's socket path.
func (c *Client) Path() string { return c.path }

// Connected reports whether the board is reachable now.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil
}

// Pin is the named line. The same name always gives the same pin.
func (c *Client) Pin(name string) *Pin {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pinLocked(name)
}

func (c *Client) pinLocked(name string) *Pin {
	p, ok := c.pins[name]
	if !ok {
		p = &Pin{Pin: &gpiotest.Pin{N: name, Num: len(c.pins), Clock: clockwork.NewRealClock(), EdgesChan: make(chan gpio.Level, edgeBuffer)}, c: c, h: gpiowait.NewHalter()}
		c.pins[name] = p
	}
	return p
}

// Open is a gpiolines.Config.Open for this board's lines (by bare name):
// it fails while the board is not connected, so the driver reports the
// lines missing and retries.
func (c *Client) Open(name string) (gpio.PinIO, error) {
	if !c.Connected() {
		return nil, fmt.Errorf("line %q: %w (%s; is the simulator running?)", name, ErrNotConnected, c.path)
	}
	return c.Pin(name), nil
}

// Run keeps the connection up (redialling with backoff) until ctx ends.
func (c *Client) Run(ctx context.Context) {
	defer c.triedFirst()
	wait, warned := 200*time.Millisecond, false
	for ctx.Err() == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", c.path)
		if err == nil {
			warned = false
			wait = 200 * time.Millisecond
			c.session(ctx, conn)
			continue
		}
		c.triedFirst()
		if !warned {
			c.log.Warn("simulated GPIO board unavailable, retrying", "err", err)
			warned = true
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		wait = min(wait*2, 5*time.Second)
	}
}

func (c *Client) session(ctx context.Context, conn net.Conn) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	// The snapshot comes first; the pins become usable once it is in, so a
	// driver never starts from a level the board does not have.
	br := bufio.NewReader(conn)
	present := map[string]bool{}
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		s, err := br.ReadString('\n')
		if err != nil {
			c.log.Warn("simulated GPIO board: no snapshot", "err", err)
			c.triedFirst()
			return
		}
		if strings.TrimSpace(s) == snapshotEnd {
			break
		}
		name, l, err := parseLine(s)
		if err != nil {
			c.log.Warn("simulated GPIO board", "err", err)
			c.triedFirst()
			return
		}
		present[name] = true
		c.Pin(name).set(l)
	}
	conn.SetReadDeadline(time.Time{})
	c.mu.Lock()
	c.conn, c.present = conn, present
	var outs []string
	for _, p := range c.pins {
		if p.driven() {
			outs = append(outs, p.N+" "+string(levelByte(p.Read()))+"\n")
		}
	}
	c.mu.Unlock()
	c.log.Info("simulated GPIO board connected", "inputs", len(present))
	c.triedFirst()
	if len(outs) > 0 {
		c.write(strings.Join(outs, ""))
	}
	for {
		s, err := br.ReadString('\n')
		if err != nil {
			break
		}
		name, l, err := parseLine(s)
		if err != nil {
			c.log.Warn("simulated GPIO board", "err", err)
			continue
		}
		c.Pin(name).set(l)
	}
	c.mu.Lock()
	c.conn = nil
	c.mu.Unlock()
	if ctx.Err() == nil {
		c.log.Warn("simulated GPIO board disconnected")
	}
}

func (c *Client) write(s string) error {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn == nil {
		return ErrNotConnected
	}
	conn.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(conn, s); err != nil {
		conn.Close()
		return fmt.Errorf("simulated GPIO board %s: %w", c.path, err)
	}
	return nil
}

// Pin is a line of a simulated board as a driver sees it: a gpiotest pin
// whose level follows the board, and whose output goes to it.
type Pin struct {
	*gpiotest.Pin
	c *Client
	h *gpiowait.Halter // Halt ends a pending WaitForEdge, as on a real line

	mu  sync.Mutex
	out bool // the daemon has driven it: resend on every connect
}

func (p *Pin) driven() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out
}

// set takes a level from the board: the level at once, and an edge for a
// watcher (dropped if none is watching and the buffer is full).
func (p *Pin) set(l gpio.Level) {
	p.Pin.Lock()
	changed := p.Pin.L != l
	p.Pin.L = l
	p.Pin.Unlock()
	if !changed {
		return
	}
	select {
	case p.EdgesChan <- l:
	default:
	}
}

// String names the pin as the profile does.
func (p *Pin) String() string { return "sim:" + p.N }

// Halt implements gpio.PinIn: it ends a pending WaitForEdge, so a driver
// can wait for edges with no short timeout and still stop at once.
func (p *Pin) Halt() error { return p.h.Halt() }

// WaitForEdge implements gpio.PinIn, ended early by Halt; -1 waits with
// no timeout.
func (p *Pin) WaitForEdge(timeout time.Duration) bool { return p.h.Wait(p.Pin, timeout) }

// In implements gpio.PinIn. It fails while the board is not connected or
// has no such input. gpiotest's In sets the level from the pull as if
// nothing were connected; here the board drives the line, so its level
// is kept.
func (p *Pin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.c.mu.Lock()
	connected, present := p.c.conn != nil, p.c.present[p.N]
	p.c.mu.Unlock()
	switch {
	case !connected:
		return fmt.Errorf("line %q: %w (%s)", p.N, ErrNotConnected, p.c.path)
	case !present:
		return fmt.Errorf("line %q: the simulated board %s has no such input", p.N, p.c.path)
	}
	lv := p.Pin.Read()
	err := p.Pin.In(pull, edge)
	p.Pin.Lock()
	p.Pin.L = lv
	p.Pin.Unlock()
	return err
}

// Out implements gpio.PinOut: the level goes to the board. While the
// board is away it is kept and sent on the next connect, and the error
// says it did not reach the line yet.
func (p *Pin) Out(l gpio.Level) error {
	p.mu.Lock()
	p.out = true
	p.mu.Unlock()
	p.Pin.Out(l)
	return p.c.write(p.N + " " + string(levelByte(l)) + "\n")
}
