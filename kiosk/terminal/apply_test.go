package terminal

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tongban/drivers/idcard"
	idsim "tongban/drivers/idcard/sim"
	"tongban/drivers/simport"
	"tongban/kiosk/journal"
	"tongban/kiosk/refplatform"
	"tongban/kiosk/sealed"
	"tongban/kiosk/uplink"
)

// The sample resident card's data, which must never reach the journal or
// the sealed file in the clear.
const (
	sampleID   = "110101199001010015"
	sampleName = "张三"
)

// appsRig is a terminal with a real ID card driver on a simulated reader
// (a real pseudo terminal), a real sealed store and the real reference
// platform.
type appsRig struct {
	*rig
	dir   string
	plat  *refplatform.Server
	url   string
	card  *idsim.Sim
	store *sealed.Store
}

// clock is a settable test clock shared by the terminal and the platform.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

func newAppsPlatform(t *testing.T, dir string, now func() time.Time) (*refplatform.Server, string) {
	t.Helper()
	p, err := refplatform.New(refplatform.Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(func() { srv.Close(); p.Close() })
	return p, srv.URL
}

// newCardReader runs the idcard simulator on a pty and the real driver on
// its follower; both stop with the test.
func newCardReader(t *testing.T) (*idcard.Reader, *idsim.Sim) {
	t.Helper()
	link := filepath.Join(t.TempDir(), "ttyID0")
	ep, err := simport.Open(link, idcard.DefaultLine())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := idsim.New(idsim.Config{})
	go s.Serve(ctx, ep)
	rd := idcard.New(idcard.Config{Name: "idCardReader", Path: link, PresenceInterval: 50 * time.Millisecond,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	done := make(chan struct{})
	go func() { rd.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; ep.Close() })
	return rd, s
}

func startApps(t *testing.T, dir, url string, plat *refplatform.Server, rd *idcard.Reader, card *idsim.Sim, now func() time.Time) *appsRig {
	t.Helper()
	j, err := journal.Open(filepath.Join(dir, "journal.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sealed.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, acc: newFakeAcceptor(), j: j, done: make(chan struct{}), plat: &fakePlatform{},
		prn: &fakePrinter{mon: newOnlineMonitor()}}
	cfg := Config{TerminalID: "TB-TEST", Journal: j, Platform: uplink.NewClient(url, "TB-TEST"), Printer: r.prn,
		Receipt: func(rc Receipt) ([]byte, error) { return json.Marshal(rc) }, Logger: slog.New(slog.DiscardHandler),
		SubmitPatience: 300 * time.Millisecond, Sealed: store, Now: now}
	if rd != nil {
		cfg.IDCard = rd
	}
	term, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.run(term)
	a := &appsRig{rig: r, dir: dir, plat: plat, url: url, card: card, store: store}
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			a.crash()
		}
	})
	return a
}

// crash stops this life at once; the journal and the sealed store close.
func (a *appsRig) crash() {
	a.rig.crash()
	a.store.Close()
}

// toForm chooses the matter and reads the sample resident's card.
func (a *appsRig) toForm(matter string) Snapshot {
	a.t.Helper()
	a.until("catalog and reader", func(s Snapshot) bool { return s.Gov != nil && s.Gov.Township != nil && s.Gov.Available })
	a.must("Gov.Matter", map[string]string{"matterId": matter})
	a.must("Apply.Begin", nil)
	a.until("asked for the card", func(s Snapshot) bool { return s.Screen == ScreenApplyCard })
	if err := a.card.PlaceCard(idsim.SampleResident()); err != nil {
		a.t.Fatal(err)
	}
	return a.until("the form", func(s Snapshot) bool { return s.Screen == ScreenApplyForm })
}

func formField(s Snapshot, id string) FieldView {
	for _, f := range s.Gov.Apply.Fields {
		if f.FieldID == id {
			return f
		}
	}
	return FieldView{}
}

func missingIDs(s Snapshot) []string {
	var ids []string
	for _, m := range s.Gov.Apply.Missing {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	return ids
}

// fileHas reports whether a file's raw bytes contain s.
func fileHas(t *testing.T, path, s string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(b, []byte(s))
}

func TestApplicationPrefilledMissingSaidOnceAndSubmittedExactlyOnceAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	plat, url := newAppsPlatform(t, dir, nil)
	rd, card := newCardReader(t)
	a := startApps(t, dir, url, plat, rd, card, nil)

	s := a.toForm("sole-trader-deregister")
	// Pre-filled: the phone from the platform's history; the business
	// licence the platform links to the person is listed and attached.
	if f := formField(s, "phone"); f.Value != "13800138000" || f.Source != "history" {
		t.Fatalf("phone field %+v", f)
	}
	if !s.Gov.Apply.Known || s.Gov.Apply.Applicant != "张* 1101**********0015" {
		t.Fatalf("applicant %q known %v", s.Gov.Apply.Applicant, s.Gov.Apply.Known)
	}
	i := slices.IndexFunc(s.Gov.Apply.Licences, func(l LicenceView) bool { return l.LicenceID == "EL-BL-0001" })
	if i < 0 || !s.Gov.Apply.Licences[i].Attached || !s.Gov.Apply.Licences[i].Needed || len(s.Gov.Apply.Licences) != 4 {
		t.Fatalf("licences %+v", s.Gov.Apply.Licences)
	}
	// Everything still missing, all at once: both empty fields.
	if got := missingIDs(s); !slices.Equal(got, []string{"cancelReason", "closedOn"}) {
		t.Fatalf("missing %v", got)
	}
	if err := a.do("Apply.Submit", nil); err == nil {
		t.Fatal("an incomplete application was submitted")
	}
	a.must("Apply.Set", map[string]string{"fieldId": "cancelReason", "value": "closed"})
	a.must("Apply.Set", map[string]string{"fieldId": "closedOn", "value": "2026-11-01"})
	if s := a.term.Snapshot(); len(s.Gov.Apply.Missing) != 0 {
		t.Fatalf("still missing %v", missingIDs(s))
	}

	// The platform commits the application but the answer is lost, again
	// and again: the resident is told it will be delivered.
	if err := plat.SetFaults(refplatform.Faults{DropAfterCommitRate: 1, Paths: []string{"/v1/applications"}}); err != nil {
		t.Fatal(err)
	}
	a.must("Apply.Submit", nil)
	done := a.until("pending", func(s Snapshot) bool { return s.Screen == ScreenApplyDone })
	if done.Gov.Apply.App.Status != "pending" {
		t.Fatalf("status %+v", done.Gov.Apply.App)
	}
	appID := done.Gov.Apply.App.ApplicationID
	if rs := a.prn.receipts(); len(rs) != 1 || rs[0].Case == nil || !rs[0].Case.Pending || strings.Contains(rs[0].Case.Applicant, sampleID) {
		t.Fatalf("receipt %+v", rs)
	}
	// The resident leaves: the outbox keeps only ids and keys in memory.
	a.must("Gov.Back", nil)
	a.term.mu.Lock()
	queued, _ := json.Marshal(a.term.gov.apps)
	nq := len(a.term.gov.apps)
	a.term.mu.Unlock()
	if nq != 1 || bytes.Contains(queued, []byte(sampleID)) || bytes.Contains(queued, []byte(sampleName)) {
		t.Fatalf("outbox in memory after the session: %s", queued)
	}
	a.crash()

	// At rest: the journal holds the masked applicant only; the sealed
	// store holds the record, encrypted.
	for _, f := range []string{"journal.db", "sealed.db"} {
		for _, secret := range []string{sampleID, sampleName, "13800138000"} {
			if fileHas(t, filepath.Join(dir, f), secret) {
				t.Fatalf("%s holds %q in the clear", f, secret)
			}
		}
	}
	if !fileHas(t, filepath.Join(dir, "journal.db"), "1101**********0015") {
		t.Fatal("journal lacks the masked applicant")
	}
	if st, err := sealed.Open(dir); err != nil {
		t.Fatal(err)
	} else {
		ids, _ := st.IDs()
		st.Close()
		if !slices.Equal(ids, []string{appID}) {
			t.Fatalf("sealed ids %v, want [%s]", ids, appID)
		}
	}

	// The platform is back; the next life forwards it with the same key.
	plat.SetFaults(refplatform.Faults{})
	b := startApps(t, dir, url, plat, rd, card, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids, _ := b.store.IDs()
		if len(ids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sealed record not purged: %v", ids)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cases, err := plat.Cases()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cases {
		if c.Case.ApplicationID == appID {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("platform holds %d cases for the application, want exactly 1", n)
	}
	var acked bool
	b.j.Scan(1, func(r journal.Record) error {
		acked = acked || r.Kind == journal.ApplicationAcknowledged && r.Ref == appID
		return nil
	})
	if !acked {
		t.Fatal("acknowledgement not journaled")
	}
}

func TestApplicationDoneRatedAndSessionEndWipesTheCard(t *testing.T) {
	dir := t.TempDir()
	plat, url := newAppsPlatform(t, dir, nil)
	rd, card := newCardReader(t)
	a := startApps(t, dir, url, plat, rd, card, nil)

	s := a.toForm("sole-trader-change")
	a.must("Apply.Set", map[string]string{"fieldId": "changeItem", "value": "premises"})
	a.must("Apply.Set", map[string]string{"fieldId": "changeTo", "value": "城关镇幸福路16号"})
	a.must("Apply.Submit", nil)
	done := a.until("done", func(s Snapshot) bool { return s.Screen == ScreenApplyDone })
	app := done.Gov.Apply.App
	if app.Status != "acknowledged" || app.Case == nil || !strings.HasPrefix(app.Case.CaseNumber, "2026-CG-") || app.Receipt != "printed" {
		t.Fatalf("app %+v", app)
	}
	rs := a.prn.receipts()
	if len(rs) != 1 || rs[0].Case.CaseNumber != app.Case.CaseNumber || rs[0].Case.TrackURL != app.Case.TrackURL {
		t.Fatalf("receipt %+v", rs)
	}
	if id, ok := uplink.CaseIDFromTrackURL(rs[0].Case.TrackURL); !ok || id != app.Case.CaseID {
		t.Fatalf("tracking QR %q", rs[0].Case.TrackURL)
	}
	if ids, _ := a.store.IDs(); len(ids) != 0 {
		t.Fatalf("sealed store still holds %v after the acknowledgement", ids)
	}

	// 好差评 through the outbox.
	if done.Gov.Rating == nil || done.Gov.Rating.Service != uplink.CaseService(app.Case.CaseID) || len(done.Gov.Rating.Levels) != 5 {
		t.Fatalf("rating %+v", done.Gov.Rating)
	}
	a.must("Rating.Submit", map[string]int{"level": 5})
	deadline := time.Now().Add(5 * time.Second)
	for {
		rt, _ := plat.Ratings()
		if len(rt) == 1 && rt[0].Level == 5 && rt[0].Service == uplink.CaseService(app.Case.CaseID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ratings %+v", rt)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Ending the session wipes the card data from memory and the state.
	a.term.mu.Lock()
	ss := a.term.sess
	g := ss.gov
	a.term.mu.Unlock()
	if g == nil || g.applicant.IDNumber != sampleID {
		t.Fatalf("session does not hold the card before it ends: %+v", g)
	}
	_ = s
	a.must("Session.Cancel", nil)
	a.term.mu.Lock()
	left := g.card.IDNumber + g.card.Name + g.card.Address + g.applicant.IDNumber + g.applicant.Name
	wiped := ss.gov == nil && g.person == nil && g.fields == nil && left == ""
	a.term.mu.Unlock()
	if !wiped {
		t.Fatalf("after the session ended the daemon still holds %q (person %v, fields %v)", left, g.person, g.fields)
	}
	snap, _ := json.Marshal(a.term.Snapshot())
	for _, secret := range []string{sampleID, sampleName, "13800138000", "幸福路"} {
		if bytes.Contains(snap, []byte(secret)) {
			t.Fatalf("state after the session still shows %q", secret)
		}
	}
}

func TestIdleTimeoutWipesTheCard(t *testing.T) {
	dir := t.TempDir()
	plat, url := newAppsPlatform(t, dir, nil)
	rd, card := newCardReader(t)
	a := startApps(t, dir, url, plat, rd, card, nil)
	a.toForm("sole-trader-change")
	a.term.mu.Lock()
	g := a.term.sess.gov
	a.term.cfg.IdleTimeout = 0 // the next idle check ends it
	ss := a.term.sess
	a.term.mu.Unlock()
	a.term.idleExpired(ss)
	a.until("home", func(s Snapshot) bool { return s.Screen == ScreenHome && s.Session == "" })
	a.term.mu.Lock()
	defer a.term.mu.Unlock()
	if g.applicant.IDNumber != "" || g.card.Name != "" || g.person != nil {
		t.Fatal("idle timeout left the card data in memory")
	}
}

func TestCatalogChangesOnItsEffectiveDateEvenOffline(t *testing.T) {
	dir := t.TempDir()
	cst := time.FixedZone("CST", 8*3600)
	clk := &clock{now: time.Date(2026, 11, 30, 23, 59, 57, 0, cst)}
	plat, url := newAppsPlatform(t, dir, clk.Now)
	a := startApps(t, dir, url, plat, nil, nil, clk.Now)
	has := func(c *uplink.Catalog, id string) bool { _, ok := c.Matter(id); return ok }
	a.until("catalog", func(s Snapshot) bool { return s.Gov != nil && s.Gov.Township != nil })
	before := a.term.Catalog()
	if before.Township != "chengguan" || has(before, "startup-loan") || !has(before, "construction-permit") {
		t.Fatalf("catalog before 12-01: %s, %d matters", before.Township, len(before.Matters))
	}
	// The list of 12-01 is fetched ahead; then the platform goes away.
	deadline := time.Now().Add(5 * time.Second)
	for a.term.gov.next.Load() == nil {
		if time.Now().After(deadline) {
			t.Fatal("next catalog not fetched ahead")
		}
		time.Sleep(10 * time.Millisecond)
	}
	plat.SetFaults(refplatform.Faults{Fail5xxRate: 1})
	clk.set(time.Date(2026, 12, 1, 0, 0, 1, 0, cst))
	s := a.until("the new list", func(s Snapshot) bool { return s.Gov.Township.Version != before.Version })
	after := a.term.Catalog()
	if !has(after, "startup-loan") || !has(after, "flexible-worker-enroll") || len(after.Matters) != len(before.Matters)+3 {
		t.Fatalf("catalog after 12-01: %d matters", len(after.Matters))
	}
	n := 0
	for _, d := range s.Gov.Depts {
		n += d.Matters
	}
	if n != len(after.Matters) || s.Gov.Township.Matters != len(after.Matters) {
		t.Fatalf("home screen offers %d matters in departments, catalog has %d", n, len(after.Matters))
	}
}

func TestCounterMatterSaysWhereInstead(t *testing.T) {
	dir := t.TempDir()
	plat, url := newAppsPlatform(t, dir, nil)
	a := startApps(t, dir, url, plat, nil, nil, nil)
	a.until("catalog", func(s Snapshot) bool { return s.Gov != nil && s.Gov.Township != nil })
	a.must("Gov.Matter", map[string]string{"matterId": "company-register"})
	s := a.term.Snapshot()
	m := s.Gov.Matter
	if m == nil || m.Channel != uplink.ChannelCounter || m.Counter == nil || m.Counter.Where.Address == "" || m.ModeName.Zh != "委托受理" {
		t.Fatalf("matter %+v", m)
	}
	if err := a.do("Apply.Begin", nil); err == nil {
		t.Fatal("a counter-only matter was started at the terminal")
	}
	if s.Gov.Available {
		t.Fatal("applications offered without an ID card reader")
	}
}

// TestFinalRefusalIsToldPlainlyAndPurged: when the terminal's catalog and
// the platform disagree (here the terminal holds a list in which a
// counter-only matter was made applicable), the platform's final refusal
// is shown with where and when instead, journaled, and the sealed record
// purged.
func TestFinalRefusalIsToldPlainlyAndPurged(t *testing.T) {
	dir := t.TempDir()
	plat, url := newAppsPlatform(t, dir, nil)
	rd, card := newCardReader(t)
	a := startApps(t, dir, url, plat, rd, card, nil)
	a.until("catalog", func(s Snapshot) bool { return s.Gov != nil && s.Gov.Township != nil })
	stale := *a.term.Catalog()
	stale.Matters = slices.Clone(stale.Matters)
	i := slices.IndexFunc(stale.Matters, func(m uplink.Matter) bool { return m.MatterID == "company-register" })
	m := stale.Matters[i]
	m.Channel, m.Counter = uplink.ChannelApply, nil
	m.Fields = []uplink.FormField{{FieldID: "phone", Label: uplink.Text{Zh: "联系电话", En: "Phone"}, Type: uplink.FieldPhone, Required: true, Prefill: uplink.PrefillHistoryPhone}}
	stale.Matters[i] = m
	a.term.swapCatalog(&stale)

	s := a.toForm("company-register")
	if len(s.Gov.Apply.Missing) != 0 {
		t.Fatalf("missing %v", missingIDs(s))
	}
	a.must("Apply.Submit", nil)
	r := a.until("refused", func(s Snapshot) bool { return s.Screen == ScreenApplyRefused })
	app := r.Gov.Apply.App
	if app.Status != "refused" || app.Refusal != uplink.CodeCounterOnly || app.Counter == nil || app.Counter.Where.Address == "" {
		t.Fatalf("refusal %+v", app)
	}
	if ids, _ := a.store.IDs(); len(ids) != 0 {
		t.Fatalf("sealed store still holds %v after a final refusal", ids)
	}
	var refused bool
	a.j.Scan(1, func(rec journal.Record) error {
		refused = refused || rec.Kind == journal.ApplicationRefused && rec.Ref == app.ApplicationID && rec.Detail == uplink.CodeCounterOnly
		return nil
	})
	if !refused {
		t.Fatal("refusal not journaled")
	}
	if cases, _ := plat.Cases(); len(cases) != 0 {
		t.Fatalf("platform opened %d cases", len(cases))
	}
}

func TestEveryGovIntentIsListedInCommands(t *testing.T) {
	term := &Terminal{}
	n := 0
	for _, name := range Commands {
		if term.govIntent(name) != nil {
			n++
		}
	}
	if n != 9 {
		t.Fatalf("%d government-service intents listed in Commands, want 9", n)
	}
}
