package refplatform

import (
	"crypto/ed25519"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"

	"tongban/drivers/scanner/codec"
	"tongban/kiosk/uplink"
)

// Partner-site staff: the platform keeps its staff (PINs as salted
// PBKDF2 hashes, never in clear), signs their badges with an Ed25519 key
// of its own, checks badge and PIN at sign-in, and stores the cash-box and
// shift reports terminals send.

var (
	bucketStaff        = []byte("staff")        // staffId -> staffRecord JSON
	bucketStaffReports = []byte("staffReports") // "cashbox/"+id or "shift/"+id -> staffReportRecord JSON
	keyStaffSeed       = []byte("staffBadgeKey")
)

const (
	opCashBoxReport = "staff.cashboxReport"
	opShiftReport   = "staff.shiftReport"
	pinIterations   = 60000
)

var errStaffNotFound = errors.New("staff member not found")

// staffRecord is one staff member as the platform keeps them.
type staffRecord struct {
	StaffID string `json:"staffId"`
	Name    string `json:"name"`
	Site    string `json:"site"`
	Serial  string `json:"serial"` // of the current badge; older badges are revoked
	Salt    []byte `json:"salt"`
	PINHash []byte `json:"pinHash"`
}

// DemoStaff are the staff seeded on first start (kiosk/refplatform/README.md).
var DemoStaff = []struct{ StaffID, Name, Site, PIN string }{
	{"S1001", "王芳", "城关镇农商银行营业部", "246810"},
	{"S1002", "李强", "城关镇邮政储蓄所", "135790"},
	{"S1003", "Chen Jing", "县人民医院门诊楼", "112233"},
}

func hashPIN(pin string, salt []byte) []byte {
	k, err := pbkdf2.Key(sha256.New, pin, salt, pinIterations, 32)
	if err != nil {
		panic("refplatform: pbkdf2: " + err.Error()) // only for parameters out of FIPS range, which these are not
	}
	return k
}

// ReceivedStaffReport is a cash-box or shift report as the platform keeps
// it (schema ReceivedStaffReport), listed by GET /ref/staff-reports.
type ReceivedStaffReport struct {
	Seq        uint64                `json:"seq"`
	Kind       string                `json:"kind"` // cashbox or shift
	ReceivedAt time.Time             `json:"receivedAt"`
	Flagged    bool                  `json:"flagged"`
	CashBox    *uplink.CashBoxReport `json:"cashBox,omitempty"`
	Shift      *uplink.ShiftReport   `json:"shift,omitempty"`
}

// StaffBadgeIssued is the reply of POST /ref/staff/{staffId}/badge.
type StaffBadgeIssued struct {
	StaffID string `json:"staffId"`
	Name    string `json:"name"`
	Site    string `json:"site"`
	Serial  string `json:"serial"`
	QR      string `json:"qr"`
}

// staffKey returns the badge signing key, made on first use and kept in
// the store, so badges stay valid across restarts.
func staffKey(tx *bolt.Tx) (ed25519.PrivateKey, error) {
	meta := tx.Bucket(bucketMeta)
	if seed := meta.Get(keyStaffSeed); len(seed) == ed25519.SeedSize {
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if !tx.Writable() {
		return nil, errors.New("staff badge key not made yet")
	}
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	if err := meta.Put(keyStaffSeed, seed); err != nil {
		return nil, fmt.Errorf("store staff badge key: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// initStaff makes the staff buckets and the badge key and seeds the demo
// staff once.
func (s *store) initStaff() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketStaff, bucketStaffReports} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		if _, err := staffKey(tx); err != nil {
			return err
		}
		b := tx.Bucket(bucketStaff)
		if b.Stats().KeyN > 0 || tx.Bucket(bucketMeta).Get([]byte("staffSeeded")) != nil {
			return nil
		}
		for _, d := range DemoStaff {
			salt := make([]byte, 16)
			rand.Read(salt)
			rec := staffRecord{StaffID: d.StaffID, Name: d.Name, Site: d.Site, Serial: randomCode(8), Salt: salt, PINHash: hashPIN(d.PIN, salt)}
			if err := putJSON(tx, bucketStaff, []byte(d.StaffID), rec); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put([]byte("staffSeeded"), []byte("1"))
	})
}

// IssueStaffBadge returns the signed badge QR of a staff member's current
// badge.
func (s *Server) IssueStaffBadge(staffID string) (StaffBadgeIssued, error) {
	var out StaffBadgeIssued
	err := s.store.db.View(func(tx *bolt.Tx) error {
		var rec staffRecord
		found, err := getJSON(tx, bucketStaff, []byte(staffID), &rec)
		if err != nil {
			return err
		}
		if !found {
			return errStaffNotFound
		}
		key, err := staffKey(tx)
		if err != nil {
			return err
		}
		b := codec.StaffBadge{StaffID: rec.StaffID, Serial: rec.Serial}
		b.Sig = ed25519.Sign(key, b.SignedBytes())
		out = StaffBadgeIssued{StaffID: rec.StaffID, Name: rec.Name, Site: rec.Site, Serial: rec.Serial, QR: codec.StaffBadgeURI(b)}
		return nil
	})
	if err != nil {
		return StaffBadgeIssued{}, fmt.Errorf("refplatform: badge of %s: %w", staffID, err)
	}
	return out, nil
}

// checkStaff verifies a badge and PIN. It answers errBadge or errPIN
// (wrapped) without saying which part of a badge was wrong.
func (s *store) checkStaff(badge, pin string) (staffRecord, error) {
	b, err := codec.ParseStaffBadge(badge)
	if err != nil {
		return staffRecord{}, fmt.Errorf("%w: %v", errBadge, err)
	}
	var rec staffRecord
	err = s.db.View(func(tx *bolt.Tx) error {
		key, err := staffKey(tx)
		if err != nil {
			return err
		}
		if !ed25519.Verify(key.Public().(ed25519.PublicKey), b.SignedBytes(), b.Sig) {
			return fmt.Errorf("%w: signature does not verify", errBadge)
		}
		found, err := getJSON(tx, bucketStaff, []byte(b.StaffID), &rec)
		switch {
		case err != nil:
			return err
		case !found:
			return fmt.Errorf("%w: no such staff member", errBadge)
		case rec.Serial != b.Serial:
			return fmt.Errorf("%w: badge re-issued since", errBadge)
		}
		return nil
	})
	if err != nil {
		return staffRecord{}, err
	}
	if subtle.ConstantTimeCompare(hashPIN(pin, rec.Salt), rec.PINHash) != 1 {
		return rec, errPIN
	}
	return rec, nil
}

var (
	errBadge = errors.New("badge invalid")
	errPIN   = errors.New("wrong PIN")
)

// putStaffReport stores a report exactly once per key; replayed is true
// for a replay of the same call.
func (s *store) putStaffReport(key, op, id string, rep ReceivedStaffReport, body any) (ReceivedStaffReport, bool, error) {
	hash, err := hashJSON(body)
	if err != nil {
		return ReceivedStaffReport{}, false, err
	}
	dbKey := []byte(rep.Kind + "/" + id)
	replayed := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		replay, err := lookupOp(tx, key, op, id, hash)
		if err != nil {
			return err
		}
		if replay {
			replayed = true
			_, err := getJSON(tx, bucketStaffReports, dbKey, &rep)
			return err
		}
		if tx.Bucket(bucketStaffReports).Get(dbKey) != nil {
			return fmt.Errorf("report %s was sent under another key: %w", id, errKeyReused)
		}
		if rep.Seq, err = nextSeq(tx, bucketStaffReports); err != nil {
			return err
		}
		if err := putJSON(tx, bucketStaffReports, dbKey, rep); err != nil {
			return err
		}
		return putOp(tx, key, op, id, hash)
	})
	return rep, replayed, err
}

// StaffReports lists every cash-box and shift report, in arrival order.
func (s *Server) StaffReports() ([]ReceivedStaffReport, error) {
	var out []ReceivedStaffReport
	err := s.store.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStaffReports).ForEach(func(k, v []byte) error {
			var r ReceivedStaffReport
			if _, err := getJSON(tx, bucketStaffReports, k, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("refplatform: staff reports: %w", err)
	}
	for i := 1; i < len(out); i++ { // arrival order, by seq (few reports: insertion sort)
		for j := i; j > 0 && out[j].Seq < out[j-1].Seq; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	if out == nil {
		out = []ReceivedStaffReport{}
	}
	return out, nil
}

func (s *Server) staffRoutes(api, mux *http.ServeMux) {
	api.HandleFunc("POST /v1/staff/sign-in", s.handleStaffSignIn)
	api.HandleFunc("POST /v1/staff/cashbox-reports", s.handleCashBoxReport)
	api.HandleFunc("POST /v1/staff/shift-reports", s.handleShiftReport)
	mux.HandleFunc("GET /ref/staff-reports", s.handleRefStaffReports)
	mux.HandleFunc("POST /ref/staff/{staffId}/badge", s.handleRefStaffBadge)
}

func (s *Server) handleStaffSignIn(w http.ResponseWriter, r *http.Request) {
	var req uplink.StaffSignInRequest
	if !decodeValid(w, r, &req, func() string { return req.TerminalID }) {
		return
	}
	rec, err := s.store.checkStaff(req.Badge, req.PIN)
	switch {
	case errors.Is(err, errBadge):
		s.log.Warn("refplatform: staff badge refused", "terminal", req.TerminalID, "err", err)
		writeError(w, http.StatusUnauthorized, uplink.CodeBadgeInvalid, "this badge was not issued by the platform or is no longer valid")
	case errors.Is(err, errPIN):
		s.log.Warn("refplatform: staff PIN wrong", "terminal", req.TerminalID, "staff", rec.StaffID) // never the PIN
		writeError(w, http.StatusUnauthorized, uplink.CodeStaffPINWrong, "wrong PIN")
	case err != nil:
		s.storeError(w, r, err)
	default:
		s.log.Info("refplatform: staff signed in", "terminal", req.TerminalID, "staff", rec.StaffID)
		writeJSON(w, http.StatusOK, uplink.StaffMember{StaffID: rec.StaffID, Name: rec.Name, Site: rec.Site})
	}
}

func (s *Server) handleCashBoxReport(w http.ResponseWriter, r *http.Request) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var req uplink.CashBoxReport
	if !decodeValid(w, r, &req, func() string { return req.TerminalID }) {
		return
	}
	rep := ReceivedStaffReport{Kind: "cashbox", ReceivedAt: s.env(r).now, Flagged: req.Mismatch, CashBox: &req}
	s.answerReport(w, r, key, opCashBoxReport, req.ReportID, rep, req)
}

func (s *Server) handleShiftReport(w http.ResponseWriter, r *http.Request) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var req uplink.ShiftReport
	if !decodeValid(w, r, &req, func() string { return req.TerminalID }) {
		return
	}
	rep := ReceivedStaffReport{Kind: "shift", ReceivedAt: s.env(r).now, Flagged: req.Differences != 0, Shift: &req}
	s.answerReport(w, r, key, opShiftReport, req.ShiftID, rep, req)
}

func (s *Server) answerReport(w http.ResponseWriter, r *http.Request, key, op, id string, rep ReceivedStaffReport, body any) {
	got, replayed, err := s.store.putStaffReport(key, op, id, rep, body)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	ack := uplink.StaffReportAck{ReportID: id, ReceivedAt: got.ReceivedAt, Flagged: got.Flagged}
	if replayed {
		w.Header().Set(uplink.HeaderIdempotentReplayed, "true")
		writeJSON(w, http.StatusOK, ack)
		return
	}
	if got.Flagged {
		s.log.Warn("refplatform: staff report flagged: cash-box difference", "kind", got.Kind, "report", id, "terminal", r.Header.Get(uplink.HeaderTerminalID))
	} else {
		s.log.Info("refplatform: staff report received", "kind", got.Kind, "report", id)
	}
	writeJSON(w, http.StatusCreated, ack)
}

func (s *Server) handleRefStaffReports(w http.ResponseWriter, r *http.Request) {
	reps, err := s.StaffReports()
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, reps)
}

func (s *Server) handleRefStaffBadge(w http.ResponseWriter, r *http.Request) {
	b, err := s.IssueStaffBadge(r.PathValue("staffId"))
	if errors.Is(err, errStaffNotFound) {
		writeError(w, http.StatusNotFound, uplink.CodeNotFound, "no such staff member")
		return
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}
