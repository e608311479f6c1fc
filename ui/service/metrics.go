package service

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"tongban/drivers/device"
)

// States are every device state, so a gauge exists for each (0 or 1) and
// an alert can test for "not online" without knowing the others.
var states = []device.State{device.Online, device.Offline, device.NoDevice, device.HardwareError, device.UserError, device.Busy, device.Starting}

// metricsWriter writes the Prometheus text exposition format (0.0.4): a
// family's HELP and TYPE once, then its samples.
type metricsWriter struct{ b strings.Builder }

func (m *metricsWriter) family(name, typ, help string) {
	fmt.Fprintf(&m.b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes one line; labels are name, value pairs.
func (m *metricsWriter) sample(name string, value float64, labels ...string) {
	m.b.WriteString(name)
	if len(labels) > 0 {
		m.b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				m.b.WriteByte(',')
			}
			m.b.WriteString(labels[i])
			m.b.WriteString(`="`)
			m.b.WriteString(escapeLabel(labels[i+1]))
			m.b.WriteByte('"')
		}
		m.b.WriteByte('}')
	}
	m.b.WriteByte(' ')
	m.b.WriteString(strconv.FormatFloat(value, 'f', -1, 64)) // plain digits, no exponent
	m.b.WriteByte('\n')
}

// escapeLabel escapes a label value as the format asks: backslash,
// double quote and line feed.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// metricName turns a driver's counter name ("checksumErrors") into a
// metric name part ("checksum_errors"); anything outside [a-z0-9_] becomes _.
func metricName(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case unicode.IsUpper(r) && r < unicode.MaxASCII:
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		case (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return strings.TrimSuffix(b.String(), "_total")
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// rssBytes reads the resident set size from statm (second field, pages).
func (s *Server) rssBytes() (float64, bool) {
	b, err := os.ReadFile(s.opts.StatmPath)
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return float64(pages * int64(os.Getpagesize())), true
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	rep := s.Report()
	var m metricsWriter

	m.family("tongban_device_state", "gauge", "Device state in the XFS4IoT vocabulary: 1 for the current state, 0 for the others.")
	for _, h := range rep.Devices {
		sts := states
		if !slices.Contains(sts, h.State) {
			sts = append(slices.Clone(states), h.State)
		}
		for _, st := range sts {
			v := 0.0
			if h.State == st {
				v = 1
			}
			m.sample("tongban_device_state", v, "device", h.Name, "driver", h.Driver, "state", string(st))
		}
	}
	m.family("tongban_device_up", "gauge", "1 if the device is online, else 0.")
	for _, h := range rep.Devices {
		v := 0.0
		if h.State == device.Online {
			v = 1
		}
		m.sample("tongban_device_up", v, "device", h.Name, "driver", h.Driver)
	}
	m.family("tongban_device_state_since_seconds", "gauge", "When the device entered its current state (Unix time).")
	for _, h := range rep.Devices {
		m.sample("tongban_device_state_since_seconds", unixSeconds(h.Since), "device", h.Name, "driver", h.Driver)
	}
	m.family("tongban_device_last_error_timestamp_seconds", "gauge", "When the device last reported an error (Unix time); absent if never.")
	for _, h := range rep.Devices {
		if !h.ErrorAt.IsZero() {
			m.sample("tongban_device_last_error_timestamp_seconds", unixSeconds(h.ErrorAt), "device", h.Name, "driver", h.Driver)
		}
	}

	// Every driver counter is a counter family of its own, named after it,
	// with one sample per device that has it.
	type sample struct {
		name, driver string
		v            int64
	}
	fams := map[string][]sample{}
	helps := map[string]string{}
	for _, h := range rep.Devices {
		for c, v := range h.Counters {
			fam := "tongban_device_" + metricName(c) + "_total"
			fams[fam] = append(fams[fam], sample{h.Name, h.Driver, v})
			helps[fam] = c
		}
	}
	names := make([]string, 0, len(fams))
	for f := range fams {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		m.family(f, "counter", fmt.Sprintf("The drivers' %q counter.", helps[f]))
		ss := fams[f]
		slices.SortFunc(ss, func(a, b sample) int { return strings.Compare(a.name, b.name) })
		for _, sm := range ss {
			m.sample(f, float64(sm.v), "device", sm.name, "driver", sm.driver)
		}
	}

	m.family("tongban_build_info", "gauge", "The daemon's version and terminal id.")
	m.sample("tongban_build_info", 1, "version", rep.Version, "terminal", rep.TerminalID)
	m.family("tongban_uptime_seconds", "gauge", "Seconds since the daemon started.")
	m.sample("tongban_uptime_seconds", rep.Now.Sub(rep.Started).Seconds())
	m.family("process_start_time_seconds", "gauge", "Start time of the daemon since the Unix epoch in seconds.")
	m.sample("process_start_time_seconds", unixSeconds(rep.Started))
	m.family("go_goroutines", "gauge", "Number of goroutines that currently exist.")
	m.sample("go_goroutines", float64(goroutines()))
	if rss, ok := s.rssBytes(); ok {
		m.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes (from /proc/self/statm).")
		m.sample("process_resident_memory_bytes", rss)
	}
	s.writeGauges(&m) // the daemon's own: heartbeat age, outbox depth (extra.go)

	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	if _, err := w.Write([]byte(m.b.String())); err != nil {
		s.log.Debug("write metrics", "err", err)
	}
}
