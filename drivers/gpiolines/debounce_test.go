package gpiolines

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func TestDebouncer(t *testing.T) {
	type sample struct {
		ms     int
		active bool
	}
	tests := []struct {
		name     string
		samples  []sample
		want     []Change
		glitches int
	}{
		{"clean change", []sample{{100, true}}, []Change{{Active: true, At: at(100), Settled: at(150)}}, 0},
		{"bounce settles once, stamped at the first edge",
			[]sample{{100, true}, {102, false}, {104, true}, {106, false}, {108, true}},
			[]Change{{Active: true, At: at(100), Settled: at(158)}}, 0},
		{"glitch reports nothing", []sample{{100, true}, {110, false}}, nil, 1},
		{"open then close", []sample{{100, true}, {400, false}},
			[]Change{{Active: true, At: at(100), Settled: at(150)}, {Active: false, At: at(400), Settled: at(450)}}, 0},
		{"repeated level is no edge", []sample{{100, false}, {200, false}}, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Debouncer{Window: 50 * time.Millisecond}
			d.Reset(false, t0)
			var got []Change
			for _, s := range tc.samples {
				if ch, ok := d.Sample(s.active, at(s.ms)); ok {
					got = append(got, ch)
				}
			}
			for ms := 0; ms <= 2000; ms += 5 {
				if ch, ok := d.Tick(at(ms)); ok {
					got = append(got, ch)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("changes %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i].Active != tc.want[i].Active || !got[i].At.Equal(tc.want[i].At) || got[i].Settled.Sub(tc.want[i].Settled).Abs() > 5*time.Millisecond {
					t.Fatalf("change %d: %+v, want %+v", i, got[i], tc.want[i])
				}
			}
			if d.Glitches() != tc.glitches {
				t.Fatalf("glitches %d, want %d", d.Glitches(), tc.glitches)
			}
		})
	}
}

// A switch that never stops chattering has its level taken after MaxSettle.
func TestDebouncerChatter(t *testing.T) {
	d := Debouncer{Window: 50 * time.Millisecond, MaxSettle: 500 * time.Millisecond}
	d.Reset(false, t0)
	var got []Change
	// Mostly active, with a short drop every 30 ms: never quiet for 50 ms.
	for ms := 100; ms < 1000; ms += 30 {
		for _, s := range []struct {
			ms int
			lv bool
		}{{ms, true}, {ms + 25, false}} {
			if ch, ok := d.Sample(s.lv, at(s.ms)); ok {
				got = append(got, ch)
			}
		}
	}
	if len(got) == 0 || !got[0].Active || !got[0].At.Equal(at(100)) {
		t.Fatalf("chatter hid the line: %v", got)
	}
	if dl, ok := d.Deadline(); !ok || dl.After(at(1000).Add(50*time.Millisecond)) {
		t.Fatalf("deadline %v %t", dl, ok)
	}
}

// FuzzDebouncer: any sample sequence; no panic, changes alternate, each
// is stamped within the sampled span and not after it settled, and the
// settled level is the last raw level once the line has been quiet.
//
//	go test -run=^$ -fuzz=FuzzDebouncer -fuzztime=10s ./drivers/gpiolines
func FuzzDebouncer(f *testing.F) {
	f.Add([]byte{1, 0, 0, 2, 1, 2, 0, 2, 1, 200})
	f.Add([]byte{1, 10, 0, 10, 1, 10, 0, 10})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		d := Debouncer{Window: 20 * time.Millisecond, MaxSettle: 200 * time.Millisecond}
		d.Reset(false, t0)
		now := t0
		stable, raw := false, false
		check := func(ch Change, ok bool) {
			if !ok {
				return
			}
			if ch.Active == stable {
				t.Fatalf("change to the same level %v", ch)
			}
			if ch.At.Before(t0) || ch.At.After(now) || ch.Settled.Before(ch.At) {
				t.Fatalf("change %+v outside %v..%v", ch, t0, now)
			}
			stable = ch.Active
		}
		for i := 0; i+1 < len(in); i += 2 {
			now = now.Add(time.Duration(in[i+1]) * time.Millisecond)
			if in[i]&2 != 0 {
				check(d.Tick(now))
				continue
			}
			raw = in[i]&1 == 1
			check(d.Sample(raw, now))
		}
		now = now.Add(time.Second)
		check(d.Tick(now))
		if d.Stable() != raw || stable != raw {
			t.Fatalf("settled %t/%t after a quiet second, raw %t", d.Stable(), stable, raw)
		}
	})
}
