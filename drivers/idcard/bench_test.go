package idcard_test

import (
	"os"
	"slices"
	"testing"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/idcard"
	"tongban/drivers/idcard/codec"
	"tongban/drivers/idcard/sim"
)

// readWire is the wire time of one card read at 115200 8N1: three 10-byte
// requests (20 01, 20 02, 30 01) and their replies (15 + 19 + 1295 bytes).
var readWire = idcard.DefaultLine().WireTime(3*10 + codec.OpFindCard.ReplyLen() + codec.OpSelectCard.ReplyLen() + codec.OpReadText.ReplyLen())

// pacedRig is a driver and a simulator that sends at the line's byte rate,
// with a card on it.
func pacedRig(t testing.TB) *rig {
	r := newRig(t, testConfig(), &sim.Config{}) // not Fast: paced
	r.waitState(device.Online, "")
	r.place(sim.SampleResident())
	return r
}

// TestReadCardBudget measures card reads (find + select + read text and
// photo, 1295-byte reply) against the paced simulator over a pty; the
// budget is 1.2× the bytes' wire time. It only runs with BENCH=1:
//
//	BENCH=1 go test -count=1 -run TestReadCardBudget -v ./drivers/idcard/
func TestReadCardBudget(t *testing.T) {
	if os.Getenv("BENCH") != "1" {
		t.Skip("set BENCH=1 to measure the card-read budget")
	}
	r := pacedRig(t)
	const n = 30
	var took []time.Duration
	for range n {
		start := time.Now()
		if _, err := r.read(idcard.ReadOptions{}); err != nil {
			t.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	med, worst := took[n/2], took[n-1]
	ratio := float64(med) / float64(readWire)
	t.Logf("card read budget: median %v, best %v, worst %v over %d reads; wire time %v (1359 bytes at 115200 8N1); ratio median %.3f, worst %.3f (budget 1.2)",
		med.Round(10*time.Microsecond), took[0].Round(10*time.Microsecond), worst.Round(10*time.Microsecond), n, readWire.Round(10*time.Microsecond),
		ratio, float64(worst)/float64(readWire))
	if ratio > 1.2 {
		t.Errorf("median read %v is %.3f× the wire time %v, budget 1.2×", med, ratio, readWire)
	}
	if ratio < 1 {
		t.Errorf("median read %v beats the wire time %v: the simulator does not pace", med, readWire)
	}
}

// BenchmarkReadCard: one iteration is one card read against the paced
// simulator; wire-ratio is the time per read over its wire time.
//
//	go test -run '^$' -bench ReadCard -benchtime 30x ./drivers/idcard/
func BenchmarkReadCard(b *testing.B) {
	r := pacedRig(b)
	start := time.Now()
	for b.Loop() {
		if _, err := r.read(idcard.ReadOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	per := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(per)/float64(readWire), "wire-ratio")
	b.ReportMetric(float64(per.Microseconds())/1000, "ms/read")
}
