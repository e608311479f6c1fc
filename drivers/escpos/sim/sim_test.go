package sim

import (
	"bytes"
	"context"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"tongban/drivers/escpos/codec"
)

// wire is an in-memory port: the test writes host bytes into in and reads
// the printer's answers from out.
type wire struct {
	in  *io.PipeReader
	w   *io.PipeWriter
	mu  sync.Mutex
	out bytes.Buffer
}

func newWire() *wire {
	r, w := io.Pipe()
	return &wire{in: r, w: w}
}

func (w *wire) Read(p []byte) (int, error) { return w.in.Read(p) }
func (w *wire) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

func (w *wire) take() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := bytes.Clone(w.out.Bytes())
	w.out.Reset()
	return b
}

var statusAll = []byte{0x10, 4, 1, 0x10, 4, 2, 0x10, 4, 3, 0x10, 4, 4}

func TestStatusReplies(t *testing.T) {
	tests := []struct {
		name  string
		setup func(s *Printer)
		want  []byte
	}{
		{"ready", func(s *Printer) {}, []byte{0x12, 0x12, 0x12, 0x12}},
		{"paper end", func(s *Printer) { s.SetPaperEnd(true) }, []byte{0x1A, 0x32, 0x12, 0x72}},
		{"near end", func(s *Printer) { s.SetNearEnd(true) }, []byte{0x12, 0x12, 0x12, 0x1E}},
		{"cover open", func(s *Printer) { s.SetCoverOpen(true) }, []byte{0x1A, 0x16, 0x12, 0x12}},
		{"cutter", func(s *Printer) { s.SetCutterError(true) }, []byte{0x1A, 0x52, 0x1A, 0x12}},
		{"offline", func(s *Printer) { s.SetOffline(true) }, []byte{0x1A, 0x12, 0x12, 0x12}},
		{"cleared", func(s *Printer) { s.SetCoverOpen(true); s.SetCoverOpen(false) }, []byte{0x12, 0x12, 0x12, 0x12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWire()
			s := New(w, Config{})
			tt.setup(s)
			s.Feed(statusAll)
			got := w.take()
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("replies % x, want % x", got, tt.want)
			}
			var r [4]byte
			copy(r[:], got)
			st, err := codec.DecodeStatus(r)
			if err != nil || st != s.Status() {
				t.Errorf("decoded %+v (%v), sim says %+v", st, err, s.Status())
			}
		})
	}
}

func job(t *testing.T, text string) []byte {
	t.Helper()
	b, err := codec.NewBuilder(codec.Paper58).Init().Line(text).QR("https://example.com/"+text, 4, codec.QRLevelM).Cut().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReceiptsSavedAtCut(t *testing.T) {
	dir := t.TempDir()
	// An older receipt in the folder: numbering continues after it.
	os.WriteFile(filepath.Join(dir, "receipt-000041.bin"), []byte("old"), 0o644)
	var seen []int
	s := New(newWire(), Config{Dir: dir, Paper: codec.Paper58, OnReceipt: func(r Receipt) { seen = append(seen, r.Seq) }})
	j1, j2 := job(t, "第一张"), job(t, "second")
	// Split in odd places: the parser must wait for the rest.
	all := append(bytes.Clone(j1), j2...)
	for i := 0; i < len(all); i += 7 {
		s.Feed(all[i:min(i+7, len(all))])
	}
	rs := s.Receipts()
	if len(rs) != 2 || !reflect.DeepEqual(seen, []int{42, 43}) {
		t.Fatalf("receipts %d, callbacks %v", len(rs), seen)
	}
	for i, want := range [][]byte{j1, j2} {
		r := rs[i]
		bin, err := os.ReadFile(r.BinPath)
		if err != nil || !bytes.Equal(bin, want) || !bytes.Equal(r.Raw, want) {
			t.Errorf("receipt %d raw differs from the job (%v)", i, err)
		}
		txt, err := os.ReadFile(r.TextPath)
		if err != nil || string(txt) != r.Text {
			t.Errorf("receipt %d text file: %v", i, err)
		}
		if filepath.Base(r.TextPath) != []string{"receipt-000042.txt", "receipt-000043.txt"}[i] {
			t.Errorf("name %s", r.TextPath)
		}
	}
	if !strings.Contains(rs[0].Text, "第一张") || rs[0].QRPayloads[0] != "https://example.com/第一张" {
		t.Errorf("receipt 1: %q %q", rs[0].Text, rs[0].QRPayloads)
	}
}

func TestNoPrintingWhilePaperEnd(t *testing.T) {
	dir := t.TempDir()
	w := newWire()
	s := New(w, Config{Dir: dir})
	j := job(t, "x")

	// Paper runs out half-way: the partial receipt is thrown away and the
	// rest of the job is dropped.
	s.RunOutAfter(len(j) / 2)
	s.Feed(j)
	s.Feed(statusAll)
	if got := w.take(); !bytes.Equal(got, []byte{0x1A, 0x32, 0x12, 0x72}) {
		t.Fatalf("status after run-out % x", got)
	}
	if len(s.Receipts()) != 0 || s.Dropped() != len(j) {
		t.Fatalf("receipts %d dropped %d of %d", len(s.Receipts()), s.Dropped(), len(j))
	}
	s.Feed(j) // still out of paper
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files written while out of paper: %v", entries)
	}

	// Reloaded: the next job prints whole, with nothing left over.
	s.SetPaperEnd(false)
	s.Feed(j)
	rs := s.Receipts()
	if len(rs) != 1 || !bytes.Equal(rs[0].Raw, j) {
		t.Fatalf("after reload: %d receipts", len(rs))
	}
}

func TestFaultDiscardsReceiptInProgress(t *testing.T) {
	s := New(newWire(), Config{})
	s.Feed([]byte("half a receipt\n"))
	s.SetCoverOpen(true)
	s.SetCoverOpen(false)
	s.Feed([]byte("new\x1dV\x00"))
	rs := s.Receipts()
	if len(rs) != 1 || strings.Contains(rs[0].Text, "half") || !strings.Contains(rs[0].Text, "new") {
		t.Fatalf("receipts %+v", rs)
	}
}

func TestAutomaticStatusBack(t *testing.T) {
	w := newWire()
	s := New(w, Config{})
	s.Feed([]byte{0x1d, 'a', 0x0f})
	if got := w.take(); !bytes.Equal(got, []byte{0x10, 0, 0, 0}) {
		t.Fatalf("ASB on enable % x", got)
	}
	s.SetNearEnd(true)
	got := w.take()
	if len(got) != 4 || !codec.IsASBHeader(got[0]) {
		t.Fatalf("ASB on change % x", got)
	}
	if st, _ := codec.DecodeASB([4]byte(got)); !st.PaperNearEnd {
		t.Errorf("ASB says %+v", st)
	}
	s.SetNearEnd(true) // no change, no block
	s.Feed([]byte{0x1d, 'a', 0})
	s.SetNearEnd(false)
	if got := w.take(); len(got) != 0 {
		t.Errorf("unexpected bytes % x", got)
	}
}

func TestGarbageNeverPanics(t *testing.T) {
	w := newWire()
	s := New(w, Config{Dir: t.TempDir()})
	rng := rand.New(rand.NewSource(7))
	buf := make([]byte, 64<<10)
	rng.Read(buf)
	for i := 0; i < len(buf); i += 1000 {
		s.Feed(buf[i:min(i+1000, len(buf))])
	}
	if s.Garbage() == 0 {
		t.Error("random bytes produced no syntax errors")
	}
	// Still answers status after all that (a pending partial command may
	// swallow the first request's bytes, so ask a few times).
	w.take()
	for i := 0; i < 3; i++ {
		s.Feed([]byte{0x1b, '@', 0x10, 4, 1})
	}
	if got := w.take(); len(got) == 0 {
		t.Error("no status reply after garbage")
	}
}

func TestRunStopsOnEOFAndContext(t *testing.T) {
	w := newWire()
	s := New(w, Config{})
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	w.w.Write(statusAll[:3])
	w.w.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop at EOF")
	}
	if got := w.take(); !bytes.Equal(got, []byte{0x12}) {
		t.Errorf("reply % x", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	w2 := newWire()
	go func() { done <- New(w2, Config{}).Run(ctx) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop on cancel")
	}
	w2.w.Close()
}

func TestStatusAnsweredInsideOtherCommands(t *testing.T) {
	w := newWire()
	s := New(w, Config{})
	// A raster header announcing 255×8 bytes: the parser waits for data,
	// yet the status request is answered at once.
	s.Feed([]byte{0x1d, 'v', '0', 0, 0xff, 0, 8, 0})
	s.Feed([]byte{0x10, 4, 4})
	if got := w.take(); !bytes.Equal(got, []byte{0x12}) {
		t.Fatalf("reply % x", got)
	}
	// Split across reads: answered once, when complete.
	s.Feed([]byte{0x10})
	s.Feed([]byte{4})
	if got := w.take(); len(got) != 0 {
		t.Fatalf("answered early: % x", got)
	}
	s.Feed([]byte{1, 0x10, 4, 2})
	if got := w.take(); !bytes.Equal(got, []byte{0x12, 0x12}) {
		t.Fatalf("replies % x", got)
	}
	// The answer reflects the bytes before it in the same read.
	s = New(w, Config{})
	s.RunOutAfter(3)
	s.Feed([]byte("abcdef\x10\x04\x04"))
	if got := w.take(); !bytes.Equal(got, []byte{0x72}) {
		t.Fatalf("reply after run-out % x", got)
	}
}

// FuzzFeed: no input makes the simulator panic, and it always answers a
// status request that follows the input.
func FuzzFeed(f *testing.F) {
	f.Add([]byte("\x1b@hello\n\x1dV\x00"), uint8(3))
	f.Add([]byte{0x1d, 'v', '0', 0, 1, 0, 1}, uint8(0))
	f.Add([]byte{0x1d, 'a', 0x0f, 0x10, 0x04}, uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, faults uint8) {
		w := newWire()
		s := New(w, Config{})
		s.SetPaperEnd(faults&1 != 0)
		s.SetNearEnd(faults&2 != 0)
		s.RunOutAfter(int(faults>>2) - 1)
		s.Feed(in)
		w.take()
		s.Feed([]byte{0x10, 4, 1})
		if got := w.take(); len(got) == 0 || !codec.ValidStatus(got[len(got)-1]) {
			t.Fatalf("no valid status reply after % x: % x", in, got)
		}
	})
}

func TestFaultAfterAndCutterJam(t *testing.T) {
	for _, f := range []Fault{FaultPaperEnd, FaultCoverOpen, FaultCutterError, FaultOffline} {
		t.Run(f.String(), func(t *testing.T) {
			w := newWire()
			s := New(w, Config{})
			j := job(t, "x")
			s.FaultAfter(f, len(j)/2)
			s.Feed(j)
			if len(s.Receipts()) != 0 || s.Dropped() != len(j) || s.Status().Ready() {
				t.Fatalf("receipts %d dropped %d status %v", len(s.Receipts()), s.Dropped(), s.Status())
			}
			s.Set(f, false)
			s.Feed(j) // the fault fired once: this one prints
			if len(s.Receipts()) != 1 {
				t.Fatal("no receipt after the fault was cleared")
			}
			s.FaultAfter(f, 0)
			s.FaultAfter(f, -1) // cancelled
			s.Feed(j)
			if len(s.Receipts()) != 2 {
				t.Fatal("cancelled fault fired")
			}
		})
	}
	s := New(newWire(), Config{})
	s.JamNextCut()
	s.Feed(job(t, "jammed"))
	if st := s.Status(); !st.CutterError || len(s.Receipts()) != 0 {
		t.Fatalf("status %v, %d receipts", st, len(s.Receipts()))
	}
	s.SetCutterError(false)
	s.Feed(job(t, "ok"))
	if len(s.Receipts()) != 1 {
		t.Fatal("the jam outlived its cut")
	}
}

func TestSlowGarbageAndDrops(t *testing.T) {
	w := newWire()
	s := New(w, Config{})
	s.SetReplyDelay(80 * time.Millisecond)
	start := time.Now()
	s.Feed([]byte{0x10, 4, 1})
	if d := time.Since(start); d < 80*time.Millisecond || !bytes.Equal(w.take(), []byte{0x12}) {
		t.Fatalf("reply after %v", d)
	}
	s.SetReplyDelay(0)
	s.SendGarbage([]byte{0xde, 0xad})
	if got := w.take(); !bytes.Equal(got, []byte{0xde, 0xad}) {
		t.Fatalf("garbage % x", got)
	}
	s.DropBytes(4)
	s.Feed([]byte("abc"))
	s.Feed([]byte{0x10, 4, 1, 0x10, 4, 2}) // the first request loses its DLE
	if got := w.take(); !bytes.Equal(got, []byte{0x12}) || s.Dropped() != 4 {
		t.Fatalf("replies % x, dropped %d", got, s.Dropped())
	}
}

// A line the Builder drew as an image shows as such in the saved text,
// and the rest of the receipt stays readable.
func TestRareCharacterLineRendered(t *testing.T) {
	dir := t.TempDir()
	s := New(newWire(), Config{Dir: dir, Paper: codec.Paper80})
	img := codec.NewRaster(576, 24)
	img.Set(3, 3, true)
	j, err := codec.NewBuilder(codec.Paper80).Init().Line("受理回执").Image(img).Line("请保留此凭证").Cut().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	s.Feed(j)
	rs := s.Receipts()
	if len(rs) != 1 {
		t.Fatal("no receipt")
	}
	txt, _ := os.ReadFile(rs[0].TextPath)
	if want := "受理回执\n[image 576x24: rare-character line]\n请保留此凭证\n--- cut ---\n"; string(txt) != want {
		t.Errorf("text %q, want %q", txt, want)
	}
}
