package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat; it is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuTicks is a process's user+system time in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st
}

func rssKiB(t *testing.T, pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// TestBudgetStartAndIdle runs the real binary as the demo does (three
// processes) and measures the daemon: start to a served screen (budget
// 3 s), then idle CPU (budget 1% of one core) and RSS (budget 40 MB) with
// the bill validator polled at 150 ms and the printer watched. BENCH=1
// measures for longer.
func TestBudgetStartAndIdle(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	dir := t.TempDir()
	exe := buildKioskd(t, dir)
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	spawn := func(args ...string) *exec.Cmd {
		c := exec.Command(exe, args...)
		lf, _ := os.Create(filepath.Join(dir, args[0]+".log"))
		c.Stdout, c.Stderr = lf, lf
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Signal(syscall.SIGTERM); c.Wait(); lf.Close() })
		return c
	}
	wait := func(name string) string {
		if err := waitFile(t.Context(), filepath.Join(data, name+".addr"), 10*time.Second); err != nil {
			t.Fatal(err)
		}
		a, _ := readAddr(data, name)
		return a
	}
	spawn("platform", "-data", data, "-listen", "127.0.0.1:0")
	spawn("sim", "-data", data, "-control", "127.0.0.1:0")
	plat, _ := wait("platform"), wait("sim")
	prof := filepath.Join(data, "profile.json")
	if err := writeDemoProfile(prof); err != nil {
		t.Fatal(err)
	}
	d := spawn("run", "-profile", prof, "-data", data, "-platform", "http://"+plat, "-listen", "127.0.0.1:0", "-service", "127.0.0.1:0", "-allow-unenrolled")
	ui := wait("ui")
	resp, err := http.Get("http://" + ui + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("screen: %v %v", err, resp)
	}
	resp.Body.Close()
	ready := time.Since(start)
	t.Logf("budget: start of the three processes to a served screen: %v (budget 3s, ratio %.2f)", ready.Round(time.Millisecond), ready.Seconds()/3)
	if limit := 3 * time.Second; ready > limit && (os.Getenv("BENCH") != "" || ready > 4*limit) {
		t.Errorf("start took %v, budget 3s", ready)
	}

	time.Sleep(2 * time.Second) // let the bill validator finish its start-up
	window := 5 * time.Second
	if os.Getenv("BENCH") != "" {
		window = 30 * time.Second
	}
	pid := d.Process.Pid
	t0, c0 := time.Now(), cpuTicks(t, pid)
	time.Sleep(window)
	c1, el := cpuTicks(t, pid), time.Since(t0)
	cpu := float64(c1-c0) / clockTicks / el.Seconds() * 100
	rss := rssKiB(t, pid)
	t.Logf("budget: daemon idle cpu %.2f%% of one core over %v (budget 1%%, ratio %.2f); rss %.1f MB (budget 40 MB, ratio %.2f)",
		cpu, window, cpu/1, float64(rss)/1024, float64(rss)/1024/40)
	if cpu >= 1 {
		t.Errorf("idle cpu %.2f%% of one core, budget 1%%", cpu)
	}
	if rss >= 40*1024 {
		t.Errorf("rss %d KiB, budget 40 MB", rss)
	}
}
