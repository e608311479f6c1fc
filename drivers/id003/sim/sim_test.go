package sim

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"tongban/drivers/id003/codec"
)

// Frames from protocols.md §6.3, as the acceptor must send them.
var (
	wireIdle      = []byte{0xFC, 0x05, 0x11, 0x27, 0x56}
	wirePowerUp   = []byte{0xFC, 0x05, 0x40, 0x2B, 0x15}
	wireACK       = []byte{0xFC, 0x05, 0x50, 0xAA, 0x05}
	wireEnable    = []byte{0xFC, 0x06, 0xC3, 0x00, 0x04, 0xD6}
	wireInhibit   = []byte{0xFC, 0x06, 0xC3, 0x01, 0x8D, 0xC7}
	wireEscrow63  = []byte{0xFC, 0x06, 0x13, 0x63, 0xA2, 0xD8}
	wireVendValid = []byte{0xFC, 0x05, 0x15, 0x03, 0x10}
	wireStacked   = []byte{0xFC, 0x05, 0x16, 0x98, 0x22}
)

func enc(t *testing.T, cmd byte, data ...byte) []byte {
	t.Helper()
	b, err := codec.Encode(codec.Frame{Cmd: cmd, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type tester struct {
	t *testing.T
	s *Sim
}

// ask sends a frame and checks the exact answer (nil: no answer).
func (x tester) ask(want []byte, cmd byte, data ...byte) {
	x.t.Helper()
	got := x.s.Respond(codec.Frame{Cmd: cmd, Data: data})
	if !bytes.Equal(got, want) {
		x.t.Fatalf("%02X % X: got % X, want % X", cmd, data, got, want)
	}
}

// waitStatus polls like a host until the status frame equals want.
func (x tester) waitStatus(want []byte) {
	x.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	var got []byte
	for time.Now().Before(deadline) {
		got = x.s.Respond(codec.Frame{Cmd: 0x11})
		if bytes.Equal(got, want) {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	x.t.Fatalf("status never became % X (last % X)", want, got)
}

// ready brings a simulator through power up, reset and settings.
func ready(t *testing.T, cfg Config) tester {
	t.Helper()
	if cfg.Delays == (Delays{}) {
		cfg.Delays = FastDelays()
	}
	x := tester{t, New(cfg)}
	x.ask(wirePowerUp, 0x11)
	x.ask(wirePowerUp, 0x11) // stays in power up until reset
	x.ask(wireACK, 0x40)
	x.ask(nil, 0x50) // host ACK outside vend valid: no answer
	x.ask(enc(t, 0x1B), 0x11)
	x.ask(enc(t, 0xC0, 0x00, 0x00), 0xC0, 0x00, 0x00)
	x.ask(enc(t, 0xC1, 0x00, 0x00), 0xC1, 0x00, 0x00)
	x.ask(enc(t, 0xC2, 0x00), 0xC2, 0x00)
	x.ask(enc(t, 0x1B), 0x11) // still initializing until C3
	x.ask(wireEnable, 0xC3, 0x00)
	x.ask(wireIdle, 0x11)
	return x
}

func TestPowerUpAndSettings(t *testing.T) {
	x := ready(t, Config{})
	x.ask(wireInhibit, 0xC3, 0x01)
	x.ask(enc(t, 0x1A), 0x11)
	x.ask(enc(t, 0x83, 0x01), 0x83)
	x.ask(enc(t, 0x80, 0x00, 0x00), 0x80)
	x.ask(enc(t, 0x88, []byte(DefaultVersion)...), 0x88)
	x.ask(enc(t, 0x8A, 0x61, 0x2D, 1, 0, 0x62, 0x2D, 5, 0, 0x63, 0x2D, 1, 1, 0x64, 0x2D, 2, 1, 0x65, 0x2D, 5, 1, 0x66, 0x2D, 1, 2), 0x8A)
	x.ask(enc(t, 0x4B), 0x99)       // unknown command
	x.ask(enc(t, 0x4B), 0x41)       // stack outside escrow
	x.ask(enc(t, 0x4B), 0x43)       // return outside escrow
	x.ask(enc(t, 0x4B), 0xC0, 0x00) // C0 wants 2 bytes
	x.ask(enc(t, 0x4B), 0x11, 0x00) // status request carries no data
	x.ask(enc(t, 0xC5, 0x02, 0x00), 0xC5, 0x02, 0x00)
}

func TestNoteStacked(t *testing.T) {
	var mu sync.Mutex
	var cb []int64
	x := ready(t, Config{OnStacked: func(v int64) { mu.Lock(); cb = append(cb, v); mu.Unlock() }})
	if err := x.s.Insert(1000); err != nil {
		t.Fatal(err)
	}
	x.ask(enc(t, 0x12), 0x11) // accepting
	x.waitStatus(wireEscrow63)
	x.ask(wireEscrow63, 0x11) // escrow waits for the host
	x.ask(wireACK, 0x41)
	x.ask(enc(t, 0x14), 0x11)
	x.waitStatus(wireVendValid)
	x.ask(wireVendValid, 0x11) // repeated until ACK
	x.ask(wireVendValid, 0x11)
	if len(x.s.CashBox()) != 0 {
		t.Fatal("counted before ACK")
	}
	x.ask(nil, 0x50)
	x.ask(wireStacked, 0x11)
	x.waitStatus(wireIdle)
	if got := x.s.CashBox(); got[1000] != 1 || len(got) != 1 {
		t.Fatalf("cash box %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(cb) != 1 || cb[0] != 1000 {
		t.Fatalf("OnStacked calls %v", cb)
	}
	if c := x.s.EmptyCashBox(); c[1000] != 1 || len(x.s.CashBox()) != 0 {
		t.Fatal("EmptyCashBox")
	}
}

func TestStackedIsSeenOnce(t *testing.T) {
	// 16 stays until a status request has seen it, however late.
	x := ready(t, Config{})
	x.s.Insert(500)
	x.waitStatus(enc(t, 0x13, 0x62))
	x.ask(wireACK, 0x42) // stack-2 behaves the same here
	x.waitStatus(wireVendValid)
	x.ask(nil, 0x50)
	time.Sleep(50 * time.Millisecond) // far past Delays.Stacked
	x.ask(wireStacked, 0x11)
	x.waitStatus(wireIdle)
}

func TestRejects(t *testing.T) {
	x := ready(t, Config{})
	x.ask(enc(t, 0xC0, 0x08, 0x00), 0xC0, 0x08, 0x00) // 64 (20 yuan) disabled
	x.s.Insert(2000)
	x.waitStatus(enc(t, 0x17, 0x79))
	x.waitStatus(wireIdle)
	x.s.Insert(200) // 2 yuan: not in the table
	x.waitStatus(enc(t, 0x17, 0x76))
	x.waitStatus(wireIdle)
	x.ask(wireInhibit, 0xC3, 0x01)
	x.s.Insert(1000)
	x.waitStatus(enc(t, 0x17, 0x79))
	x.waitStatus(enc(t, 0x1A))
	if len(x.s.CashBox()) != 0 {
		t.Fatal("a rejected note reached the cash box")
	}
	if err := x.s.Insert(0); err == nil {
		t.Fatal("Insert(0) accepted")
	}
}

func TestReturnAndEscrowTimeout(t *testing.T) {
	x := ready(t, Config{EscrowTimeout: 30 * time.Millisecond})
	x.s.Insert(10000)
	x.waitStatus(enc(t, 0x13, 0x66))
	x.ask(wireACK, 0x43)
	x.ask(enc(t, 0x18), 0x11)
	x.waitStatus(wireIdle)

	x.s.Insert(5000)
	x.waitStatus(enc(t, 0x13, 0x65))
	x.ask(wireACK, 0x44) // hold
	x.ask(enc(t, 0x19), 0x11)
	x.waitStatus(enc(t, 0x18)) // nobody decided: the device returns it
	x.waitStatus(wireIdle)
	if len(x.s.CashBox()) != 0 {
		t.Fatal("returned note counted")
	}
}

func TestFaults(t *testing.T) {
	x := ready(t, Config{})
	for _, c := range []struct {
		f    Fault
		want byte
	}{{FaultStackerOpen, 0x44}, {FaultStackerFull, 0x43}, {FaultJamInAcceptor, 0x45}, {FaultJamInStacker, 0x46}} {
		x.s.SetFault(c.f)
		x.ask(enc(t, c.want), 0x11)
		if err := x.s.Insert(1000); !errors.Is(err, ErrNotAccepting) {
			t.Fatalf("%v: Insert = %v", c.f, err)
		}
		x.s.SetFault(FaultNone)
		x.ask(wireIdle, 0x11)
	}

	// A jam with a note in escrow: clearing it removes the note.
	x.s.Insert(1000)
	x.waitStatus(wireEscrow63)
	x.s.SetFault(FaultJamInAcceptor)
	x.ask(enc(t, 0x45), 0x11)
	x.s.SetFault(FaultNone)
	x.ask(wireIdle, 0x11)
}

func TestPowerCut(t *testing.T) {
	// Note in escrow: 41, and on reset the note comes back.
	x := ready(t, Config{})
	x.s.Insert(1000)
	x.waitStatus(wireEscrow63)
	x.s.SetFault(FaultPowerCut)
	x.ask(enc(t, 0x41), 0x11)
	x.s.SetFault(FaultPowerCut) // a second cut keeps the note
	x.ask(enc(t, 0x41), 0x11)
	x.ask(wireACK, 0x40)
	x.ask(enc(t, 0x18), 0x11)
	x.waitStatus(enc(t, 0x1B))
	x.ask(enc(t, 0x83, 0x01), 0x83) // settings were lost: inhibited again
	if len(x.s.CashBox()) != 0 {
		t.Fatal("returned note counted")
	}

	// Note past the lever: 42, and on reset it is stacked.
	x = ready(t, Config{Delays: Delays{Accept: time.Millisecond, Stack: time.Hour}})
	x.s.Insert(2000)
	x.waitStatus(enc(t, 0x13, 0x64))
	x.ask(wireACK, 0x41)
	x.ask(enc(t, 0x14), 0x11)
	x.s.SetFault(FaultPowerCut)
	x.ask(enc(t, 0x42), 0x11)
	x.ask(wireACK, 0x40)
	x.ask(enc(t, 0x1B), 0x11)
	if got := x.s.CashBox(); got[2000] != 1 {
		t.Fatalf("cash box %v", got)
	}

	// Idle: plain power up.
	x.ask(wireEnable, 0xC3, 0x00)
	x.ask(wireIdle, 0x11)
	x.s.SetFault(FaultPowerCut)
	x.ask(wirePowerUp, 0x11)
}

// TestServeDiscardsGarbage runs Serve on a pipe: noise, a frame with a bad
// CRC and a bad length get no answer; the valid frame after them does.
func TestServeDiscardsGarbage(t *testing.T) {
	host, dev := net.Pipe()
	s := New(Config{Delays: FastDelays()})
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), dev) }()
	defer func() {
		host.Close()
		dev.Close()
		<-done
	}()

	in := []byte{0x00, 0xFF, 0x13}
	in = append(in, 0xFC, 0x05, 0x11, 0x27, 0x57) // bad CRC
	in = append(in, 0xFC, 0x02)                   // impossible length
	in = append(in, wireIdle...)                  // the one real status request
	if _, err := host.Write(in); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	host.SetReadDeadline(time.Now().Add(time.Second))
	n, err := host.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf[:n], wirePowerUp) {
		t.Fatalf("got % X, want only the power-up status", buf[:n])
	}
	host.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := host.Read(buf); err == nil {
		t.Fatalf("unexpected extra answer % X", buf[:n])
	}
}

func TestCNYTable(t *testing.T) {
	want := map[byte]int64{0x61: 100, 0x62: 500, 0x63: 1000, 0x64: 2000, 0x65: 5000, 0x66: 10000}
	tab := CNYTable()
	if len(tab) != len(want) {
		t.Fatalf("%d entries", len(tab))
	}
	for _, e := range tab {
		if fen, ok := e.Fen(); !ok || fen != want[e.Code] || e.Country != codec.CountryCNY {
			t.Errorf("entry %+v", e)
		}
	}
}
