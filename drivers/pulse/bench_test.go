package pulse_test

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"tongban/drivers/cash"
	"tongban/drivers/pulse"
)

// BenchmarkCreditLatency: from the trailing edge of a coin's last pulse to
// its Credited event. A train cannot be known to be over before
// TrainTimeout has passed, so that is the physical limit; the ratio shows
// what the driver adds (timer and wake-up slack) on top.
//
//	go test -run=^$ -bench=CreditLatency -benchtime=20x ./drivers/pulse
func BenchmarkCreditLatency(b *testing.B) {
	pin := &gpiotest.Pin{N: "GPIO17", Clock: clockwork.NewRealClock(), EdgesChan: make(chan gpio.Level)}
	cfg := testConfig
	cfg.Pin = pin
	cfg.TrainTimeout = 100 * time.Millisecond
	cfg.Poll = 0 // default 50 ms: the deadline, not the poll, must end the train
	credited := make(chan time.Time, 1)
	d := pulse.New(cfg)
	d.Enable([]int64{10})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx, func(ev cash.Event) cash.Decision {
		if ev.Kind == cash.Credited {
			credited <- time.Now()
		}
		return cash.Return
	})
	waitFor(b, 5*time.Second, "online", func() bool { return d.Health().Detail == "accepting" })
	var total time.Duration
	for b.Loop() {
		pin.EdgesChan <- gpio.Low // active-low pulse of 30 ms
		time.Sleep(30 * time.Millisecond)
		pin.EdgesChan <- gpio.High
		fall := time.Now()
		total += (<-credited).Sub(fall)
	}
	avg := total / time.Duration(b.N)
	b.ReportMetric(float64(avg.Microseconds())/1000, "ms/credit")
	b.ReportMetric(float64(avg)/float64(cfg.TrainTimeout), "x-timeout")
}
