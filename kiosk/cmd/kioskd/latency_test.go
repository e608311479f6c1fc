package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	arrived := &arrivals{Acceptor: bv}
	core, err := terminal.New(terminal.Config{TerminalID: "TB-LATENCY", Journal: j, Platform: uplink.NewClient(ps.URL, "TB-LATENCY"),
		Cash: arrived, Logger: log, IdleTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	go core.Run(ctx)
	screen := httptest.NewServer(ui.New(core, ui.Options{Logger: log}))
	defer screen.Close()
	addr := screen.Listener.Addr().String()
	d := websocket.Dialer{Subprotocols: []string{ui.Subprotocol}}
	conn, _, err := d.Dial("ws://"+addr+"/ws", http.Header{"Origin": {"http://" + addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	credits := make(chan time.Time, 1000)
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
				credits <- at
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
	for i := 0; i < notes; i++ {
		if err := sim.Insert(1000); err != nil {
			t.Fatal(err)
		}
		select {
		case at := <-credits:
			line.mu.Lock()
			sent := line.vends[0] // the first vend valid of this note; repeats wait for our ACK
			line.vends = line.vends[:0]
			line.mu.Unlock()
			arrived.mu.Lock()
			in := arrived.credit
			arrived.mu.Unlock()
			lat = append(lat, at.Sub(in))
			wire = append(wire, at.Sub(sent))
		case <-time.After(5 * time.Second):
			t.Fatalf("note %d never credited", i)
		}
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
type arrivals struct {
	cash.Acceptor
	mu     sync.Mutex
	credit time.Time
}

func (a *arrivals) Run(ctx context.Context, h cash.Handler) error {
	return a.Acceptor.Run(ctx, func(ev cash.Event) cash.Decision {
		if ev.Kind == cash.Credited {
			a.mu.Lock()
			a.credit = ev.At
			a.mu.Unlock()
		}
		return h(ev)
	})
}
