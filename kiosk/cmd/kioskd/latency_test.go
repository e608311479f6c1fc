package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/trace"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tongban/drivers/cash"
	"tongban/drivers/id003"
	id003sim "tongban/drivers/id003/sim"
	"tongban/drivers/simport"
	"tongban/kiosk/journal"
	"tongban/kiosk/refplatform"
	"tongban/kiosk/terminal"
	"tongban/kiosk/uplink"
	"tongban/ui"
)

// stamped is the acceptor's end of the line; it notes when each vend-valid
// frame (FC 05 15 ..) leaves the device.
type stamped struct {
	io.ReadWriter
	mu    sync.Mutex
	vends []time.Time
}

func (s *stamped) Write(p []byte) (int, error) {
	if len(p) >= 3 && p[0] == 0xFC && p[2] == 0x15 {
		s.mu.Lock()
		s.vends = append(s.vends, time.Now())
		s.mu.Unlock()
	}
	return s.ReadWriter.Write(p)
}

// TestBudgetEventLatency measures a device event's way through the whole
// daemon: from the bill validator's vend-valid frame leaving the device, over
// the pty, through the driver, the journal (fsync) and the core, to the
// WebSocket message that shows the new credit leaving for the screen.
// Budget: p99 under 5 ms.
func TestBudgetEventLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	notes := 40
	if os.Getenv("BENCH") != "" {
		notes = 200
	}
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	plat, err := refplatform.New(refplatform.Options{DataDir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer plat.Close()
	ps := httptest.NewServer(plat.Handler())
	defer ps.Close()

	ep, err := simport.Open(filepath.Join(dir, "bv"), id003.DefaultLine())
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	sim := id003sim.New(id003sim.Config{Delays: id003sim.FastDelays(), Logger: log})
	line := &stamped{ReadWriter: ep}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sim.Serve(ctx, line)

	j, err := journal.Open(filepath.Join(dir, "journal.db"), &journal.Options{NoSync: os.Getenv("LATENCY_NOSYNC") != ""}) // NOSYNC only to split the figure into fsync and the rest
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	bv := id003.New(id003.Config{Name: "billValidator", Path: ep.Link(), PollInterval: 20 * time.Millisecond, Logger: log})
	arrived := &arrivals{Acceptor: bv, credits: make(chan handled, 1000)}
	core, err := terminal.New(terminal.Config{TerminalID: "TB-LATENCY", Journal: j, Platform: uplink.NewClient(ps.URL, "TB-LATENCY"),
		Cash: arrived, Logger: log, IdleTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	go core.Run(ctx)
	screen := httptest.NewUnstartedServer(ui.New(core, ui.Options{Logger: log}))
	writes := &writeStamps{at: map[uint64]time.Time{}}
	screen.Listener = &stampListener{Listener: screen.Listener, w: writes}
	screen.Start()
	defer screen.Close()
	addr := screen.Listener.Addr().String()
	d := websocket.Dialer{Subprotocols: []string{ui.Subprotocol}}
	conn, _, err := d.Dial("ws://"+addr+"/ws", http.Header{"Origin": {"http://" + addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	type credit struct {
		at      time.Time
		version uint64
	}
	credits := make(chan credit, 1000)
	states := make(chan terminal.Snapshot, 1000)
	go func() {
		var last int64
		for {
			var m ui.Message
			if err := conn.ReadJSON(&m); err != nil {
				return
			}
			at := time.Now()
			if m.Header.Type != "unsolicited" {
				continue
			}
			var s terminal.Snapshot
			json.Unmarshal(m.Payload, &s)
			if s.Cash != nil && s.Cash.Credit > last {
				last = s.Cash.Credit
				credits <- credit{at, s.Version}
			}
			select {
			case states <- s:
			default:
			}
		}
	}()
	cmd := func(name string, payload any) {
		b, _ := json.Marshal(payload)
		if _, err := core.Do(ctx, name, b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	cmd("Session.Start", map[string]string{"utility": "water"})
	cmd("Bill.Lookup", map[string]string{"account": "100100100002"})
	cmd("Cash.Start", nil)
	deadline := time.Now().Add(10 * time.Second)
	for bv.Health().Detail != "accepting notes" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var lat, wire []time.Duration
	var hops [4][]time.Duration // driver, core, screen writer, loopback and client
	for i := 0; i < notes; i++ {
		if err := sim.Insert(1000); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-credits:
			line.mu.Lock()
			sent := line.vends[0] // the first vend valid of this note; repeats wait for our ACK
			line.vends = line.vends[:0]
			line.mu.Unlock()
			var in, enter, leave time.Time
			select {
			case hd := <-arrived.credits:
				in, enter, leave = hd.at, hd.enter, hd.leave
			case <-time.After(5 * time.Second):
				t.Fatalf("note %d: the handler never returned", i)
			}
			written := writes.of(c.version)
			lat = append(lat, c.at.Sub(in))
			wire = append(wire, c.at.Sub(sent))
			hops[0] = append(hops[0], enter.Sub(in))
			hops[1] = append(hops[1], leave.Sub(enter))
			hops[2] = append(hops[2], written.Sub(leave)) // negative: the writer sent before the handler returned
			hops[3] = append(hops[3], c.at.Sub(written))
		case <-time.After(5 * time.Second):
			t.Fatalf("note %d never credited", i)
		}
	}
	// The hops of the slowest notes say where the tail comes from.
	worst := slices.Clone(lat)
	slices.Sort(worst)
	cut := worst[(len(worst)*95)/100]
	for i, l := range lat {
		if l >= cut {
			t.Logf("  slow note %3d: total %v = driver %v + core %v + screen writer %v + loopback/client %v", i,
				l.Round(time.Microsecond), hops[0][i].Round(time.Microsecond), hops[1][i].Round(time.Microsecond),
				hops[2][i].Round(time.Microsecond), hops[3][i].Round(time.Microsecond))
		}
	}
	for i, name := range []string{"driver: frame read to handler", "core: handler (lock, journal, publish)", "screen: publish to socket write", "loopback and test client"} {
		h := slices.Clone(hops[i])
		slices.Sort(h)
		t.Logf("  hop %-40s p50 %9v  p99 %9v  max %9v", name, h[len(h)/2].Round(time.Microsecond),
			h[(len(h)*99)/100].Round(time.Microsecond), h[len(h)-1].Round(time.Microsecond))
	}
	slices.Sort(lat)
	slices.Sort(wire)
	p50, p99 := lat[len(lat)/2], lat[(len(lat)*99)/100]
	t.Logf("budget: device frame arriving at the driver to WebSocket message over %d notes: p50 %v, p99 %v (budget p99 5ms, ratio %.2f); includes one journal fsync per event",
		len(lat), p50.Round(time.Microsecond), p99.Round(time.Microsecond), float64(p99)/float64(5*time.Millisecond))
	t.Logf("  from the simulator writing the frame (adds the kernel's pty transfer): p50 %v, p99 %v",
		wire[len(wire)/2].Round(time.Microsecond), wire[(len(wire)*99)/100].Round(time.Microsecond))
	// Under `make test` the machine is busy with every other package's
	// tests, so only `make bench` (BENCH=1) holds the figure to the budget.
	if os.Getenv("BENCH") != "" && p99 > 5*time.Millisecond {
		t.Errorf("p99 %v over the 5 ms budget", p99)
	}
}

// arrivals wraps the acceptor to note when the credited note's frame
// reached the driver (cash.Event.At).
// It also notes when the core's handler was entered and returned, to split
// the figure into hops.
// The screen may get the credit before the handler returns, so the stamps
// go out on a channel once it has.
type arrivals struct {
	cash.Acceptor
	credits chan handled
}

type handled struct{ at, enter, leave time.Time }

func (a *arrivals) Run(ctx context.Context, h cash.Handler) error {
	return a.Acceptor.Run(ctx, func(ev cash.Event) cash.Decision {
		if ev.Kind != cash.Credited {
			return h(ev)
		}
		// Marks to find the note in `go test -trace`.
		trace.Log(ctx, "latency", "credit handler entered")
		enter := time.Now()
		d := h(ev)
		leave := time.Now()
		trace.Log(ctx, "latency", "credit handled")
		a.credits <- handled{ev.At, enter, leave}
		return d
	})
}

// stampListener notes when the screen server writes each state message to
// its socket, by the snapshot version in it.
type stampListener struct {
	net.Listener
	w *writeStamps
}

func (l *stampListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &stampConn{Conn: c, w: l.w}, nil
}

type stampConn struct {
	net.Conn
	w *writeStamps
}

var versionKey = []byte(`"payload":{"version":`)

// Write stamps before writing: the reader may see the bytes before a stamp
// taken after the write would be stored.
func (c *stampConn) Write(p []byte) (int, error) {
	at := time.Now()
	if i := bytes.Index(p, versionKey); i >= 0 {
		var v uint64
		for _, b := range p[i+len(versionKey):] {
			if b < '0' || b > '9' {
				break
			}
			v = v*10 + uint64(b-'0')
		}
		c.w.mu.Lock()
		c.w.at[v] = at
		c.w.mu.Unlock()
	}
	return c.Conn.Write(p)
}

type writeStamps struct {
	mu sync.Mutex
	at map[uint64]time.Time
}

func (w *writeStamps) of(version uint64) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.at[version]
}
