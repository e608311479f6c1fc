//go:build linux

package ssp_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/simport"
	"tongban/drivers/ssp"
	"tongban/drivers/ssp/sim"
)

// simChildEnv makes the test binary act as a simulator process (see
// TestMain), so the idle-poll figure is the driver's process alone, as on
// a kiosk where the validator is hardware. simChildEncEnv asks for eSSP.
const (
	simChildEnv    = "SSP_SIM_CHILD_LINK"
	simChildEncEnv = "SSP_SIM_CHILD_ENCRYPTED"
)

func TestMain(m *testing.M) {
	if link := os.Getenv(simChildEnv); link != "" {
		enc, _ := strconv.ParseBool(os.Getenv(simChildEncEnv))
		if err := runSimChild(link, enc); err != nil {
			fmt.Fprintln(os.Stderr, "sim child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// countAnswers counts the simulator's answers, i.e. the requests served.
type countAnswers struct {
	rw io.ReadWriter
	n  atomic.Int64
}

func (c *countAnswers) Read(p []byte) (int, error) { return c.rw.Read(p) }
func (c *countAnswers) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.rw.Write(p)
}

// runSimChild serves a simulator on a pty at link. Each line on stdin is
// answered with "<cpu ns> <answers>"; EOF ends it.
func runSimChild(link string, encrypted bool) error {
	ep, err := simport.Open(link, ssp.DefaultLine())
	if err != nil {
		return err
	}
	defer ep.Close()
	c := &countAnswers{rw: ep}
	go sim.New(sim.Config{Delays: sim.FastDelays(), RequireEncryption: encrypted}).Serve(context.Background(), c)
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Println(int64(usage().cpu), c.n.Load())
	}
	return nil
}

type rusage struct {
	cpu time.Duration // user + system
	csw int64         // voluntary + involuntary context switches
}

func usage() rusage {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return rusage{time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), int64(ru.Nvcsw) + int64(ru.Nivcsw)}
}

// simChild starts the simulator process and returns a probe for its CPU
// time and the number of requests it has answered.
func simChild(t testing.TB, link string, encrypted bool) func() (time.Duration, int64) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), simChildEnv+"="+link, simChildEncEnv+"="+strconv.FormatBool(encrypted))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	out := bufio.NewScanner(stdout)
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("sim child did not start: %q %v", out.Text(), out.Err())
	}
	return func() (time.Duration, int64) {
		fmt.Fprintln(stdin, "?")
		var cpu, n int64
		if !out.Scan() {
			t.Fatalf("sim child: %v", out.Err())
		}
		fmt.Sscan(out.Text(), &cpu, &n)
		return time.Duration(cpu), n
	}
}

// idleDriver runs the driver with its defaults (300 ms poll) against a
// simulator in a child process, over a real pty, logging nothing, and
// waits until start-up has settled.
func idleDriver(t testing.TB, encrypted bool) func() (time.Duration, int64) {
	r := newRig(t)
	probe := simChild(t, r.link, encrypted)
	r.startDriver(ssp.Config{Encrypted: encrypted, Logger: slog.New(slog.DiscardHandler)})
	r.drv.Enable(allCNY)
	r.waitState(device.Online, "accepting notes")
	time.Sleep(700 * time.Millisecond)
	return probe
}

// pollWire is the wire time of one plain poll at 9600 8N2: 6 bytes out,
// 6 back (an idle reply is F0 alone). An eSSP poll is 22 + 22 bytes.
var (
	pollWire    = ssp.DefaultLine().WireTime(12)
	pollWireEnc = ssp.DefaultLine().WireTime(44)
)

// TestIdlePollCPU measures the CPU cost of 3 s of idle polling at the
// default 300 ms as a share of one core (budget 0.5 %) for the driver's
// process, in SSP and eSSP; the simulator runs in a child process and its
// cost is logged separately. It only runs with BENCH=1:
//
//	BENCH=1 go test -count=1 -run TestIdlePollCPU -v ./drivers/ssp/
func TestIdlePollCPU(t *testing.T) {
	if os.Getenv("BENCH") != "1" {
		t.Skip("set BENCH=1 to measure idle-poll CPU")
	}
	modes(t, func(t *testing.T, encrypted bool) {
		probe := idleDriver(t, encrypted)
		const window = 3 * time.Second
		s0, p0 := probe()
		u0, t0 := usage(), time.Now()
		time.Sleep(window)
		u1, el := usage(), time.Since(t0)
		s1, p1 := probe()
		polls, cpu, simCPU := p1-p0, u1.cpu-u0.cpu, s1-s0
		pct := 100 * float64(cpu) / float64(el)
		perPoll := cpu / time.Duration(max(polls, 1))
		wire := pollWire
		if encrypted {
			wire = pollWireEnc
		}
		t.Logf("driver process: %d polls in %v, CPU %v = %.3f%% of one core (budget 0.5%%); %v per poll = %.3f× the poll's wire time (%v at 9600 8N2); %.1f context switches per poll",
			polls, el.Round(time.Millisecond), cpu, pct, perPoll, float64(perPoll)/float64(wire), wire, float64(u1.csw-u0.csw)/float64(max(polls, 1)))
		t.Logf("simulator process (for reference): CPU %v = %.3f%% of one core", simCPU, 100*float64(simCPU)/float64(el))
		if polls < int64(window/ssp.DefaultPollInterval)-2 {
			t.Errorf("only %d polls in %v", polls, window)
		}
		if pct > 0.5 {
			t.Errorf("idle polling costs %.3f%% of a core, budget 0.5%%", pct)
		}
	})
}

// BenchmarkIdlePoll: one iteration is one idle poll at the default 300 ms
// interval (plain SSP). It reports the driver process's CPU per poll, its
// share of one core, and CPU per poll over the poll's wire time.
//
//	go test -run '^$' -bench IdlePoll -benchtime 10x ./drivers/ssp/
func BenchmarkIdlePoll(b *testing.B) {
	probe := idleDriver(b, false)
	_, p0 := probe()
	u0, t0 := usage(), time.Now()
	b.ResetTimer()
	// One sleep, not one per iteration: the benchmark's own timer wake-ups
	// would otherwise be counted against the driver.
	time.Sleep(time.Duration(b.N) * ssp.DefaultPollInterval)
	b.StopTimer()
	u1, el := usage(), time.Since(t0)
	_, p1 := probe()
	polls := max(p1-p0, 1)
	cpu := u1.cpu - u0.cpu
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(polls), "cpu-ns/poll")
	b.ReportMetric(100*float64(cpu)/float64(el), "%core")
	b.ReportMetric(float64(cpu)/float64(polls)/float64(pollWire), "cpu/wire")
}
