package codec

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

// step is one level change after a delay, in milliseconds.
type step struct {
	after  float64
	active bool
}

// pulses makes n clean pulses of width w with gap g.
func pulses(n int, w, g float64) []step {
	var s []step
	for i := range n {
		after := g
		if i == 0 {
			after = 0
		}
		s = append(s, step{after, true}, step{w, false})
	}
	return s
}

// run feeds the steps starting at t0, then ticks until the end (ms after
// t0) and returns every train.
func run(t *testing.T, cfg Config, steps []step, end float64) []Train {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []Train
	now := t0
	for _, s := range steps {
		now = now.Add(ms(s.after))
		out = append(out, c.Sample(s.active, now)...)
	}
	for tick := now; tick.Before(t0.Add(ms(end))); tick = tick.Add(ms(5)) {
		if tr, ok := c.Tick(tick); ok {
			out = append(out, tr)
		}
	}
	return out
}

func counts(trs []Train) []int {
	var n []int
	for _, tr := range trs {
		n = append(n, tr.Pulses)
	}
	return n
}

func eq(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var testCfg = Config{Denoise: ms(10), Debounce: ms(15), TrainTimeout: ms(150), MaxWidth: ms(500), MaxPulses: 100}

func TestCounter(t *testing.T) {
	cat := func(parts ...[]step) []step {
		var s []step
		for _, p := range parts {
			s = append(s, p...)
		}
		return s
	}
	glitch := []step{{20, true}, {2, false}}
	tests := []struct {
		name     string
		steps    []step
		want     []int
		glitches int
		bounces  int
		long     int
	}{
		{"one pulse", pulses(1, 50, 50), []int{1}, 0, 0, 0},
		{"ten pulses bill timing", pulses(10, 50, 50), []int{10}, 0, 0, 0},
		{"coin timing 100 ms", pulses(5, 100, 100), []int{5}, 0, 0, 0},
		{"lone glitch", glitch, nil, 0, 0, 0},
		{"glitches in the gaps", cat(pulses(1, 30, 0), glitch, []step{{20, true}, {30, false}}, glitch, []step{{20, true}, {30, false}}),
			[]int{3}, 2, 0, 0},
		{"bounce at both edges", cat(
			[]step{{0, true}, {1, false}, {1, true}, {1, false}, {1, true}, {30, false}, {1, true}, {1, false}},
			[]step{{30, true}, {1, false}, {1, true}, {30, false}, {1, true}, {1, false}, {1, true}, {1, false}}),
			[]int{2}, 6, 0, 0},
		{"dropout inside a pulse merges", []step{{0, true}, {20, false}, {3, true}, {20, false}}, []int{1}, 0, 1, 0},
		{"gap just over debounce is two pulses", []step{{0, true}, {20, false}, {16, true}, {20, false}}, []int{2}, 0, 0, 0},
		{"two coins split by the timeout", cat(pulses(3, 30, 30), []step{{160, true}, {30, false}, {30, true}, {30, false}}), []int{3, 2}, 0, 0, 0},
		{"gap just under the timeout is one train", cat(pulses(3, 30, 30), []step{{140, true}, {30, false}}), []int{4}, 0, 0, 0},
		{"stuck line is no pulse", []step{{0, true}, {800, false}}, nil, 0, 0, 1},
		{"pulse width at denoise counts", []step{{0, true}, {10, false}}, []int{1}, 0, 0, 0},
		{"pulse just under denoise is a glitch", []step{{0, true}, {9.9, false}}, nil, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			trs := run(t, testCfg, tc.steps, 3000)
			if !eq(counts(trs), tc.want) {
				t.Fatalf("trains %v, want %v", counts(trs), tc.want)
			}
			if len(trs) == 0 {
				return
			}
			g, b, l := 0, 0, 0
			for _, tr := range trs {
				g, b, l = g+tr.Glitches, b+tr.Bounces, l+tr.Long
			}
			if g != tc.glitches || b != tc.bounces || l != tc.long {
				t.Fatalf("glitches %d bounces %d long %d, want %d %d %d (%v)", g, b, l, tc.glitches, tc.bounces, tc.long, trs)
			}
		})
	}
}

func TestTrainEndsOnlyAfterTimeout(t *testing.T) {
	c, _ := New(testCfg)
	now := t0
	for _, s := range pulses(3, 30, 30) {
		now = now.Add(ms(s.after))
		if trs := c.Sample(s.active, now); len(trs) != 0 {
			t.Fatalf("train finished early: %v", trs)
		}
	}
	if c.Pending() != 3 {
		t.Fatalf("pending %d", c.Pending())
	}
	dl, ok := c.Deadline()
	if !ok || !dl.Equal(now.Add(ms(150))) {
		t.Fatalf("deadline %v %t, want %v", dl, ok, now.Add(ms(150)))
	}
	if _, ok := c.Tick(dl.Add(-time.Microsecond)); ok {
		t.Fatal("ended before the timeout")
	}
	tr, ok := c.Tick(dl)
	if !ok || tr.Pulses != 3 || !tr.Start.Equal(t0) || !tr.End.Equal(now) {
		t.Fatalf("train %v %t", tr, ok)
	}
	if _, ok := c.Deadline(); ok {
		t.Fatal("deadline after the end")
	}
}

// A pulse in progress at the timeout holds the train open; one that is
// stuck does not hold it for ever.
func TestActiveLineAtTimeout(t *testing.T) {
	c, _ := New(testCfg)
	c.Sample(true, t0)
	c.Sample(false, t0.Add(ms(30)))
	c.Sample(true, t0.Add(ms(100)))           // next pulse starts inside the window
	if _, ok := c.Tick(t0.Add(ms(185))); ok { // 155 ms after the first pulse
		t.Fatal("ended while a pulse of the train was active")
	}
	if trs := c.Sample(false, t0.Add(ms(190))); len(trs) != 0 {
		t.Fatalf("early %v", trs)
	}
	if _, ok := c.Tick(t0.Add(ms(339))); ok {
		t.Fatal("ended before the timeout after the second pulse")
	}
	tr, ok := c.Tick(t0.Add(ms(340)))
	if !ok || tr.Pulses != 2 {
		t.Fatalf("%v %t", tr, ok)
	}

	c, _ = New(testCfg)
	c.Sample(true, t0)
	c.Sample(false, t0.Add(ms(30)))
	c.Sample(true, t0.Add(ms(100)))
	dl, _ := c.Deadline()
	tr, ok = c.Tick(dl)
	if !ok || tr.Pulses != 1 {
		t.Fatalf("stuck line held the train: %v %t (deadline %v)", tr, ok, dl.Sub(t0))
	}
	if on, d := c.Active(t0.Add(ms(700))); !on || d != ms(600) {
		t.Fatalf("active %t %v", on, d)
	}
}

func TestFlushCountsWhatWentIn(t *testing.T) {
	c, _ := New(testCfg)
	c.Sample(true, t0)
	c.Sample(false, t0.Add(ms(30)))
	c.Sample(true, t0.Add(ms(60)))
	trs := c.Flush(t0.Add(ms(80))) // stopping mid-pulse: 20 ms already counts
	if !eq(counts(trs), []int{2}) {
		t.Fatalf("%v", trs)
	}
	if trs := c.Flush(t0.Add(ms(90))); len(trs) != 0 {
		t.Fatalf("second flush %v", trs)
	}
}

func TestOverflowSplitsTrain(t *testing.T) {
	cfg := testCfg
	cfg.MaxPulses = 4
	trs := run(t, cfg, pulses(10, 20, 20), 2000)
	if !eq(counts(trs), []int{4, 4, 2}) || !trs[0].Overflow || !trs[1].Overflow || trs[2].Overflow {
		t.Fatalf("%v", trs)
	}
}

func TestBackwardsTimeIsClamped(t *testing.T) {
	c, _ := New(testCfg)
	c.Sample(true, t0)
	c.Sample(false, t0.Add(-time.Hour)) // width 0: a glitch
	if c.Pending() != 0 {
		t.Fatal("counted a pulse of negative width")
	}
}

func TestValidate(t *testing.T) {
	for _, cfg := range []Config{
		{Denoise: -1},
		{Debounce: ms(400), TrainTimeout: ms(300)},
		{Denoise: ms(50), MaxWidth: ms(40)},
		{MaxPulses: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Config(); got.TrainTimeout != DefaultTrainTimeout || got.Denoise != DefaultDenoise {
		t.Fatalf("defaults %+v", got)
	}
	if s := (Train{Pulses: 3}).String(); !strings.Contains(s, "3 pulses") {
		t.Fatal(s)
	}
}
