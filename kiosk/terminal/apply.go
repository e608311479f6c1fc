package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/idcard"
	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// Government-service applications: choose a matter of the township's
// catalog, read the ID card, get the form pre-filled from the card and the
// platform's history, attach the electronic licences the platform links to
// the person, hear everything still missing once (一次性告知), confirm.
// The confirmed application is journaled with its idempotency key (masked
// identifiers only), its full record is kept encrypted in kiosk/sealed,
// and it is forwarded in front of the resident and then by the outbox
// until the platform acknowledges it; then the sealed record is purged.

// IDCardReader is what the core needs of the resident ID card reader.
type IDCardReader interface {
	WaitCard(ctx context.Context, interval time.Duration) error
	Read(ctx context.Context, opts idcard.ReadOptions) (idcard.Card, error)
	Health() device.Health
	OnHealth(func(device.Health))
}

// SealedStore keeps records with personal data encrypted at rest until
// they are purged (kiosk/sealed.Store).
type SealedStore interface {
	Put(id string, plain []byte) error
	Get(id string) ([]byte, error)
	Purge(id string) error
	IDs() ([]string, error)
}

// Screens of government services.
const (
	ScreenServices        Screen = "services"         // a department's matters
	ScreenMatter          Screen = "matter"           // one matter: mode, department, what to bring
	ScreenApplyCard       Screen = "apply-card"       // place the ID card
	ScreenApplyForm       Screen = "apply-form"       // the pre-filled form and what is missing
	ScreenApplySubmitting Screen = "apply-submitting" // confirmed: forwarding and printing
	ScreenApplyDone       Screen = "apply-done"       // case number and tracking QR
	ScreenApplyRefused    Screen = "apply-refused"    // the platform refused for good
	ScreenProgress        Screen = "progress"         // scan the receipt's QR or place the ID card
	ScreenProgressResult  Screen = "progress-result"  // the case(s) and their timeline
)

// mattersPerPage keeps a department's list to big touch targets.
const mattersPerPage = 6

// govFlow is a session's government-service state. It holds the resident's
// ID card data and form: wipe clears it when the session ends.
type govFlow struct {
	dept            string // department being browsed (its Chinese name)
	page            int
	matter          *uplink.Matter // the matter chosen, as the catalog had it
	township        string
	purpose         string // what the card is read for: apply or progress
	cancelRead      context.CancelFunc
	reading         bool
	card            uplink.CardData
	applicant       uplink.Applicant
	person          *uplink.Person
	known           bool // the platform knows the person
	fields          map[string]string
	prefilled       map[string]string // field id -> "card" or "history"
	attached        []string
	missing         []uplink.MissingItem
	platformMissing bool
	app             *appView
	cases           []CaseView
	rating          *RatingView
}

// appView is the submitted application as the screen shows it.
type appView struct {
	ApplicationID string              `json:"applicationId"`
	Status        string              `json:"status"` // submitting, acknowledged, pending, refused
	Case          *CaseView           `json:"case,omitempty"`
	Receipt       string              `json:"receipt"` // none, printing, printed, failed
	ReceiptError  string              `json:"receiptError,omitempty"`
	Refusal       string              `json:"refusal,omitempty"` // the platform's code
	Counter       *uplink.CounterInfo `json:"counter,omitempty"`
}

// appSummary is what the journal keeps of an application: no personal
// data beyond the masked applicant.
type appSummary struct {
	MatterID  string `json:"matterId"`
	Township  string `json:"township"`
	Applicant string `json:"applicant"` // masked name and number
	Fields    int    `json:"fields"`
	Licences  int    `json:"licences"`
}

// govIntent returns the handler of a government-service intent, nil for
// other names. Each decodes its own payload.
func (t *Terminal) govIntent(name string) func(ctx context.Context, payload json.RawMessage) (any, error) {
	none := func(fn func() error) func(context.Context, json.RawMessage) (any, error) {
		return decoded(func(struct{}) error { return fn() })
	}
	switch name {
	case "Gov.Browse":
		return decoded(func(a struct {
			Department string `json:"department"`
			Page       int    `json:"page"`
		}) error {
			return t.browse(a.Department, a.Page)
		})
	case "Gov.Matter":
		return decoded(func(a struct {
			MatterID string `json:"matterId"`
		}) error {
			return t.chooseMatter(a.MatterID)
		})
	case "Gov.Back":
		return none(t.govBack)
	case "Apply.Begin":
		return none(t.beginApply)
	case "Apply.Set":
		return decoded(func(a struct {
			FieldID string `json:"fieldId"`
			Value   string `json:"value"`
		}) error {
			return t.setField(a.FieldID, a.Value)
		})
	case "Apply.Attach":
		return decoded(func(a struct {
			LicenceID string `json:"licenceId"`
			Attach    bool   `json:"attach"`
		}) error {
			return t.attach(a.LicenceID, a.Attach)
		})
	case "Apply.Submit":
		return none(t.submitApplication)
	case "Progress.Start":
		return none(t.startProgress)
	case "Rating.Submit":
		return decoded(func(a struct {
			Level int `json:"level"`
		}) error {
			return t.rate(a.Level)
		})
	}
	return nil
}

// decoded makes an intent handler of fn, its payload decoded strictly
// into A (an unknown field is refused, not ignored).
func decoded[A any](fn func(A) error) func(context.Context, json.RawMessage) (any, error) {
	return func(_ context.Context, p json.RawMessage) (any, error) {
		var a A
		if err := decodeStrict(p, &a); err != nil {
			return nil, err
		}
		return nil, fn(a)
	}
}

func decodeStrict(p json.RawMessage, v any) error {
	if len(p) == 0 || string(p) == "null" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(p)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errf("invalidData", "payload: %v", err)
	}
	return nil
}

// govSessionLocked returns the session's government-service state,
// opening a session at screen when there is none. A session holding cash
// is never replaced.
func (t *Terminal) govSessionLocked(screen Screen) (*session, error) {
	ss := t.sess
	if ss != nil && (ss.credit > 0 || len(ss.flight) > 0 || ss.screen == ScreenPaying || ss.screen == ScreenMobile ||
		ss.screen == ScreenApplySubmitting) {
		return nil, errf("sequenceError", "another service is in progress")
	}
	if ss == nil || ss.gov == nil {
		if ss != nil {
			t.wipeGovLocked(ss)
		}
		ss = &session{id: newID(), notes: map[int64]int{}, gov: &govFlow{}}
		t.sess = ss
	}
	ss.screen, ss.notice, ss.busy = screen, nil, ""
	t.touchLocked()
	return ss, nil
}

func (t *Terminal) browse(dept string, page int) error {
	cat := t.gov.cat.Load()
	if cat == nil {
		return errf("deviceNotReady", "the catalog has not been fetched yet")
	}
	i := slices.IndexFunc(departments(cat), func(d DeptView) bool { return d.Name.Zh == dept })
	if i < 0 {
		return errf("invalidData", "no such department in the township's list")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ss, err := t.govSessionLocked(ScreenServices)
	if err != nil {
		return err
	}
	t.stopReadLocked(ss)
	ss.gov.dept, ss.gov.page, ss.gov.matter = dept, max(page, 0), nil
	t.publishLocked()
	return nil
}

func (t *Terminal) chooseMatter(id string) error {
	cat := t.gov.cat.Load()
	if cat == nil {
		return errf("deviceNotReady", "the catalog has not been fetched yet")
	}
	m, ok := cat.Matter(id)
	if !ok {
		return errf("invalidData", "matter %q is not in the township's list", id)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ss, err := t.govSessionLocked(ScreenMatter)
	if err != nil {
		return err
	}
	t.stopReadLocked(ss)
	ss.gov.matter, ss.gov.township, ss.gov.dept = &m, cat.Township, m.Department.Zh
	t.publishLocked()
	return nil
}

// govBack goes one step back: from a matter to its department, from a
// department (or a failed step) home.
func (t *Terminal) govBack() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.sess
	if ss == nil || ss.gov == nil {
		return nil
	}
	switch ss.screen {
	case ScreenApplySubmitting:
		return errf("sequenceError", "the application is being submitted")
	case ScreenMatter:
		if ss.gov.dept != "" {
			ss.screen, ss.notice = ScreenServices, nil
			t.touchLocked()
			t.publishLocked()
			return nil
		}
	case ScreenApplyCard, ScreenApplyForm:
		if ss.gov.matter != nil {
			t.stopReadLocked(ss)
			t.forgetPersonLocked(ss)
			ss.screen, ss.notice, ss.busy = ScreenMatter, nil, ""
			t.touchLocked()
			t.publishLocked()
			return nil
		}
	}
	t.endLocked()
	return nil
}

// appsReadyLocked says why applications cannot be taken now ("" if they can).
func (t *Terminal) appsReadyLocked() string {
	if _, ok := t.appsPlatform(); !ok {
		return "the platform takes no applications"
	}
	if t.cfg.Sealed == nil {
		return "no encrypted store for personal data"
	}
	if t.cfg.IDCard == nil {
		return "this terminal has no ID card reader"
	}
	if st := t.devices["idCardReader"].State; st != device.Online && st != device.Busy {
		return "the ID card reader is not ready"
	}
	return ""
}

func (t *Terminal) beginApply() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.sess
	if ss == nil || ss.gov == nil || ss.screen != ScreenMatter || ss.gov.matter == nil {
		return errf("sequenceError", "choose a matter first")
	}
	if ss.gov.matter.Channel != uplink.ChannelApply {
		return errf("sequenceError", "this matter is not applied for at a terminal")
	}
	if cat := t.gov.cat.Load(); cat == nil || !slices.ContainsFunc(cat.Matters, func(m uplink.Matter) bool { return m.MatterID == ss.gov.matter.MatterID }) {
		return t.refuseLocked(ss, "matterWithdrawn", "this matter is no longer in the township's list", errf("sequenceError", "matter withdrawn"))
	}
	if why := t.appsReadyLocked(); why != "" {
		return t.refuseLocked(ss, "applyUnavailable", why, errf("deviceNotReady", "%s", why))
	}
	ss.screen, ss.notice = ScreenApplyCard, nil
	ss.gov.app, ss.gov.missing, ss.gov.platformMissing = nil, nil, false
	t.touchLocked()
	t.readCardLocked(ss, "apply")
	t.publishLocked()
	return nil
}

// readCardLocked waits for a card on the reader and reads it, for as long
// as the session stays on the step (the wait ends with it).
func (t *Terminal) readCardLocked(ss *session, purpose string) {
	t.stopReadLocked(ss)
	rd := t.cfg.IDCard
	if rd == nil {
		return
	}
	ctx, cancel := context.WithCancel(t.runCtx)
	g := ss.gov
	g.cancelRead, g.purpose = cancel, purpose
	go func() {
		defer cancel()
		for {
			if !t.isSession(ss) {
				return // replaced without an end (defensive: the wipe cancels ctx)
			}
			err := rd.WaitCard(ctx, 300*time.Millisecond)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				t.cardNotice(ss, ctx, "cardReaderDown", err)
				sleep(ctx, 2*time.Second)
				continue
			}
			t.setReading(ss, ctx, true)
			card, err := rd.Read(ctx, idcard.ReadOptions{AppendedAddress: true})
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				t.setReading(ss, ctx, false)
				t.cardNotice(ss, ctx, "cardReadFailed", err)
				sleep(ctx, time.Second)
				continue
			}
			cd := cardData(card) // the photo and fingerprint are not kept
			t.cardRead(ctx, ss, purpose, cd)
			return
		}
	}()
}

func (t *Terminal) isSession(ss *session) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sess == ss
}

func (t *Terminal) stopReadLocked(ss *session) {
	if ss.gov != nil && ss.gov.cancelRead != nil {
		ss.gov.cancelRead()
		ss.gov.cancelRead, ss.gov.reading = nil, false
	}
}

func (t *Terminal) cardNotice(ss *session, ctx context.Context, code string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sess != ss || ctx.Err() != nil {
		return
	}
	t.log.Info("ID card not read", "why", code, "err", err)
	ss.notice = &Notice{Code: code, Message: "the ID card could not be read"}
	t.publishLocked()
}

func (t *Terminal) setReading(ss *session, ctx context.Context, on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sess != ss || ctx.Err() != nil {
		return
	}
	ss.gov.reading = on
	if on {
		ss.notice = nil
	}
	t.publishLocked()
}

// cardData takes what a form may use off the card: name, number, address
// (the appended new address when the card has one), gender, birth date.
func cardData(c idcard.Card) uplink.CardData {
	tx := c.Text
	name := strings.TrimSpace(tx.Name)
	if name == "" {
		name = strings.TrimSpace(tx.EnglishName)
	}
	addr := strings.TrimSpace(tx.Address)
	if a := strings.TrimSpace(c.AppendedAddress); a != "" {
		addr = a
	}
	cd := uplink.CardData{Name: name, IDNumber: strings.TrimSpace(tx.IDNumber), Address: addr}
	switch tx.Gender.String() {
	case "male", "female":
		cd.Gender = tx.Gender.String()
	}
	if !tx.Birth.IsZero() {
		cd.BirthDate = tx.Birth.Time(time.UTC).Format(time.DateOnly)
	}
	return cd
}

// cardRead takes a read card to the next step: the pre-filled form, or the
// person's cases.
func (t *Terminal) cardRead(ctx context.Context, ss *session, purpose string, cd uplink.CardData) {
	appl := uplink.Applicant{Name: cd.Name, IDNumber: cd.IDNumber, ReadFromCard: true}
	if err := appl.Validate(); err != nil {
		t.cardNotice(ss, ctx, "cardUnusable", err)
		return
	}
	ap, _ := t.appsPlatform()
	lookup := uplink.PersonLookup{TerminalID: t.cfg.TerminalID, IDNumber: cd.IDNumber, Name: cd.Name}
	if purpose == "progress" {
		t.showCasesByPerson(ctx, ss, ap, lookup)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	p, err := ap.LookupPerson(cctx, lookup)
	cancel()
	known := err == nil
	var offline bool
	switch {
	case err == nil:
	case uplink.IsNotFound(err):
		p = uplink.Person{} // no record: the form is filled from the card alone
	case uplink.IsRetryable(err):
		offline = true
		p = uplink.Person{}
	default:
		t.log.Warn("person lookup refused", "err", err)
		p = uplink.Person{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sess != ss || ctx.Err() != nil || ss.screen != ScreenApplyCard {
		return // the session moved on: the card data goes with this frame
	}
	g := ss.gov
	g.reading, g.cancelRead = false, nil
	g.card, g.applicant, g.person, g.known = cd, appl, &p, known
	m := g.matter
	var hist *uplink.History
	if known {
		hist = &p.History
	}
	g.fields = m.Prefill(cd, hist)
	g.prefilled = map[string]string{}
	for id := range g.fields {
		f, _ := m.Field(id)
		g.prefilled[id], _, _ = strings.Cut(f.Prefill, ".")
	}
	g.attached = m.SuggestLicences(p.Licences, t.cfg.Now())
	g.missing = m.Check(t.draftLocked(ss), p.Licences)
	ss.screen, ss.notice = ScreenApplyForm, nil
	if offline {
		ss.notice = &Notice{Code: "historyUnavailable", Message: "the platform cannot be reached: the form is filled from the card only"}
	}
	t.log.Info("ID card read for an application", "applicant", appl, "matter", m.MatterID, "known", known,
		"prefilled", len(g.fields), "attached", len(g.attached), "missing", len(g.missing))
	t.touchLocked()
	t.publishLocked()
}

// draftLocked is the application as it stands on the form.
func (t *Terminal) draftLocked(ss *session) uplink.ApplicationRequest {
	g := ss.gov
	fields := map[string]string{}
	for k, v := range g.fields {
		if v = strings.TrimSpace(v); v != "" {
			fields[k] = v
		}
	}
	return uplink.ApplicationRequest{TerminalID: t.cfg.TerminalID, MatterID: g.matter.MatterID, Township: g.township,
		Applicant: g.applicant, Fields: fields, AttachedLicences: slices.Clone(g.attached), SubmittedAt: t.cfg.Now().UTC()}
}

func (t *Terminal) formLocked() (*session, error) {
	ss := t.sess
	if ss == nil || ss.gov == nil || ss.screen != ScreenApplyForm || ss.gov.person == nil {
		return nil, errf("sequenceError", "no application form is open")
	}
	return ss, nil
}

// refuseLocked tells the resident why a step was refused, on the screen,
// and returns err for the caller of the intent.
func (t *Terminal) refuseLocked(ss *session, code, message string, err error) error {
	ss.notice = &Notice{Code: code, Message: message}
	t.publishLocked()
	return err
}

func (t *Terminal) setField(id, value string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss, err := t.formLocked()
	if err != nil {
		return err
	}
	g := ss.gov
	f, ok := g.matter.Field(id)
	if !ok {
		return errf("invalidData", "the form has no field %q", id)
	}
	if g.prefilled[id] == "card" {
		return errf("invalidData", "field %s is read off the ID card", id)
	}
	if len(value) > 4*uplink.MaxFieldValue {
		return errf("invalidData", "field %s is too long", id)
	}
	g.fields[id] = value
	delete(g.prefilled, id)
	// The list is worked out again at once: the resident sees what is
	// still missing as the form fills, always the whole list.
	g.missing, g.platformMissing = g.matter.Check(t.draftLocked(ss), g.person.Licences), false
	ss.notice = nil
	if why := f.CheckValue(value); value != "" && why != "" {
		ss.notice = &Notice{Code: "fieldInvalid", Message: f.Label.En + ": " + why}
	}
	t.touchLocked()
	t.publishLocked()
	return nil
}

func (t *Terminal) attach(id string, on bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss, err := t.formLocked()
	if err != nil {
		return err
	}
	g := ss.gov
	i := slices.IndexFunc(g.person.Licences, func(l uplink.Licence) bool { return l.LicenceID == id })
	if i < 0 {
		return errf("invalidData", "licence %q is not linked to the applicant", id)
	}
	if on && !g.person.Licences[i].ValidAt(t.cfg.Now()) {
		return t.refuseLocked(ss, "licenceExpired", "this licence is no longer valid", errf("invalidData", "licence %s expired", id))
	}
	g.attached = slices.DeleteFunc(g.attached, func(s string) bool { return s == id })
	if on {
		g.attached = append(g.attached, id)
	}
	g.missing, g.platformMissing = g.matter.Check(t.draftLocked(ss), g.person.Licences), false
	ss.notice = nil
	t.touchLocked()
	t.publishLocked()
	return nil
}

// submitApplication journals the application (masked) and seals it
// (in full), then forwards it. The sealed record is written first: the
// journal record is the commit, and a sealed record without one (a crash
// in between) is purged at start, since the resident was never told it
// was sent.
func (t *Terminal) submitApplication() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss, err := t.formLocked()
	if err != nil {
		return err
	}
	g := ss.gov
	req := t.draftLocked(ss)
	req.ApplicationID = uplink.NewApplicationID()
	if err := req.Validate(); err != nil {
		return t.refuseLocked(ss, "applicationInvalid", err.Error(), errf("invalidData", "%v", err))
	}
	if g.missing = g.matter.Check(req, g.person.Licences); len(g.missing) > 0 {
		g.platformMissing = false
		return t.refuseLocked(ss, "applicationIncomplete", "something is still missing", errf("invalidData", "%d items still missing", len(g.missing)))
	}
	pa := pendingApp{Key: uplink.NewIdempotencyKey(), Session: ss.id, MatterName: g.matter.Name, Request: req}
	plain, _ := json.Marshal(pa)
	if err := t.cfg.Sealed.Put(req.ApplicationID, plain); err != nil {
		t.log.Error("seal application", "err", err)
		return t.refuseLocked(ss, "internalError", "the application could not be stored", errf("internalError", "sealed store unavailable"))
	}
	sum := appSummary{MatterID: req.MatterID, Township: req.Township, Applicant: req.Applicant.String(),
		Fields: len(req.Fields), Licences: len(req.AttachedLicences)}
	if _, err := t.cfg.Journal.Append(journal.Record{Kind: journal.ApplicationSubmitted, Session: ss.id, Key: pa.Key,
		Ref: req.ApplicationID, Detail: req.MatterID, Data: mustJSON(sum)}); err != nil {
		t.log.Error("journal application", "err", err)
		t.cfg.Sealed.Purge(req.ApplicationID)
		return t.refuseLocked(ss, "internalError", "journal unavailable", errf("internalError", "journal unavailable"))
	}
	st := appStub{ID: req.ApplicationID, Key: pa.Key, Session: ss.id}
	t.gov.apps[st.ID] = st
	g.app = &appView{ApplicationID: req.ApplicationID, Status: "submitting", Receipt: "none"}
	ss.screen, ss.notice = ScreenApplySubmitting, nil
	t.log.Info("application journaled", "application", req)
	t.touchLocked()
	t.publishLocked()
	// The receipt carries the applicant masked only.
	rc := CaseReceipt{ApplicationID: req.ApplicationID, MatterName: g.matter.Name.Zh, Applicant: req.Applicant.String()}
	go t.submitApp(ss, st, rc)
	return nil
}

// submitApp forwards an application in front of the resident for a while;
// if the platform stays away the outbox keeps trying and the resident is
// told it will be delivered.
func (t *Terminal) submitApp(ss *session, st appStub, rc CaseReceipt) {
	t.mu.Lock()
	ctx := t.runCtx
	t.mu.Unlock()
	var cs uplink.Case
	err := t.inFront(ctx, func() (err error) { cs, err = t.sendApp(ctx, st); return err })
	t.mu.Lock()
	if t.sess != ss || ss.gov == nil || ss.gov.app == nil {
		t.mu.Unlock()
		return
	}
	g := ss.gov
	var ae *uplink.ApplicationError
	switch {
	case err == nil:
		cv := caseView(cs)
		g.app.Status, g.app.Case = "acknowledged", &cv
		g.rating = &RatingView{Service: uplink.CaseService(cs.CaseID)}
	case uplink.IsRetryable(err):
		g.app.Status = "pending"
	case errors.As(err, &ae) && len(ae.Missing) > 0:
		// The platform's list is authoritative: back to the form with it.
		g.app, g.missing, g.platformMissing = nil, ae.Missing, true
		ss.screen = ScreenApplyForm
		ss.notice = &Notice{Code: "applicationIncomplete", Message: "the platform says something is still missing"}
		t.touchLocked()
		t.publishLocked()
		t.mu.Unlock()
		return
	default:
		g.app.Status, g.app.Refusal = "refused", refusalCode(err)
		if ae != nil {
			g.app.Counter = ae.Counter
		}
		ss.screen = ScreenApplyRefused
		t.touchLocked()
		t.publishLocked()
		t.mu.Unlock()
		return
	}
	g.app.Receipt = "printing"
	rc.Pending = err != nil
	r := Receipt{Kind: "case", TerminalID: t.cfg.TerminalID, Time: t.cfg.Now(), Reference: st.ID, Case: &rc}
	if cat := t.gov.cat.Load(); cat != nil {
		r.Case.Township, r.Case.Centre = cat.TownshipName.Zh, cat.ServiceCentre
	}
	if err == nil {
		r.Case.CaseNumber, r.Case.TrackURL = cs.CaseNumber, cs.TrackURL
	}
	t.publishLocked()
	t.mu.Unlock()

	perr := t.printReceipt(ctx, ss.id, r)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sess != ss || g.app == nil {
		// The session was ended while the receipt printed (nothing should
		// end a submitting session, but a wiped one must not crash us):
		// the case is at the platform and the journal has it.
		return
	}
	if perr != nil {
		g.app.Receipt, g.app.ReceiptError = "failed", perr.Error()
	} else {
		g.app.Receipt = "printed"
	}
	ss.screen = ScreenApplyDone
	t.touchLocked()
	t.publishLocked()
}

// forgetPersonLocked drops the card and everything about the person.
func (t *Terminal) forgetPersonLocked(ss *session) {
	g := ss.gov
	if g == nil {
		return
	}
	g.card, g.applicant = uplink.CardData{}, uplink.Applicant{}
	if g.person != nil {
		*g.person = uplink.Person{}
	}
	g.person, g.known = nil, false
	clear(g.fields)
	clear(g.prefilled)
	g.fields, g.prefilled, g.attached, g.missing, g.cases = nil, nil, nil, nil, nil
}

// wipeGovLocked forgets everything of the resident when their session
// ends: the card read stops, card data, history, form and cases are
// dropped. (Go strings cannot be overwritten in place: the data is
// unreachable from here on and goes with the next collection.)
func (t *Terminal) wipeGovLocked(ss *session) {
	if ss == nil || ss.gov == nil {
		return
	}
	t.stopReadLocked(ss)
	t.forgetPersonLocked(ss)
	*ss.gov = govFlow{}
	ss.gov = nil
}

// CaseReceipt is what an application's receipt says.
type CaseReceipt struct {
	ApplicationID string
	CaseNumber    string // "" while pending
	MatterName    string
	Township      string
	Applicant     string // masked name and number
	TrackURL      string // the tracking QR
	Centre        uplink.ServicePoint
	Pending       bool // not yet acknowledged: delivered when the platform is back
}
