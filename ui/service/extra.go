package service

// Gauge is one extra metric sample the daemon supplies (heartbeat age,
// outbox depth, ...), written after the device metrics.
type Gauge struct {
	Name   string   // e.g. tongban_outbox_depth
	Help   string   // one line
	Type   string   // gauge or counter; "" means gauge
	Value  float64  //
	Labels []string // name, value pairs
}

// writeGauges writes the extra samples, one family per distinct name in
// the order first seen.
func (s *Server) writeGauges(m *metricsWriter) {
	if s.opts.Gauges == nil {
		return
	}
	seen := map[string]bool{}
	gs := s.opts.Gauges()
	for _, g := range gs {
		if seen[g.Name] {
			continue
		}
		seen[g.Name] = true
		typ := g.Type
		if typ == "" {
			typ = "gauge"
		}
		m.family(g.Name, typ, g.Help)
		for _, h := range gs {
			if h.Name == g.Name {
				m.sample(h.Name, h.Value, h.Labels...)
			}
		}
	}
}

// mount lets the daemon add its technician pages (kioskd tech.go) to the
// same loopback-only handler.
func (s *Server) mount() {
	if s.opts.Mount != nil {
		s.opts.Mount(s.mux)
	}
}
