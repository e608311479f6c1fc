package simgpio

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/drivers/gpiolines"
	gpiosim "tongban/drivers/gpiolines/sim"
	"tongban/drivers/pulse"
	pulsesim "tongban/drivers/pulse/sim"
)

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rig is a simulated board served on a socket, and a client on it.
type rig struct {
	sock   string
	lines  *gpiosim.Board
	board  *Board
	client *Client
	stop   context.CancelFunc
	done   chan struct{}
}

func newRig(t *testing.T, setup func(*gpiosim.Board, *Board)) *rig {
	r := &rig{sock: filepath.Join(t.TempDir(), "gpio"), lines: gpiosim.NewBoard()}
	r.client = NewClient(r.sock, nil)
	r.serve(t, setup)
	waitFor(t, "socket", func() bool { _, err := os.Stat(r.sock); return err == nil })
	ctx, cancel := context.WithCancel(context.Background())
	go r.client.Run(ctx)
	t.Cleanup(cancel)
	return r
}

func (r *rig) serve(t *testing.T, setup func(*gpiosim.Board, *Board)) {
	r.board = NewBoard(nil)
	setup(r.lines, r.board)
	ctx, cancel := context.WithCancel(context.Background())
	r.stop, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		if err := r.board.Serve(ctx, r.sock); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-r.done })
}

func TestPulseAcceptorThroughTheBridge(t *testing.T) {
	var acc *pulsesim.Acceptor
	r := newRig(t, func(lines *gpiosim.Board, b *Board) {
		coin := lines.Add("coin")
		acc = pulsesim.New(coin, pulsesim.Config{ActiveLow: true, Timing: pulsesim.Timing{Width: 30 * time.Millisecond, Gap: 30 * time.Millisecond, Pause: 120 * time.Millisecond}})
		if err := b.AddInput(coin); err != nil {
			t.Fatal(err)
		}
		inh := lines.Add("coinInhibit")
		inh.Out(gpio.High)
		b.AddOutput(inh)
	})
	var mu sync.Mutex
	var events []cash.Event
	drv := pulse.New(pulse.Config{Name: "coinAcceptor", Pin: r.client.Pin("coin"), InhibitPin: r.client.Pin("coinInhibit"), InhibitLevel: gpio.High,
		ValuePerPulse: 50, ActiveLow: true, Denominations: []int64{50, 100}, TrainTimeout: 100 * time.Millisecond, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go drv.Run(ctx, func(e cash.Event) cash.Decision {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
		return cash.Return
	})
	<-r.client.Tried()
	if !r.client.Connected() {
		t.Fatal("the board was there, but the first try did not connect")
	}
	waitFor(t, "pulse online", func() bool { return drv.Health().State == device.Online })
	if r.lines.Level("coinInhibit") != gpio.High {
		t.Fatal("acceptor released before it was enabled")
	}
	drv.Enable([]int64{50, 100})
	waitFor(t, "inhibit released", func() bool { return r.lines.Level("coinInhibit") == gpio.Low })
	if err := acc.Insert(ctx, 2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "coin credited", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) >= 2
	})
	if e := events[0]; e.Kind != cash.Credited || e.Value != 100 {
		t.Fatalf("events %v", events)
	}

	// The simulator restarts: the daemon's outputs are sent again.
	r.stop()
	<-r.done
	waitFor(t, "client sees the board gone", func() bool { return !r.client.Connected() })
	r.lines.Pin("coinInhibit").Out(gpio.High) // a fresh board starts inhibited
	r.serve(t, func(lines *gpiosim.Board, b *Board) {
		b.AddInput(lines.Pin("coin"))
		b.AddOutput(lines.Pin("coinInhibit"))
	})
	waitFor(t, "inhibit restored", func() bool { return r.client.Connected() && r.lines.Level("coinInhibit") == gpio.Low })
}

func TestGPIOLinesThroughTheBridge(t *testing.T) {
	var door *gpiosim.Switch
	r := newRig(t, func(lines *gpiosim.Board, b *Board) {
		door = lines.Switch("door", false)
		b.AddInput(lines.Pin("door"))
		b.AddOutput(lines.Add("cardSlot"))
	})
	lines, err := gpiolines.New(gpiolines.Config{Name: "gpio", Open: r.client.Open,
		Inputs:       []gpiolines.Input{{Name: "door", Kind: gpiolines.Door, Line: "door", Debounce: 10 * time.Millisecond}},
		Lights:       []gpiolines.LightConfig{{Name: "cardSlot", Line: "cardSlot"}},
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go lines.Run(ctx, nil)
	waitFor(t, "gpio online", func() bool { return lines.Health().State == device.Online })
	if err := door.Set(ctx, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "door open", func() bool { return lines.Health().Detail == "door open" })
	if err := lines.Light("cardSlot").On(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "light on at the board", func() bool { return r.lines.Level("cardSlot") == gpio.High })
	if err := r.client.Pin("nothing").Out(gpio.High); err != nil { // the board ignores it
		t.Fatal(err)
	}
	if err := r.client.Pin("absent").In(gpio.PullUp, gpio.BothEdges); err == nil {
		t.Fatal("an input the board lacks was set up")
	}
}

func TestNotConnected(t *testing.T) {
	c := NewClient(filepath.Join(t.TempDir(), "none"), nil)
	if _, err := c.Open("door"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("open: %v", err)
	}
	p := c.Pin("coin")
	if err := p.In(gpio.PullUp, gpio.BothEdges); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("in: %v", err)
	}
	if err := p.Out(gpio.Low); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("out: %v", err)
	}
	if p.String() != "sim:coin" {
		t.Fatal(p.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	select {
	case <-c.Tried():
	case <-time.After(2 * time.Second):
		t.Fatal("first attempt never over")
	}
}

func TestParseLine(t *testing.T) {
	for _, s := range []string{"", "door", "door 2", " 1", "door 1 1"} {
		if _, _, err := parseLine(s); err == nil {
			t.Errorf("%q parsed", s)
		}
	}
	if n, l, err := parseLine("door 1\n"); err != nil || n != "door" || !l {
		t.Fatalf("%q %v %v", n, l, err)
	}
}
