package codec

import (
	"testing"
	"time"
)

// FuzzCounter feeds arbitrary level/time sequences: each input byte pair
// is (level and tick flag, delay in units of 0.5 ms). No input may panic;
// every train has 1..MaxPulses pulses, starts no later than it ends and
// lies inside the sampled time span; the total count never exceeds the
// number of falling edges; and after Flush nothing is left pending.
//
//	go test -run=^$ -fuzz=FuzzCounter -fuzztime=10s ./drivers/pulse/codec
func FuzzCounter(f *testing.F) {
	enc := func(steps []step) []byte {
		var b []byte
		for _, s := range steps {
			lv := byte(0)
			if s.active {
				lv = 1
			}
			b = append(b, lv, byte(min(255, s.after*2)))
		}
		return b
	}
	f.Add(enc(pulses(10, 50, 50)), uint8(0))
	f.Add(enc(pulses(3, 30, 30)), uint8(3))
	f.Add(enc([]step{{0, true}, {1, false}, {1, true}, {30, false}, {1, true}, {1, false}}), uint8(7))
	f.Add(enc([]step{{0, true}, {120, false}, {120, true}, {120, false}}), uint8(1))
	f.Add([]byte{1, 0, 0, 0, 1, 0, 0, 0}, uint8(2))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, maxp uint8) {
		cfg := Config{Denoise: ms(5), Debounce: ms(8), TrainTimeout: ms(60), MaxWidth: ms(100), MaxPulses: int(maxp%8) + 1}
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		now := t0
		var trains []Train
		falls := 0
		level := false
		check := func(trs []Train) {
			for _, tr := range trs {
				if tr.Pulses < 1 || tr.Pulses > cfg.MaxPulses {
					t.Fatalf("train with %d pulses (max %d)", tr.Pulses, cfg.MaxPulses)
				}
				if tr.End.Before(tr.Start) || tr.Start.Before(t0) || tr.End.After(now) {
					t.Fatalf("train %v outside %v..%v", tr, t0, now)
				}
				if tr.Glitches < 0 || tr.Bounces < 0 || tr.Long < 0 {
					t.Fatalf("negative anomaly counts %v", tr)
				}
			}
			trains = append(trains, trs...)
		}
		for i := 0; i+1 < len(in); i += 2 {
			now = now.Add(time.Duration(in[i+1]) * 500 * time.Microsecond)
			if in[i]&2 != 0 {
				if tr, ok := c.Tick(now); ok {
					check([]Train{tr})
				}
				continue
			}
			on := in[i]&1 == 1
			if level && !on {
				falls++
			}
			level = on
			check(c.Sample(on, now))
			if p := c.Pending(); p < 0 || p > cfg.MaxPulses {
				t.Fatalf("pending %d", p)
			}
			if dl, ok := c.Deadline(); ok && dl.Before(t0) {
				t.Fatalf("deadline %v before start", dl)
			}
		}
		now = now.Add(time.Millisecond)
		if level {
			falls++ // Flush ends an active pulse
		}
		check(c.Flush(now))
		if c.Pending() != 0 {
			t.Fatalf("pending %d after flush", c.Pending())
		}
		total := 0
		for _, tr := range trains {
			total += tr.Pulses
		}
		if total > falls {
			t.Fatalf("%d pulses counted from %d falling edges", total, falls)
		}
	})
}
