package sim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"tongban/drivers/idcard/codec"
)

// ask sends one request through Respond and decodes the answer.
func ask(t testing.TB, s *Sim, req codec.Request) (codec.Reply, []byte) {
	t.Helper()
	wire, err := req.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var d codec.Decoder
	d.Feed(wire)
	f, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	out := s.Respond(f)
	if out == nil {
		return codec.Reply{}, nil
	}
	d.Reset()
	d.Feed(out)
	rf, err := d.Next()
	if err != nil {
		t.Fatalf("%v: reply % X: %v", req.Op, out, err)
	}
	rep, err := rf.Reply()
	if err != nil {
		t.Fatal(err)
	}
	return rep, out
}

func op(o codec.Op) codec.Request { return codec.Request{Op: o} }

func TestSequence(t *testing.T) {
	s := New(Config{Fast: true})
	// Canned replies of §1.3, byte for byte.
	if _, out := ask(t, s, op(codec.OpFindCard)); !bytes.Equal(out, []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x80, 0x84}) {
		t.Fatalf("no card: % X", out)
	}
	if _, out := ask(t, s, op(codec.OpSelectCard)); !bytes.Equal(out, []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x81, 0x85}) {
		t.Fatalf("select fail: % X", out)
	}
	if _, out := ask(t, s, op(codec.OpReadText)); !bytes.Equal(out, []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x41, 0x45}) {
		t.Fatalf("read fail: % X", out)
	}
	card := SampleRareName()
	if err := s.PlaceCard(card); err != nil {
		t.Fatal(err)
	}
	// Select before find fails, as on a SAM.
	if rep, _ := ask(t, s, op(codec.OpSelectCard)); rep.Status != codec.StatusSelectFailed {
		t.Fatalf("select before find: %v", rep)
	}
	if _, out := ask(t, s, op(codec.OpFindCard)); !bytes.Equal(out, []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x08, 0x00, 0x00, 0x9F, 0x00, 0x00, 0x00, 0x00, 0x97}) {
		t.Fatalf("card found: % X", out)
	}
	if _, out := ask(t, s, op(codec.OpSelectCard)); !bytes.Equal(out, []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x0C, 0x00, 0x00, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0x9C}) {
		t.Fatalf("select ok: % X", out)
	}
	rep, out := ask(t, s, op(codec.OpReadText))
	if len(out) != 1295 || !bytes.Equal(out[:14], []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x05, 0x08, 0x00, 0x00, 0x90, 0x01, 0x00, 0x04, 0x00}) {
		t.Fatalf("30 01: %d bytes, header % X", len(out), out[:min(len(out), 14)])
	}
	got, err := codec.DecodeReadData(rep.Data, false)
	if err != nil || got.Text != card.Text || !bytes.Equal(got.Photo, card.Photo) || got.Fingerprint != nil {
		t.Fatalf("30 01 data: %v", err)
	}
	rep, out = ask(t, s, op(codec.OpReadFingerprint))
	if len(out) != 2321 {
		t.Fatalf("30 10: %d bytes", len(out))
	}
	if got, err = codec.DecodeReadData(rep.Data, true); err != nil || !bytes.Equal(got.Fingerprint, card.Fingerprint) {
		t.Fatalf("30 10 data: %v", err)
	}
	rep, _ = ask(t, s, op(codec.OpReadAppended))
	if addr, err := codec.DecodeAppendedAddress(rep.Data); err != nil || addr != card.AppendedAddress {
		t.Fatalf("30 03: %q %v", addr, err)
	}
	rep, _ = ask(t, s, op(codec.OpSAMID))
	if id, err := codec.DecodeSAMID(rep.Data); err != nil || id != DefaultSAMID() {
		t.Fatalf("12 FF: %v %v", id, err)
	}
	for _, o := range []codec.Request{op(codec.OpSAMStatus), op(codec.OpReset), {Op: codec.OpSetMaxRFByte, Data: []byte{0x50}}} {
		if rep, _ := ask(t, s, o); rep.Status != codec.StatusSuccess || len(rep.Data) != 0 {
			t.Fatalf("%v: %v", o, rep)
		}
	}
	// Reset forgets the selection.
	if rep, _ := ask(t, s, op(codec.OpReadText)); rep.Status != codec.StatusReadFailed {
		t.Fatalf("read after reset: %v", rep)
	}
	// A card without appended address answers 91.
	s.PlaceCard(SampleResident())
	ask(t, s, op(codec.OpFindCard))
	ask(t, s, op(codec.OpSelectCard))
	if rep, _ := ask(t, s, op(codec.OpReadAppended)); rep.Status != codec.StatusNoContent {
		t.Fatalf("no appended address: %v", rep)
	}
	// Host errors.
	if rep, _ := ask(t, s, op(codec.MakeOp(0x77, 0x01))); rep.Status != codec.StatusHostCommand {
		t.Fatalf("unknown command: %v", rep)
	}
	if rep, _ := ask(t, s, codec.Request{Op: codec.OpSetMaxRFByte}); rep.Status != codec.StatusHostLength {
		t.Fatalf("61 FF without data: %v", rep)
	}
	if n := s.Stats().Commands[codec.OpFindCard]; n != 3 {
		t.Fatalf("find count %d", n)
	}
}

func TestFaults(t *testing.T) {
	s := New(Config{Fast: true})
	s.PlaceCard(SampleResident())
	s.FailNext(codec.OpReadText, codec.StatusSAMAuthCard)
	ask(t, s, op(codec.OpFindCard)) // not affected: the fault names 30 01
	ask(t, s, op(codec.OpSelectCard))
	if rep, _ := ask(t, s, op(codec.OpReadText)); rep.Status != codec.StatusSAMAuthCard {
		t.Fatalf("FailNext: %v", rep)
	}
	if rep, _ := ask(t, s, op(codec.OpReadText)); rep.Status != codec.StatusSuccess {
		t.Fatalf("after FailNext: %v", rep)
	}
	s.SetSAMFault(codec.StatusSelfTest)
	for range 2 {
		if rep, _ := ask(t, s, op(codec.OpSAMStatus)); rep.Status != codec.StatusSelfTest {
			t.Fatalf("SAM fault: %v", rep)
		}
	}
	s.ClearFaults()
	s.RemoveCardDuringRead()
	if rep, _ := ask(t, s, op(codec.OpReadText)); rep.Status != codec.StatusReadFailed {
		t.Fatalf("removed mid-read: %v", rep)
	}
	if _, ok := s.Card(); ok {
		t.Fatal("card still there")
	}
	s.mu.Lock()
	left := len(s.faults)
	s.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d faults still queued", left)
	}

	// Byte faults, checked on raw output.
	raw := func() []byte {
		wire, _ := op(codec.OpSAMStatus).Encode()
		var d codec.Decoder
		d.Feed(wire)
		f, _ := d.Next()
		return s.Respond(f)
	}
	good := raw()
	s.CorruptNext(0)
	var d codec.Decoder
	d.Feed(raw())
	if _, err := d.Next(); !errors.Is(err, codec.ErrChecksum) {
		t.Fatalf("corrupt: %v", err)
	}
	s.TruncateNext(0, 3)
	if out := raw(); !bytes.Equal(out, good[:len(good)-3]) {
		t.Fatalf("truncated: % X", out)
	}
	s.GarbageNext(20)
	out := raw()
	if len(out) != len(good)+20 || !bytes.Equal(out[20:], good) {
		t.Fatalf("garbage: % X", out)
	}
	s.SetMute(true)
	if raw() != nil {
		t.Fatal("mute answered")
	}
}

func TestSamplesEncodeAndCheck(t *testing.T) {
	for name, c := range Samples() {
		s := New(Config{})
		if err := s.PlaceCard(c); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		id := c.Text.IDNumber
		if c.Text.Type != codec.TypeForeign2017 && !codec.ValidIDNumber(id) {
			t.Errorf("%s: %s fails the check digit", name, id)
		}
		if len(c.Photo) != codec.PhotoLen {
			t.Errorf("%s: photo %d bytes", name, len(c.Photo))
		}
	}
	if SampleRareName().Text.Name != "王䶮" || !SampleRareName().Text.LongTerm {
		t.Error("rare-name sample")
	}
}

// pipeRW joins the two ends of io.Pipes into the device's ReadWriter.
type pipeRW struct {
	io.Reader
	io.Writer
}

// TestPacing checks that replies leave at the line's byte rate.
func TestPacing(t *testing.T) {
	hostR, simW := io.Pipe()
	simR, hostW := io.Pipe()
	s := New(Config{}) // paced, 115200 8N1
	s.PlaceCard(SampleResident())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, pipeRW{simR, simW}) }()
	read := func(n int) {
		buf := make([]byte, n)
		if _, err := io.ReadFull(hostR, buf); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []codec.Op{codec.OpFindCard, codec.OpSelectCard} {
		w, _ := op(o).Encode()
		hostW.Write(w)
		read(o.ReplyLen())
	}
	w, _ := op(codec.OpReadText).Encode()
	start := time.Now()
	hostW.Write(w)
	read(1295)
	took := time.Since(start)
	wire := DefaultLine().WireTime(10 + 1295)
	if took < wire || took > wire*3/2 {
		t.Fatalf("30 01 reply took %v, wire time %v", took, wire)
	}
	hostW.Close()
	simW.Close()
	cancel()
}
