package scanner_test

import (
	"context"
	"testing"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/scanner"
	"tongban/drivers/scanner/codec"
	"tongban/drivers/scanner/sim"
)

// BenchmarkReadLatency: from the simulator writing a payment code (18
// digits + CR LF) on the pty to the classified read on Reads(). A pty has
// no baud rate, so the ratio to the code's wire time at 9600 8N1
// (20 bytes, 20.8 ms) is the driver's share of a real read's delay.
//
//	go test -run=^$ -bench=. -benchtime=200x ./drivers/scanner
func BenchmarkReadLatency(b *testing.B) {
	r := benchRig(b, scanner.Config{}, sim.Config{})
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		r.sim.Scan(wechat)
		<-r.drv.Reads()
		total += time.Since(start)
	}
	avg := total / time.Duration(b.N)
	wire := scanner.DefaultLine().WireTime(len(wechat) + 2)
	b.ReportMetric(float64(avg.Microseconds()), "µs/read")
	b.ReportMetric(float64(avg)/float64(wire), "x-wire")
}

// BenchmarkNewlandTrigger: a #SCNTRG1 exchange (16 bytes out, 17 back),
// against its wire time at 9600 8N1 (34 ms).
func BenchmarkNewlandTrigger(b *testing.B) {
	r := benchRig(b, scanner.Config{Model: "newland"}, sim.Config{Model: codec.ModelNewland, Manual: true})
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		if err := r.drv.Trigger(context.Background(), true); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
	}
	avg := total / time.Duration(b.N)
	wire := scanner.DefaultLine().WireTime(len(codec.NewlandTrigger(true)) + 17)
	b.ReportMetric(float64(avg.Microseconds()), "µs/trigger")
	b.ReportMetric(float64(avg)/float64(wire), "x-wire")
}

func benchRig(b *testing.B, cfg scanner.Config, scfg sim.Config) *rig {
	r := newRig(b, cfg, &scfg)
	waitFor(b, 5*time.Second, "online", func() bool { return r.drv.Health().State == device.Online })
	return r
}
