package sim

import (
	"context"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
)

func TestSwitchNeverBlocksAndKeepsLevel(t *testing.T) {
	b := NewBoard()
	sw := b.Switch("GPIO5", true)
	if b.Level("GPIO5") != gpio.High {
		t.Fatal("active-low switch not idle high")
	}
	ctx := context.Background()
	sw.SetBounce(2, time.Millisecond)
	if err := sw.Set(ctx, true); err != nil { // nobody watching: must not block
		t.Fatal(err)
	}
	if b.Level("GPIO5") != gpio.Low || !sw.Active() {
		t.Fatal("level not set")
	}
	if n := len(b.Pin("GPIO5").EdgesChan); n != 5 {
		t.Fatalf("%d edges queued, want 5", n)
	}
	p, err := b.Open("GPIO5")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.In(gpio.PullUp, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	if p.Read() != gpio.Low {
		t.Fatal("In with a pull-up overrode the switch")
	}
	b.SetMissing("GPIO5", true)
	if _, err := b.Open("GPIO5"); err == nil {
		t.Fatal("missing line opened")
	}
	if _, err := b.Open("GPIO9"); err == nil {
		t.Fatal("unknown line opened")
	}
	if err := sw.Chatter(ctx, 10*time.Millisecond, time.Millisecond); err != nil || b.Level("GPIO5") != gpio.Low {
		t.Fatalf("chatter: %v, level %v", err, b.Level("GPIO5"))
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := sw.Glitch(cctx, time.Millisecond); err == nil {
		t.Fatal("glitch after cancel")
	}
}
