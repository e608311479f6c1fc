package service

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"tongban/drivers/device"
)

type fixed device.Health

func (f fixed) Health() device.Health { return device.Health(f) }

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.Local)

func testServer(t *testing.T) *Server {
	statm := filepath.Join(t.TempDir(), "statm")
	os.WriteFile(statm, []byte("1000 250 100 1 0 200 0\n"), 0o644)
	return New(Options{
		TerminalID: "TB-TEST-0001", Version: "v1.2.3", Started: t0, StatmPath: statm,
		Now: func() time.Time { return t0.Add(90 * time.Second) },
		Devices: []Source{
			fixed{Name: "billValidator", Driver: "id003", Path: "/dev/ttyUSB0", State: device.Online, Detail: "accepting notes",
				Counters: map[string]int64{"notes": 3, "checksumErrors": 1}, Since: t0},
			fixed{Name: "printer", Driver: "escpos", Path: "/dev/ttyS1", State: device.UserError, Detail: "paper end",
				Counters: map[string]int64{"receipts": 7, "errors": 2}, LastError: `print: "paper" <out>`, ErrorAt: t0.Add(time.Minute), Since: t0.Add(time.Minute)},
			fixed{Name: "idCardReader", Driver: "idcard", Path: "/dev/ttyUSB2", State: device.NoDevice, Detail: "port not present",
				Counters: map[string]int64{"errors": 5}, Since: t0},
		},
	})
}

func get(t *testing.T, h http.Handler, path, host string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Host = host
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestDevicesJSON(t *testing.T) {
	resp, body := get(t, testServer(t), "/api/devices", "127.0.0.1:8781")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header)
	}
	var rep Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.TerminalID != "TB-TEST-0001" || len(rep.Devices) != 3 || rep.Devices[1].Detail != "paper end" || rep.Devices[0].Counters["notes"] != 3 {
		t.Fatalf("%+v", rep)
	}
}

func TestStatusPage(t *testing.T) {
	resp, body := get(t, testServer(t), "/status", "localhost:8781")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("csp %q", csp)
	}
	for _, want := range []string{
		`<meta http-equiv="refresh" content="2">`, "设备状态", "Device status", "TB-TEST-0001",
		"纸币识别器", "Bill validator", "凭条打印机", "身份证阅读器",
		`data-state="online"`, "在线 online", `data-state="userError"`, "需处理 user error", "未连接 no device",
		"paper end", "receipts 7", "checksumErrors 1", "/dev/ttyS1",
		"print: &#34;paper&#34; &lt;out&gt;", // escaped, never raw HTML
		"2026-11-26 10:01:00", "在线 Online: <b>1 / 3</b>", "v1.2.3",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// No external resources: nothing loaded from anywhere.
	for _, bad := range []string{"<script", "src=", "http://", "https://", "<link"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if resp, _ := get(t, testServer(t), "/", "127.0.0.1"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/status" {
		t.Errorf("/ → %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// sampleLine is a metric line of the text format: name, labels, value.
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.e+]+|NaN|[+-]Inf)$`)

func TestMetrics(t *testing.T) {
	resp, body := get(t, testServer(t), "/metrics", "[::1]:8781")
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("content type %q", ct)
	}
	typed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(f, " ")
			if _, dup := typed[name]; dup {
				t.Errorf("family %s typed twice", name)
			}
			typed[name] = typ
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("bad line %q", line)
			continue
		}
		if _, ok := typed[m[1]]; !ok {
			t.Errorf("sample before its TYPE: %q", line)
		}
	}
	for _, want := range []string{
		`tongban_device_state{device="billValidator",driver="id003",state="online"} 1`,
		`tongban_device_state{device="billValidator",driver="id003",state="noDevice"} 0`,
		`tongban_device_state{device="printer",driver="escpos",state="userError"} 1`,
		`tongban_device_state{device="idCardReader",driver="idcard",state="noDevice"} 1`,
		`tongban_device_up{device="printer",driver="escpos"} 0`,
		`tongban_device_receipts_total{device="printer",driver="escpos"} 7`,
		`tongban_device_checksum_errors_total{device="billValidator",driver="id003"} 1`,
		`tongban_device_errors_total{device="idCardReader",driver="idcard"} 5`,
		`tongban_device_errors_total{device="printer",driver="escpos"} 2`,
		`tongban_device_last_error_timestamp_seconds{device="printer",driver="escpos"} ` + formatInt(t0.Add(time.Minute).Unix()),
		`tongban_build_info{version="v1.2.3",terminal="TB-TEST-0001"} 1`,
		"tongban_uptime_seconds 90",
		"process_resident_memory_bytes " + formatInt(250*int64(os.Getpagesize())),
		"# TYPE tongban_device_receipts_total counter",
		"# TYPE tongban_device_state gauge",
		"# TYPE go_goroutines gauge",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, `last_error_timestamp_seconds{device="billValidator"`) {
		t.Error("an error time for a device that never failed")
	}
}

func formatInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestLabelEscapingAndNames(t *testing.T) {
	if got := escapeLabel("a\"b\\c\nd"); got != `a\"b\\c\nd` {
		t.Errorf("escape: %s", got)
	}
	for in, want := range map[string]string{"checksumErrors": "checksum_errors", "reads": "reads", "noCard": "no_card", "x-y.z": "x_y_z", "bytes_total": "bytes"} {
		if got := metricName(in); got != want {
			t.Errorf("metricName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	s := testServer(t)
	for _, host := range []string{"evil.example", "evil.example:8781", "10.0.0.1:8781"} {
		if resp, _ := get(t, s, "/api/devices", host); resp.StatusCode != http.StatusForbidden {
			t.Errorf("host %s: %d", host, resp.StatusCode)
		}
	}
	for _, addr := range []string{"0.0.0.0:8781", ":8781", "192.168.1.5:8781", "nonsense"} {
		if err := CheckAddr(addr); err == nil {
			t.Errorf("CheckAddr(%q) accepted", addr)
		}
		if err := s.ListenAndServe(context.Background(), addr, nil); err == nil {
			t.Errorf("ListenAndServe(%q) served", addr)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx, "127.0.0.1:0", func(a string) { addrs <- a }) }()
	resp, err := http.Get("http://" + <-addrs + "/metrics")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", err, resp)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
