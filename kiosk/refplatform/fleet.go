package refplatform

// Fleet: terminals' heartbeats (device states, paper, cash box, outbox
// depth, software) and the versioned configuration an operator sets per
// terminal, handed back in the heartbeat's reply. The platform lists the
// terminals with problems (GET /ref/terminals?problems=1, and the HTML
// page GET /ref/fleet).
//
// The reference platform stores a configuration as the operator sent it,
// without judging its values: the terminal validates what it receives and
// refuses a broken one, and tests need to send it one.

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"tongban/kiosk/uplink"
)

var (
	bucketHeartbeats = []byte("heartbeats") // terminalId -> heartbeatRecord JSON
	bucketConfigs    = []byte("configs")    // terminalId + 8-byte version -> uplink.ConfigUpdate JSON
)

// Problem thresholds.
const (
	defaultHeartbeat  = 60 * time.Second // until a configuration says otherwise
	staleAfterBeats   = 3                // heartbeats missed before a terminal is "silent"
	outboxProblem     = 20               // unacknowledged payments and vouchers
	cashBoxFullLevel  = 90               // percent
	maxConfigsPerTerm = 1000
)

type heartbeatRecord struct {
	Heartbeat  uplink.Heartbeat `json:"heartbeat"`
	ReceivedAt time.Time        `json:"receivedAt"`
	Count      int64            `json:"count"`
}

// TerminalHealth is a terminal as the fleet view lists it.
type TerminalHealth struct {
	TerminalID    string            `json:"terminalId"`
	Site          string            `json:"site,omitempty"`
	LastHeartbeat *time.Time        `json:"lastHeartbeat,omitempty"`
	AgeSeconds    int64             `json:"ageSeconds"` // -1: never
	Heartbeats    int64             `json:"heartbeats"`
	Heartbeat     *uplink.Heartbeat `json:"heartbeat,omitempty"`
	ConfigVersion int64             `json:"configVersion"` // newest version set by the operator
	Problems      []string          `json:"problems"`
}

func (s *store) initFleet() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketHeartbeats, bucketConfigs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	})
}

func configKey(terminal string, version int64) []byte {
	k := append([]byte(terminal), 0)
	return binary.BigEndian.AppendUint64(k, uint64(version))
}

// configsOf lists a terminal's configurations, oldest version first.
func configsOf(tx *bolt.Tx, terminal string) ([]uplink.ConfigUpdate, error) {
	var out []uplink.ConfigUpdate
	prefix := append([]byte(terminal), 0)
	c := tx.Bucket(bucketConfigs).Cursor()
	for k, v := c.Seek(prefix); k != nil && len(k) == len(prefix)+8 && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
		var cu uplink.ConfigUpdate
		if err := json.Unmarshal(v, &cu); err != nil {
			return nil, fmt.Errorf("decode config %x: %w", k, err)
		}
		out = append(out, cu)
	}
	return out, nil
}

// SetTerminalConfig stores a new configuration version for a terminal
// (what POST /ref/terminals/{terminalId}/config does). Version is
// assigned; a zero EffectiveAt means now.
func (s *Server) SetTerminalConfig(terminal string, cu uplink.ConfigUpdate) (uplink.ConfigUpdate, error) {
	if !uplink.ValidTerminalID(terminal) {
		return cu, fmt.Errorf("refplatform: bad terminal id %q", terminal)
	}
	if cu.EffectiveAt.IsZero() {
		cu.EffectiveAt = s.now()
	}
	cu.EffectiveAt = cu.EffectiveAt.UTC().Truncate(time.Millisecond)
	err := s.store.db.Update(func(tx *bolt.Tx) error {
		have, err := configsOf(tx, terminal)
		if err != nil {
			return err
		}
		if len(have) >= maxConfigsPerTerm {
			return fmt.Errorf("terminal %s has %d configurations already", terminal, len(have))
		}
		cu.Version = 1
		if len(have) > 0 {
			cu.Version = have[len(have)-1].Version + 1
		}
		return putJSON(tx, bucketConfigs, configKey(terminal, cu.Version), cu)
	})
	if err != nil {
		return cu, fmt.Errorf("refplatform: set config of %s: %w", terminal, err)
	}
	s.log.Info("refplatform: terminal configuration set", "terminal", terminal, "version", cu.Version, "effectiveAt", cu.EffectiveAt)
	return cu, nil
}

// TerminalConfigs lists a terminal's configurations, oldest first.
func (s *Server) TerminalConfigs(terminal string) ([]uplink.ConfigUpdate, error) {
	var out []uplink.ConfigUpdate
	err := s.store.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = configsOf(tx, terminal)
		return err
	})
	return out, err
}

// RecordHeartbeat stores a heartbeat and returns the configurations newer
// than the one the terminal has in force.
func (s *Server) RecordHeartbeat(terminal string, hb uplink.Heartbeat) (uplink.HeartbeatAck, error) {
	ack := uplink.HeartbeatAck{ReceivedAt: s.now().UTC().Truncate(time.Millisecond), Configs: []uplink.ConfigUpdate{}}
	err := s.store.db.Update(func(tx *bolt.Tx) error {
		var prev heartbeatRecord
		if _, err := getJSON(tx, bucketHeartbeats, []byte(terminal), &prev); err != nil {
			return err
		}
		rec := heartbeatRecord{Heartbeat: hb, ReceivedAt: ack.ReceivedAt, Count: prev.Count + 1}
		if err := putJSON(tx, bucketHeartbeats, []byte(terminal), rec); err != nil {
			return err
		}
		all, err := configsOf(tx, terminal)
		if err != nil {
			return err
		}
		for _, c := range all {
			if c.Version > hb.ConfigVersion {
				ack.Configs = append(ack.Configs, c)
			}
		}
		return nil
	})
	if err != nil {
		return uplink.HeartbeatAck{}, fmt.Errorf("refplatform: heartbeat of %s: %w", terminal, err)
	}
	return ack, nil
}

// FleetHealth lists every terminal that enrolled or sent a heartbeat,
// with its problems; problemsOnly keeps those that have any.
func (s *Server) FleetHealth(problemsOnly bool) ([]TerminalHealth, error) {
	now := s.now()
	byID := map[string]*TerminalHealth{}
	get := func(id string) *TerminalHealth {
		h, ok := byID[id]
		if !ok {
			h = &TerminalHealth{TerminalID: id, AgeSeconds: -1, Problems: []string{}}
			byID[id] = h
		}
		return h
	}
	enrolled, err := s.EnrolledTerminals()
	if err != nil {
		return nil, err
	}
	for _, t := range enrolled {
		if t.RevokedAt != nil {
			continue
		}
		get(t.TerminalID).Site = t.Site.Name
	}
	every := map[string]time.Duration{}
	err = s.store.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketHeartbeats).ForEach(func(k, v []byte) error {
			var rec heartbeatRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode heartbeat of %s: %w", k, err)
			}
			h := get(string(k))
			at, hb := rec.ReceivedAt, rec.Heartbeat
			h.LastHeartbeat, h.Heartbeat, h.Heartbeats = &at, &hb, rec.Count
			h.AgeSeconds = int64(now.Sub(at) / time.Second)
			return nil
		}); err != nil {
			return err
		}
		for id, h := range byID {
			cs, err := configsOf(tx, id)
			if err != nil {
				return err
			}
			every[id] = defaultHeartbeat
			for _, c := range cs {
				h.ConfigVersion = c.Version
				if c.HeartbeatSeconds > 0 && !c.EffectiveAt.After(now) {
					every[id] = time.Duration(c.HeartbeatSeconds) * time.Second
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("refplatform: fleet: %w", err)
	}
	out := []TerminalHealth{}
	for id, h := range byID {
		h.Problems = problemsOf(h, now, every[id])
		if problemsOnly && len(h.Problems) == 0 {
			continue
		}
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b TerminalHealth) int {
		if c := cmp.Compare(len(b.Problems), len(a.Problems)); c != 0 {
			return c
		}
		return cmp.Compare(a.TerminalID, b.TerminalID)
	})
	return out, nil
}

// problemsOf says, in a sentence each, what needs a person.
func problemsOf(h *TerminalHealth, now time.Time, every time.Duration) []string {
	p := []string{}
	if h.LastHeartbeat == nil {
		return append(p, "no heartbeat received")
	}
	if age := now.Sub(*h.LastHeartbeat); age > staleAfterBeats*every {
		p = append(p, fmt.Sprintf("silent for %s (heartbeat every %s)", age.Round(time.Second), every))
	}
	hb := h.Heartbeat
	for _, d := range hb.Devices {
		if d.State != "online" {
			msg := fmt.Sprintf("%s %s", d.Role, d.State)
			if d.Detail != "" {
				msg += ": " + d.Detail
			}
			p = append(p, msg)
		}
	}
	switch hb.Paper {
	case "low":
		p = append(p, "printer paper low")
	case "out":
		p = append(p, "printer out of paper")
	}
	if hb.CashBox.Level >= cashBoxFullLevel {
		p = append(p, fmt.Sprintf("cash box %d%% full (%d notes)", hb.CashBox.Level, hb.CashBox.Notes))
	}
	if hb.OutboxDepth >= outboxProblem {
		p = append(p, fmt.Sprintf("%d payments and vouchers not yet delivered", hb.OutboxDepth))
	}
	return p
}

// fleetRoutes registers the heartbeat (/v1/) and the operator's fleet
// endpoints (/ref/).
func (s *Server) fleetRoutes(api, mux *http.ServeMux) {
	api.HandleFunc("POST /v1/heartbeat", s.handleHeartbeat)
	mux.HandleFunc("GET /ref/fleet", s.handleFleetPage)
	mux.HandleFunc("GET /ref/terminals/{terminalId}/config", s.handleGetTerminalConfig)
	mux.HandleFunc("POST /ref/terminals/{terminalId}/config", s.handleSetTerminalConfig)
}

func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	var hb uplink.Heartbeat
	if err := decodeBody(w, r, &hb); err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
		return
	}
	if hb.SentAt.IsZero() || hb.Software == "" || hb.ConfigVersion < 0 || hb.OutboxDepth < 0 || len(hb.Devices) > 32 {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "heartbeat needs sentAt and software; configVersion and outboxDepth >= 0; at most 32 devices")
		return
	}
	ack, err := s.RecordHeartbeat(r.Header.Get(uplink.HeaderTerminalID), hb)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ack)
}

// handleRefFleet is GET /ref/terminals?problems=1 (only terminals with
// problems) or ?health=1 (all, with their heartbeats).
func (s *Server) handleRefFleet(w http.ResponseWriter, r *http.Request) {
	hs, err := s.FleetHealth(r.URL.Query().Has("problems"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, hs)
}

func (s *Server) handleGetTerminalConfig(w http.ResponseWriter, r *http.Request) {
	cs, err := s.TerminalConfigs(r.PathValue("terminalId"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if cs == nil {
		cs = []uplink.ConfigUpdate{}
	}
	writeJSON(w, http.StatusOK, cs)
}

func (s *Server) handleSetTerminalConfig(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("terminalId")
	if !uplink.ValidTerminalID(id) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "terminalId must be 1..64 of A-Z a-z 0-9 . _ -")
		return
	}
	var cu uplink.ConfigUpdate
	if err := decodeBody(w, r, &cu); err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
		return
	}
	if cu.Version != 0 {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "version is assigned by the platform; leave it out")
		return
	}
	out, err := s.SetTerminalConfig(id, cu)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

var fleetPage = template.Must(template.New("fleet").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>终端运行状态 Fleet</title>
<style>body{font-family:sans-serif;margin:16px}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px;text-align:left;vertical-align:top}.bad{background:#fde7e8}.good{background:#e7f6ea}</style>
</head><body>
<h1>终端运行状态 Fleet ({{len .}} terminals)</h1>
<p>Terminals with problems first; refreshes every 10 s. JSON: <a href="/ref/terminals?problems=1">/ref/terminals?problems=1</a></p>
<table><tr><th>terminal</th><th>site</th><th>last heartbeat</th><th>software</th><th>outbox</th><th>paper</th><th>cash box</th><th>config</th><th>problems</th></tr>
{{range .}}<tr class="{{if .Problems}}bad{{else}}good{{end}}" id="t-{{.TerminalID}}"><td>{{.TerminalID}}</td><td>{{.Site}}</td>
<td>{{if .LastHeartbeat}}{{.LastHeartbeat.Format "2006-01-02 15:04:05"}} ({{.AgeSeconds}} s ago){{else}}never{{end}}</td>
{{with .Heartbeat}}<td>{{.Software}}</td><td>{{.OutboxDepth}}</td><td>{{.Paper}}</td><td>{{.CashBox.Notes}} notes{{if ge .CashBox.Level 0}}, {{.CashBox.Level}}%{{end}}</td><td>v{{.ConfigVersion}}</td>{{else}}<td></td><td></td><td></td><td></td><td></td>{{end}}
<td>{{range .Problems}}{{.}}<br>{{else}}none{{end}}</td></tr>
{{end}}</table></body></html>
`))

func (s *Server) handleFleetPage(w http.ResponseWriter, r *http.Request) {
	hs, err := s.FleetHealth(r.URL.Query().Has("problems"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	if err := fleetPage.Execute(w, hs); err != nil {
		s.log.Warn("refplatform: fleet page", "err", err)
	}
}
