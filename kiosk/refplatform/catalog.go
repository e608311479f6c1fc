package refplatform

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"tongban/kiosk/uplink"
)

var (
	errTownshipNotFound = errors.New("township not found")
	errMatterNotFound   = errors.New("matter not found")
)

// catalogData is the sample directory and the township lists, checked
// once when the server starts and read-only afterwards.
type catalogData struct {
	matters   map[string]uplink.Matter
	townships map[string]township
	order     []string // township ids in display order
}

func newCatalogData() (*catalogData, error) {
	d := &catalogData{matters: map[string]uplink.Matter{}, townships: map[string]township{}}
	placeholder := uplink.ServicePoint{Name: txt("x", "x"), Address: "x", Hours: txt("x", "x")}
	for _, m := range sampleDirectory() {
		check := m
		if m.Counter != nil { // Where comes from the township; check the rest
			check.Counter = &uplink.CounterInfo{Reason: m.Counter.Reason, Where: placeholder}
		}
		if err := check.Validate(); err != nil {
			return nil, fmt.Errorf("sample directory: %w", err)
		}
		if _, dup := d.matters[m.MatterID]; dup {
			return nil, fmt.Errorf("sample directory: matter %s twice", m.MatterID)
		}
		d.matters[m.MatterID] = m
	}
	for _, t := range sampleTownships() {
		if !uplink.ValidToken(t.ID) || len(t.Code) != 2 || t.Code[0] < 'A' || t.Code[0] > 'Z' || t.Code[1] < 'A' || t.Code[1] > 'Z' {
			return nil, fmt.Errorf("sample township %q: bad id or code %q", t.ID, t.Code)
		}
		if err := t.Centre.Validate(); err != nil {
			return nil, fmt.Errorf("sample township %s: %w", t.ID, err)
		}
		for i, e := range t.List {
			if _, ok := d.matters[e.MatterID]; !ok {
				return nil, fmt.Errorf("sample township %s: unknown matter %s", t.ID, e.MatterID)
			}
			if !e.Until.IsZero() && !e.Until.After(e.From) {
				return nil, fmt.Errorf("sample township %s: matter %s ends before it starts", t.ID, e.MatterID)
			}
			for _, o := range t.List[:i] {
				if o.MatterID == e.MatterID && overlap(o, e) {
					return nil, fmt.Errorf("sample township %s: matter %s listed twice at once", t.ID, e.MatterID)
				}
			}
		}
		d.townships[t.ID] = t
		d.order = append(d.order, t.ID)
	}
	return d, nil
}

func overlap(a, b listEntry) bool {
	endsAfter := func(e listEntry, t time.Time) bool { return e.Until.IsZero() || e.Until.After(t) }
	return endsAfter(a, b.From) && endsAfter(b, a.From)
}

func (e listEntry) inForce(at time.Time) bool {
	return !at.Before(e.From) && (e.Until.IsZero() || at.Before(e.Until))
}

func (d *catalogData) township(id string) (township, error) {
	t, ok := d.townships[id]
	if !ok {
		return township{}, fmt.Errorf("township %q: %w", id, errTownshipNotFound)
	}
	return t, nil
}

// matterAt returns matter id as the township offers it at at (Counter.Where
// filled in), or errMatterNotFound / errMatterNotOffered.
func (d *catalogData) matterAt(t township, id string, at time.Time) (uplink.Matter, error) {
	m, ok := d.matters[id]
	if !ok {
		return uplink.Matter{}, fmt.Errorf("matter %q: %w", id, errMatterNotFound)
	}
	if !slices.ContainsFunc(t.List, func(e listEntry) bool { return e.MatterID == id && e.inForce(at) }) {
		return uplink.Matter{}, fmt.Errorf("matter %s is not on the list of %s at %s: %w", id, t.ID, at.In(chinaTime).Format(time.DateTime), errMatterNotOffered)
	}
	return localise(m, t), nil
}

// localise gives a counter matter the township's service centre.
func localise(m uplink.Matter, t township) uplink.Matter {
	if m.Counter != nil {
		m.Counter = &uplink.CounterInfo{Reason: m.Counter.Reason, Where: t.Centre}
	}
	return m
}

// catalog is the township's list in force at at: exactly the entries with
// From <= at < Until, with the window [validFrom, validUntil) in which
// that list does not change, and a version that hashes the content.
func (d *catalogData) catalog(id string, at time.Time) (uplink.Catalog, error) {
	t, err := d.township(id)
	if err != nil {
		return uplink.Catalog{}, err
	}
	var from time.Time
	var until *time.Time
	var ms []uplink.Matter
	for _, e := range t.List {
		for _, p := range []time.Time{e.From, e.Until} {
			switch {
			case p.IsZero():
			case !p.After(at):
				from = latest(from, p)
			case until == nil || p.Before(*until):
				u := p.UTC()
				until = &u
			}
		}
		if e.inForce(at) {
			ms = append(ms, localise(d.matters[e.MatterID], t))
		}
	}
	// Directory order, extra county matters last.
	slices.SortFunc(ms, func(a, b uplink.Matter) int {
		ka, kb := a.DirectoryNo, b.DirectoryNo
		if ka == 0 {
			ka = 1000
		}
		if kb == 0 {
			kb = 1000
		}
		return cmp.Or(cmp.Compare(ka, kb), cmp.Compare(a.MatterID, b.MatterID))
	})
	if ms == nil {
		ms = []uplink.Matter{}
	}
	if from.IsZero() {
		from = time.Unix(0, 0) // before the first list: empty "since ever", so the version does not depend on at
	}
	c := uplink.Catalog{
		Township: t.ID, TownshipName: t.Name, At: at.UTC(), ValidFrom: from.UTC(), ValidUntil: until,
		Sample: true, Notice: sampleNotice, ServiceCentre: t.Centre, Matters: ms,
	}
	v, err := catalogVersion(c)
	if err != nil {
		return uplink.Catalog{}, err
	}
	c.Version = v
	return c, nil
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// catalogVersion hashes everything but the evaluation instant, so every
// at inside one window gives the same version (and ETag).
func catalogVersion(c uplink.Catalog) (string, error) {
	c.At, c.Version = time.Time{}, ""
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("catalog version: %w", err)
	}
	sum := sha256.Sum256(b)
	return "c" + hex.EncodeToString(sum[:12]), nil
}

// parseAt reads the at query parameter: an RFC 3339 instant, or a date
// (midnight China time, when effective dates start).
func parseAt(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, chinaTime); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("at %q is neither RFC 3339 nor YYYY-MM-DD", s)
}

// etagMatches implements If-None-Match for a strong ETag: a list of
// entity tags (weak ones compare weakly, as RFC 9110 says for this
// header) or "*".
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// Catalog is what GET /v1/catalog answers terminalID: the list of
// township (empty: the terminal's township) in force at at.
func (s *Server) Catalog(terminalID, townshipID string, at time.Time) (uplink.Catalog, error) {
	if townshipID == "" {
		b, err := s.store.terminalBinding(terminalID, s.apps.defaultTownship)
		if err != nil {
			return uplink.Catalog{}, fmt.Errorf("refplatform: catalog for %s: %w", terminalID, err)
		}
		townshipID = b.Township
	}
	c, err := s.apps.data.catalog(townshipID, at)
	if err != nil {
		return uplink.Catalog{}, fmt.Errorf("refplatform: catalog: %w", err)
	}
	return c, nil
}

func (s *Server) handleCatalog(w http.ResponseWriter, r *http.Request) {
	e := s.env(r)
	q := r.URL.Query()
	at := e.now
	if a := q.Get("at"); a != "" {
		t, err := parseAt(a)
		if err != nil {
			writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
			return
		}
		at = t
	}
	id := q.Get("township")
	if id != "" && !uplink.ValidToken(id) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "township must be 1..64 of A-Z a-z 0-9 . _ -")
		return
	}
	c, err := s.Catalog(r.Header.Get(uplink.HeaderTerminalID), id, at)
	if err != nil {
		s.appError(w, r, err)
		return
	}
	etag := `"` + c.Version + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Vary", uplink.HeaderTerminalID) // without ?township the terminal's binding decides
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	b, err := json.Marshal(c)
	if err != nil {
		s.log.Error("refplatform: encode catalog", "township", id, "err", err)
		writeError(w, http.StatusInternalServerError, uplink.CodeInternal, "encode catalog")
		return
	}
	// no-cache, not no-store: caches may keep it but must revalidate (If-None-Match).
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
}

// TerminalBinding is the township a terminal stands in (schema
// TerminalBinding). Terminals nobody bound use Options.DefaultTownship
// (Default true).
type TerminalBinding struct {
	TerminalID string     `json:"terminalId"`
	Township   string     `json:"township"`
	BoundAt    *time.Time `json:"boundAt,omitempty"`
	Default    bool       `json:"default"`
}

// TerminalBindRequest is the body of POST /ref/terminals/{terminalId}
// (schema TerminalBindRequest).
type TerminalBindRequest struct {
	Township string `json:"township"`
}

var bucketTerminals = []byte("terminals") // terminalId -> TerminalBinding JSON

// terminalBinding returns the township a terminal is bound to, or the
// default one.
func (s *store) terminalBinding(id, def string) (TerminalBinding, error) {
	var b TerminalBinding
	err := s.db.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx, bucketTerminals, []byte(id), &b)
		if err == nil && !found {
			b = TerminalBinding{TerminalID: id, Township: def, Default: true}
		}
		return err
	})
	return b, err
}

func (s *store) bindTerminal(b TerminalBinding) error {
	return s.db.Update(func(tx *bolt.Tx) error { return putJSON(tx, bucketTerminals, []byte(b.TerminalID), b) })
}

func (s *store) terminalBindings() ([]TerminalBinding, error) {
	out := []TerminalBinding{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTerminals).ForEach(func(k, v []byte) error {
			var b TerminalBinding
			if err := json.Unmarshal(v, &b); err != nil {
				return fmt.Errorf("decode terminal %s: %w", k, err)
			}
			out = append(out, b)
			return nil
		})
	})
	return out, err
}

// BindTerminal binds a terminal to a township (what POST
// /ref/terminals/{terminalId} does).
func (s *Server) BindTerminal(terminalID, townshipID string) (TerminalBinding, error) {
	if !uplink.ValidTerminalID(terminalID) {
		return TerminalBinding{}, fmt.Errorf("refplatform: bad terminal id %q", terminalID)
	}
	if _, err := s.apps.data.township(townshipID); err != nil {
		return TerminalBinding{}, fmt.Errorf("refplatform: bind %s: %w", terminalID, err)
	}
	t := s.now().UTC().Truncate(time.Millisecond)
	b := TerminalBinding{TerminalID: terminalID, Township: townshipID, BoundAt: &t}
	if err := s.store.bindTerminal(b); err != nil {
		return TerminalBinding{}, fmt.Errorf("refplatform: bind %s: %w", terminalID, err)
	}
	s.log.Info("refplatform: terminal bound", "terminal", terminalID, "township", townshipID)
	return b, nil
}

func (s *Server) handleRefBindTerminal(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("terminalId")
	if !uplink.ValidTerminalID(id) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "terminalId must be 1..64 of A-Z a-z 0-9 . _ -")
		return
	}
	var req TerminalBindRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
		return
	}
	b, err := s.BindTerminal(id, req.Township)
	if err != nil {
		s.appError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) handleRefTerminals(w http.ResponseWriter, r *http.Request) {
	if q := r.URL.Query(); q.Has("problems") || q.Has("health") {
		s.handleRefFleet(w, r) // heartbeats and problems (fleet.go)
		return
	}
	b, err := s.store.terminalBindings()
	if err != nil {
		s.appError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}
