package refplatform

import (
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
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

// Applications become cases in the same fsync'd bbolt transaction that
// records their Idempotency-Key (bucket ops, like vouchers and orders), so
// a replay, even twenty at once or after a crash, finds the one case. A
// case moves along its timeline without timers: each record stores when
// its next step falls due, and every read first applies the steps due by
// then (Options.CaseStep apart), in the same transaction; POST
// /ref/cases/{caseId}/advance moves one step at once.

var (
	bucketCases       = []byte("cases")       // caseId -> caseRecord JSON
	bucketCaseApps    = []byte("caseApps")    // applicationId -> caseId
	bucketCasePersons = []byte("casePersons") // personKey "/" caseId -> "" (cases by ID number, keyed by HMAC, not the number)
	bucketCaseSeq     = []byte("caseSeq")     // "2026-CG" -> 8-byte big-endian last sequence number
	bucketRatings     = []byte("ratings")     // ratingId -> ratingRecord JSON
	bucketRatingSvc   = []byte("ratingSvc")   // service -> ratingId (one rating per service)
	bucketAppsMeta    = []byte("appsMeta")
	keyPersonSalt     = []byte("personSalt")
)

const (
	opApplicationCreate = "application.create"
	opRatingCreate      = "rating.create"
)

// maxClockSkew is how far in the future a terminal's submittedAt may lie.
const maxClockSkew = 5 * time.Minute

// defaultCaseStep is Options.CaseStep when it is 0.
const defaultCaseStep = 10 * time.Minute

var (
	errMatterNotOffered    = errors.New("matter is not on the township's list")
	errWrongChannel        = errors.New("matter is a bill payment: pay it with POST /v1/payments")
	errApplicationConflict = errors.New("applicationId was submitted under another Idempotency-Key")
	errCaseNotFound        = errors.New("case not found")
	errCaseFinal           = errors.New("case has reached its end")
	errServiceNotFound     = errors.New("no such service of this terminal")
	errAlreadyRated        = errors.New("service was rated under another Idempotency-Key")
)

// codeCaseFinal answers POST /ref/cases/{caseId}/advance on a finished
// case; the terminal contract never sees it.
const codeCaseFinal = "case_final"

// incompleteError carries the complete list of what is missing.
type incompleteError struct{ missing []uplink.MissingItem }

func (e *incompleteError) Error() string {
	return fmt.Sprintf("application incomplete: %d items missing", len(e.missing))
}

// counterOnlyError says where and when the matter is handled instead.
type counterOnlyError struct {
	matter  string
	counter uplink.CounterInfo
}

func (e *counterOnlyError) Error() string {
	return fmt.Sprintf("matter %s is handled only at %s", e.matter, e.counter.Where.Name.Zh)
}

// appsState is the application side of the server: the read-only sample
// data and the settings.
type appsState struct {
	data            *catalogData
	persons         personDB
	defaultTownship string
	caseStep        time.Duration // <= 0: cases move only when an operator advances them
	salt            []byte        // HMAC key of the person index, made on first start
}

// newApps checks the sample data, creates the buckets and reads (or makes)
// the person index key.
func newApps(opts Options, st *store) (*appsState, error) {
	data, err := newCatalogData()
	if err != nil {
		return nil, err
	}
	a := &appsState{data: data, persons: newPersonDB(), defaultTownship: opts.DefaultTownship, caseStep: opts.CaseStep}
	if a.defaultTownship == "" {
		a.defaultTownship = DefaultTownship
	}
	if _, err := data.township(a.defaultTownship); err != nil {
		return nil, fmt.Errorf("default township: %w", err)
	}
	if a.caseStep == 0 {
		a.caseStep = defaultCaseStep
	}
	err = st.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketCases, bucketCaseApps, bucketCasePersons, bucketCaseSeq, bucketRatings,
			bucketRatingSvc, bucketAppsMeta, bucketTerminals} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		meta := tx.Bucket(bucketAppsMeta)
		if v := meta.Get(keyPersonSalt); v != nil {
			a.salt = slices.Clone(v)
			return nil
		}
		a.salt = make([]byte, 32)
		_, _ = rand.Read(a.salt) // never fails (Go 1.24+)
		return meta.Put(keyPersonSalt, a.salt)
	})
	if err != nil {
		return nil, fmt.Errorf("init applications: %w", err)
	}
	return a, nil
}

// personKey indexes cases by ID number without storing the number in the
// index: an HMAC under a key made on first start, so the index cannot be
// reversed by hashing every possible number.
func (a *appsState) personKey(idNumber string) string {
	m := hmac.New(sha256.New, a.salt)
	m.Write([]byte(idNumber))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// appRoutes registers the catalog, person, application, case and rating
// endpoints: api gets the /v1/ ones (behind the X-Terminal-Id check and
// fault injection), mux the operator and tracking pages.
func (s *Server) appRoutes(api, mux *http.ServeMux) {
	api.HandleFunc("GET /v1/catalog", s.handleCatalog)
	api.HandleFunc("POST /v1/persons/lookup", s.handlePersonLookup)
	api.HandleFunc("POST /v1/applications", s.handleCreateApplication)
	api.HandleFunc("GET /v1/cases/{caseId}", s.handleGetCase)
	api.HandleFunc("POST /v1/cases/lookup", s.handleCaseLookup)
	api.HandleFunc("POST /v1/ratings", s.handleCreateRating)
	mux.HandleFunc("GET /ref/terminals", s.handleRefTerminals)
	mux.HandleFunc("POST /ref/terminals/{terminalId}", s.handleRefBindTerminal)
	mux.HandleFunc("GET /ref/cases", s.handleRefCases)
	mux.HandleFunc("POST /ref/cases/{caseId}/advance", s.handleRefAdvanceCase)
	mux.HandleFunc("GET /ref/ratings", s.handleRefRatings)
	mux.HandleFunc("GET /track/{caseId}", s.handleTrack)
}

// appError maps a failure of the application endpoints to a reply; what
// it does not know goes to storeError.
func (s *Server) appError(w http.ResponseWriter, r *http.Request, err error) {
	final := func(status int, code string, d uplink.ApplicationErrorDetail) {
		d.Code, d.Retryable = code, false
		writeJSON(w, status, uplink.ApplicationErrorBody{Error: d})
	}
	if e, ok := errors.AsType[*incompleteError](err); ok {
		final(http.StatusUnprocessableEntity, uplink.CodeApplicationIncomplete,
			uplink.ApplicationErrorDetail{Message: e.Error(), Missing: e.missing})
		return
	}
	if e, ok := errors.AsType[*counterOnlyError](err); ok {
		final(http.StatusConflict, uplink.CodeCounterOnly, uplink.ApplicationErrorDetail{Message: e.Error(), Counter: &e.counter})
		return
	}
	for _, m := range []struct {
		err    error
		status int
		code   string
	}{
		{errTownshipNotFound, http.StatusNotFound, uplink.CodeTownshipNotFound},
		{errMatterNotFound, http.StatusNotFound, uplink.CodeMatterNotFound},
		{errMatterNotOffered, http.StatusConflict, uplink.CodeMatterNotOffered},
		{errWrongChannel, http.StatusBadRequest, uplink.CodeBadRequest},
		{errApplicationConflict, http.StatusConflict, uplink.CodeApplicationConflict},
		{errPersonNotFound, http.StatusNotFound, uplink.CodePersonNotFound},
		{errCaseNotFound, http.StatusNotFound, uplink.CodeCaseNotFound},
		{errServiceNotFound, http.StatusNotFound, uplink.CodeServiceNotFound},
		{errAlreadyRated, http.StatusConflict, uplink.CodeAlreadyRated},
		{errCaseFinal, http.StatusConflict, codeCaseFinal},
	} {
		if errors.Is(err, m.err) {
			writeError(w, m.status, m.code, err.Error())
			return
		}
	}
	s.storeError(w, r, err)
}

// caseRecord is the platform's case file. Request holds the applicant's
// data in full: the case file must (it is archived and handed to the
// delegating department); everything else the platform logs or lists
// carries masked identifiers only.
type caseRecord struct {
	Seq          uint64                      `json:"seq"`
	Key          string                      `json:"key,omitempty"` // the Idempotency-Key that opened it
	Case         uplink.Case                 `json:"case"`
	Request      uplink.ApplicationRequest   `json:"request"`
	RequestHash  string                      `json:"requestHash"`
	PersonKey    string                      `json:"personKey"`
	NextAt       *time.Time                  `json:"nextAt,omitempty"` // next automatic step; nil when final or manual
	Decision     uplink.CaseStatus           `json:"decision"`         // approved or rejected, when review ends
	DecisionNote string                      `json:"decisionNote,omitempty"`
	Department   uplink.Text                 `json:"department"`
	Mode         uplink.DelegationMode       `json:"mode"`
	TownshipName uplink.Text                 `json:"townshipName"`
	Pickup       uplink.ServicePoint         `json:"pickup"`
	FieldTypes   map[string]uplink.FieldType `json:"fieldTypes"` // for masking listings
}

// step moves the case one step along its timeline at at.
func (c *caseRecord) step(at time.Time) {
	if n := len(c.Case.Timeline); n > 0 && at.Before(c.Case.Timeline[n-1].At) {
		at = c.Case.Timeline[n-1].At // a clock that went back never makes the timeline run backwards
	}
	ev := uplink.CaseEvent{At: at}
	switch c.Case.Status {
	case uplink.CaseAccepted:
		ev.Status = uplink.CaseReviewing
		if c.Mode == uplink.DelegationHandling {
			ev.Note = txt(c.TownshipName.Zh+"审核（委托办理，加盖2号公章）", c.TownshipName.En+" reviews it (entrusted handling)")
		} else {
			ev.Note = txt("已转"+c.Department.Zh+"审核（委托受理）", "Passed to the "+c.Department.En+" for review (entrusted acceptance)")
		}
	case uplink.CaseReviewing:
		if c.Decision == uplink.CaseRejected {
			ev.Status = uplink.CaseRejected
			note := c.DecisionNote
			if note == "" {
				note = "不符合受理条件"
			}
			ev.Note = txt("不予受理："+note, "Not accepted: "+note)
		} else {
			ev.Status = uplink.CaseApproved
			ev.Note = txt("已办结，准予办理", "Decided: approved")
		}
	case uplink.CaseApproved:
		ev.Status = uplink.CaseReady
		ev.Note = txt("结果已送达"+c.Pickup.Name.Zh+"，请携带身份证领取（统一出件）", "Ready for pickup at "+c.Pickup.Name.En+"; bring your ID card")
		p := c.Pickup
		ev.Place = &p
	default:
		return
	}
	c.Case.Timeline = append(c.Case.Timeline, ev)
	c.Case.Status = ev.Status
}

// advance applies every automatic step due at now; it reports whether
// the case changed.
func (c *caseRecord) advance(now time.Time, step time.Duration) bool {
	changed := false
	for c.NextAt != nil && !c.NextAt.After(now) {
		at := *c.NextAt
		c.step(at)
		changed = true
		c.NextAt = nil
		if !c.Case.Status.Final() && step > 0 {
			n := at.Add(step)
			c.NextAt = &n
		}
	}
	return changed
}

func (c *caseRecord) due(now time.Time) bool { return c.NextAt != nil && !c.NextAt.After(now) }

func getCase(tx *bolt.Tx, id string) (caseRecord, error) {
	var rec caseRecord
	found, err := getJSON(tx, bucketCases, []byte(id), &rec)
	if err == nil && !found {
		err = fmt.Errorf("case %s: %w", id, errCaseNotFound)
	}
	return rec, err
}

// caseDraft is what the platform decided about a new application.
type caseDraft struct {
	matter uplink.Matter
	town   township
}

// createApplication commits an application exactly once per key: the
// case, its number, the application and person index entries and the
// dedupe record in one transaction. judge runs inside it for a new
// application only; its error (incomplete, counter only, ...) commits
// nothing. created is false for a replay, which returns the case as it is
// now.
func (s *store) createApplication(key string, req uplink.ApplicationRequest, personKey string,
	judge func() (caseDraft, error), e reqEnv, step time.Duration) (caseRecord, bool, error) {
	hash, err := hashJSON(req.Canonical())
	if err != nil {
		return caseRecord{}, false, err
	}
	var rec caseRecord
	created := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		replay, err := lookupOp(tx, key, opApplicationCreate, req.ApplicationID, hash)
		if err != nil {
			return err
		}
		// A copy: bbolt's slice points into a page the Put below may reuse.
		existing := string(tx.Bucket(bucketCaseApps).Get([]byte(req.ApplicationID)))
		switch {
		case replay && existing == "":
			return fmt.Errorf("application %s: dedupe record without case", req.ApplicationID)
		case replay:
			if rec, err = getCase(tx, existing); err != nil {
				return err
			}
			if rec.advance(e.now, step) {
				return putJSON(tx, bucketCases, []byte(existing), rec)
			}
			return nil
		case existing != "":
			return fmt.Errorf("application %s: %w", req.ApplicationID, errApplicationConflict)
		}
		d, err := judge()
		if err != nil {
			return err
		}
		cb := tx.Bucket(bucketCases)
		var id string
		for {
			id = "C" + randomCode(16)
			if cb.Get([]byte(id)) == nil {
				break
			}
		}
		number, err := nextCaseNumber(tx, e.now, d.town.Code)
		if err != nil {
			return err
		}
		seq, err := nextSeq(tx, bucketCases)
		if err != nil {
			return err
		}
		types := map[string]uplink.FieldType{}
		for _, f := range d.matter.Fields {
			types[f.FieldID] = f.Type
		}
		rec = caseRecord{
			Seq: seq,
			Key: key,
			Case: uplink.Case{
				CaseID: id, CaseNumber: number, ApplicationID: req.ApplicationID, TerminalID: req.TerminalID,
				MatterID: d.matter.MatterID, MatterName: d.matter.Name, Township: d.town.ID,
				Applicant: uplink.MaskName(req.Applicant.Name), Status: uplink.CaseAccepted, AcceptedAt: e.now,
				TrackURL: e.base + "/track/" + id,
				Timeline: []uplink.CaseEvent{{Status: uplink.CaseAccepted, At: e.now,
					Note: txt(d.town.Centre.Name.Zh+"已受理（前台受理），办件编号 "+number, "Accepted at "+d.town.Centre.Name.En+", case "+number)}},
			},
			Request:      req.Canonical(),
			RequestHash:  hash,
			PersonKey:    personKey,
			Decision:     uplink.CaseApproved,
			Department:   d.matter.Department,
			Mode:         d.matter.Mode,
			TownshipName: d.town.Name,
			Pickup:       d.town.Centre,
			FieldTypes:   types,
		}
		if step > 0 {
			n := e.now.Add(step)
			rec.NextAt = &n
		}
		created = true
		if err := putJSON(tx, bucketCases, []byte(id), rec); err != nil {
			return err
		}
		for _, put := range []struct{ b, k, v []byte }{
			{bucketCaseApps, []byte(req.ApplicationID), []byte(id)},
			{bucketCasePersons, []byte(personKey + "/" + id), []byte{}},
		} {
			if err := tx.Bucket(put.b).Put(put.k, put.v); err != nil {
				return fmt.Errorf("put %s: %w", put.b, err)
			}
		}
		return putOp(tx, key, opApplicationCreate, req.ApplicationID, hash)
	})
	if err != nil {
		return caseRecord{}, false, err
	}
	return rec, created, nil
}

// nextCaseNumber is year-code-sequence, the sequence counting per
// township and (China) year: 2026-CG-000001.
func nextCaseNumber(tx *bolt.Tx, now time.Time, code string) (string, error) {
	year := now.In(chinaTime).Format("2006")
	k := []byte(year + "-" + code)
	b := tx.Bucket(bucketCaseSeq)
	var n uint64
	if v := b.Get(k); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n++
	if n > 999_999 {
		return "", fmt.Errorf("case numbers of %s exhausted", k)
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], n)
	if err := b.Put(k, v[:]); err != nil {
		return "", fmt.Errorf("put case seq %s: %w", k, err)
	}
	return fmt.Sprintf("%s-%s-%06d", year, code, n), nil
}

// caseByID reads a case, first applying due steps (only then does it take
// the writer lock and fsync).
func (s *store) caseByID(id string, e reqEnv, step time.Duration) (caseRecord, error) {
	var rec caseRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = getCase(tx, id)
		return err
	})
	if err != nil || !rec.due(e.now) {
		return rec, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if rec, err = getCase(tx, id); err != nil {
			return err
		}
		if rec.advance(e.now, step) {
			return putJSON(tx, bucketCases, []byte(id), rec)
		}
		return nil
	})
	return rec, err
}

// casesOfPerson returns the cases filed for this ID number under this
// name, due steps applied.
func (s *store) casesOfPerson(personKey, name string, e reqEnv, step time.Duration) ([]uplink.Case, error) {
	var ids []string
	due := false
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketCasePersons).Cursor()
		prefix := []byte(personKey + "/")
		for k, _ := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, _ = c.Next() {
			id := string(k[len(prefix):])
			rec, err := getCase(tx, id)
			if err != nil {
				return err
			}
			if rec.Request.Applicant.Name == name {
				ids = append(ids, id)
				due = due || rec.due(e.now)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []uplink.Case
	read := func(tx *bolt.Tx) error {
		out = out[:0]
		for _, id := range ids {
			rec, err := getCase(tx, id)
			if err != nil {
				return err
			}
			if tx.Writable() && rec.advance(e.now, step) {
				if err := putJSON(tx, bucketCases, []byte(id), rec); err != nil {
					return err
				}
			}
			out = append(out, rec.Case)
		}
		return nil
	}
	if due {
		err = s.db.Update(read)
	} else {
		err = s.db.View(read)
	}
	return out, err
}

// advanceCase moves a case one step now (the operator's advance). A
// decision given is used when review ends.
func (s *store) advanceCase(id string, decision uplink.CaseStatus, note string, e reqEnv, step time.Duration) (caseRecord, error) {
	var rec caseRecord
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if rec, err = getCase(tx, id); err != nil {
			return err
		}
		rec.advance(e.now, step)
		if rec.Case.Status.Final() {
			return fmt.Errorf("case %s is %s: %w", id, rec.Case.Status, errCaseFinal)
		}
		if decision != "" && (rec.Case.Status == uplink.CaseAccepted || rec.Case.Status == uplink.CaseReviewing) {
			rec.Decision, rec.DecisionNote = decision, note
		}
		rec.step(e.now)
		rec.NextAt = nil
		if !rec.Case.Status.Final() && step > 0 {
			n := e.now.Add(step)
			rec.NextAt = &n
		}
		return putJSON(tx, bucketCases, []byte(id), rec)
	})
	return rec, err
}

// ReceivedCase is a case with the application that opened it, as listed
// by GET /ref/cases (schema ReceivedCase). The listing masks the
// applicant and the personal fields (ID and phone numbers, free text).
// The Idempotency-Key lets an auditor (the crash test) match each case to
// the terminal's journal record of it.
type ReceivedCase struct {
	Seq            uint64                    `json:"seq"`
	IdempotencyKey string                    `json:"idempotencyKey"`
	Case           uplink.Case               `json:"case"`
	Request        uplink.ApplicationRequest `json:"request"`
}

func (c caseRecord) received() ReceivedCase {
	req := c.Request
	req.Applicant.Name = uplink.MaskName(req.Applicant.Name)
	req.Applicant.IDNumber = uplink.MaskIDNumber(req.Applicant.IDNumber)
	req.Fields = map[string]string{}
	for k, v := range c.Request.Fields {
		switch c.FieldTypes[k] {
		case uplink.FieldSelect, uplink.FieldDate:
		case uplink.FieldIDNumber:
			v = uplink.MaskIDNumber(v)
		case uplink.FieldPhone:
			v = uplink.MaskPhone(v)
		default:
			if r := []rune(v); len(r) > 2 {
				v = string(r[:2]) + "****"
			}
		}
		req.Fields[k] = v
	}
	return ReceivedCase{Seq: c.Seq, IdempotencyKey: c.Key, Case: c.Case, Request: req}
}

// cases lists every case in creation order, due steps applied (only then
// does it take the writer lock and fsync).
func (s *store) cases(e reqEnv, step time.Duration) ([]ReceivedCase, error) {
	var out []ReceivedCase
	due := false
	list := func(tx *bolt.Tx) error {
		var recs []caseRecord
		err := tx.Bucket(bucketCases).ForEach(func(k, v []byte) error {
			var rec caseRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode case %s: %w", k, err)
			}
			due = due || rec.due(e.now)
			recs = append(recs, rec)
			return nil
		})
		if err != nil {
			return err
		}
		out = []ReceivedCase{}
		for i := range recs { // not inside ForEach: advancing writes to the bucket
			if tx.Writable() && recs[i].advance(e.now, step) {
				if err := putJSON(tx, bucketCases, []byte(recs[i].Case.CaseID), recs[i]); err != nil {
					return err
				}
			}
			out = append(out, recs[i].received())
		}
		return nil
	}
	err := s.db.View(list)
	if err == nil && due {
		err = s.db.Update(list)
	}
	slices.SortFunc(out, func(a, b ReceivedCase) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, err
}

func (s *Server) handleCreateApplication(w http.ResponseWriter, r *http.Request) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var req uplink.ApplicationRequest
	if !decodeValid(w, r, &req, func() string { return req.TerminalID }) {
		return
	}
	e := s.env(r)
	if req.SubmittedAt.After(e.now.Add(maxClockSkew)) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "submittedAt is in the future")
		return
	}
	judge := func() (caseDraft, error) {
		t, err := s.apps.data.township(req.Township)
		if err != nil {
			return caseDraft{}, err
		}
		m, err := s.apps.data.matterAt(t, req.MatterID, req.SubmittedAt)
		if err != nil {
			return caseDraft{}, err
		}
		switch m.Channel {
		case uplink.ChannelPay:
			return caseDraft{}, fmt.Errorf("matter %s: %w", m.MatterID, errWrongChannel)
		case uplink.ChannelCounter:
			return caseDraft{}, &counterOnlyError{matter: m.MatterID, counter: *m.Counter}
		}
		licences := s.apps.persons.licencesOf(req.Applicant.IDNumber, req.Applicant.Name)
		if missing := m.Check(req, licences); len(missing) > 0 {
			return caseDraft{}, &incompleteError{missing: missing}
		}
		return caseDraft{matter: m, town: t}, nil
	}
	rec, created, err := s.store.createApplication(key, req, s.apps.personKey(req.Applicant.IDNumber), judge, e, s.apps.caseStep)
	if err != nil {
		s.log.Warn("refplatform: application refused", "key", key, "application", req, "err", err)
		s.appError(w, r, err)
		return
	}
	c := rec.Case
	if !created {
		s.log.Info("refplatform: application replayed", "caseId", c.CaseID, "key", key, "status", c.Status)
		w.Header().Set(uplink.HeaderIdempotentReplayed, "true")
		writeJSON(w, http.StatusOK, c)
		return
	}
	s.log.Info("refplatform: application accepted", "caseId", c.CaseID, "caseNumber", c.CaseNumber, "key", key,
		"terminal", c.TerminalID, "application", req)
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) handleGetCase(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("caseId")
	if !uplink.ValidCaseID(id) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "caseId must be C and 16 of A-Z 0-9")
		return
	}
	rec, err := s.store.caseByID(id, s.env(r), s.apps.caseStep)
	if err != nil {
		s.appError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rec.Case)
}

// Cases lists every case with its (masked) application, oldest first.
func (s *Server) Cases() ([]ReceivedCase, error) {
	c, err := s.store.cases(reqEnv{now: s.now().UTC()}, s.apps.caseStep)
	if err != nil {
		return nil, fmt.Errorf("refplatform: list cases: %w", err)
	}
	return c, nil
}

func (s *Server) handleRefCases(w http.ResponseWriter, r *http.Request) {
	c, err := s.store.cases(s.env(r), s.apps.caseStep)
	if err != nil {
		s.appError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// CaseAdvanceRequest is the optional body of POST
// /ref/cases/{caseId}/advance (schema CaseAdvanceRequest): the decision
// to take when review ends (default approved) and, for a rejection, why.
type CaseAdvanceRequest struct {
	Decision uplink.CaseStatus `json:"decision,omitempty"`
	Note     string            `json:"note,omitempty"`
}

// Validate checks the decision and the note.
func (q CaseAdvanceRequest) Validate() error {
	if q.Decision != "" && q.Decision != uplink.CaseApproved && q.Decision != uplink.CaseRejected {
		return fmt.Errorf("decision %q, want approved or rejected", q.Decision)
	}
	if len([]rune(q.Note)) > 100 || strings.ContainsAny(q.Note, "\r\n") {
		return errors.New("note must be one line of at most 100 characters")
	}
	return nil
}

// AdvanceCase moves a case one step along its timeline now, as POST
// /ref/cases/{caseId}/advance does.
func (s *Server) AdvanceCase(caseID string, req CaseAdvanceRequest) (uplink.Case, error) {
	if err := req.Validate(); err != nil {
		return uplink.Case{}, fmt.Errorf("refplatform: advance case %s: %w", caseID, err)
	}
	rec, err := s.store.advanceCase(caseID, req.Decision, req.Note, reqEnv{now: s.now().UTC().Truncate(time.Millisecond)}, s.apps.caseStep)
	if err != nil {
		return uplink.Case{}, fmt.Errorf("refplatform: advance case %s: %w", caseID, err)
	}
	s.log.Info("refplatform: case advanced", "caseId", caseID, "status", rec.Case.Status)
	return rec.Case, nil
}

func (s *Server) handleRefAdvanceCase(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("caseId")
	if !uplink.ValidCaseID(id) {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, "caseId must be C and 16 of A-Z 0-9")
		return
	}
	var req CaseAdvanceRequest
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, &req); err != nil {
			writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
			return
		}
	}
	if err := req.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, uplink.CodeBadRequest, err.Error())
		return
	}
	c, err := s.AdvanceCase(id, req)
	if err != nil {
		s.appError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}
