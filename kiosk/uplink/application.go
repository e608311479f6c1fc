package uplink

import (
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Government-service applications: a resident reads an ID card at the
// terminal, the form of a catalog matter is pre-filled from the card and
// from the platform's history of the person (POST /v1/persons/lookup),
// electronic licences the platform links to the person can be attached,
// everything still missing is said once, all together (一次性告知,
// Matter.Check), and the application goes to the platform through the
// outbox (POST /v1/applications, with an Idempotency-Key) to become a case
// with a case number and a tracking URL for the receipt's QR. Progress is
// GET /v1/cases/{caseId} (the QR) or POST /v1/cases/lookup (the ID card).
//
// Personal data: an ID number travels only in request bodies, never in a
// URL. Every type that holds one prints and logs a masked form only, and
// no Validate or Check message quotes a personal value.

// chinaTime is UTC+8, the zone of licence validity dates (no tzdata
// needed on the device).
var chinaTime = time.FixedZone("CST", 8*60*60)

// ValidIDNumber reports whether s is an ID number the platform accepts: 18
// characters whose last is the ISO 7064 MOD 11-2 check character of the
// first 17 digits (resident ID card, HK/Macao/Taiwan residence permit,
// 2023 foreign permanent resident ID card), or the 15 characters of a 2017
// foreign permanent resident ID card (3 letters and 12 digits).
func ValidIDNumber(s string) bool {
	switch len(s) {
	case 18:
		c, ok := idCheckDigit(s[:17])
		return ok && c == s[17]
	case 15:
		for i := 0; i < 3; i++ {
			if s[i] < 'A' || s[i] > 'Z' {
				return false
			}
		}
		return allDigits(s[3:])
	}
	return false
}

// idWeights are the ISO 7064 MOD 11-2 weights 2^(17-i) mod 11 (GB 11643).
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

func idCheckDigit(first17 string) (byte, bool) {
	if len(first17) != 17 || !allDigits(first17) {
		return 0, false
	}
	sum := 0
	for i := range 17 {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return "10X98765432"[sum%11], true
}

// MaskIDNumber keeps the first and last four characters:
// 110101199001010015 -> 1101**********0015. Short input is starred out.
func MaskIDNumber(s string) string {
	r := []rune(s)
	if len(r) < 10 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:4]) + strings.Repeat("*", len(r)-8) + string(r[len(r)-4:])
}

// MaskName keeps the first character (the surname): 张三 -> 张*.
func MaskName(s string) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) == 0 {
		return ""
	}
	return string(r[0]) + "*"
}

// MaskPhone keeps the first three and last four digits: 138****8000.
func MaskPhone(s string) string {
	if len(s) < 8 {
		return strings.Repeat("*", len(s))
	}
	return s[:3] + strings.Repeat("*", len(s)-7) + s[len(s)-4:]
}

// validName: a person's name, 1 to 64 characters of one line.
func validName(s string) bool {
	return strings.TrimSpace(s) != "" && validDisplay(s, 64) && !strings.Contains(s, "\n")
}

// Applicant is the person an application is for, as read off the ID card.
type Applicant struct {
	Name     string `json:"name"`
	IDNumber string `json:"idNumber"`
	// ReadFromCard: name and number come from the terminal's ID card
	// reader. It satisfies materials of source idCard; typed-in data does not.
	ReadFromCard bool `json:"readFromCard"`
}

// Validate checks the applicant without quoting either value.
func (a Applicant) Validate() error {
	if !validName(a.Name) {
		return fmt.Errorf("applicant: name must be 1..64 characters of one line")
	}
	if !ValidIDNumber(a.IDNumber) {
		return fmt.Errorf("applicant: idNumber is not a valid ID number")
	}
	return nil
}

func (a Applicant) String() string   { return MaskName(a.Name) + " " + MaskIDNumber(a.IDNumber) }
func (a Applicant) GoString() string { return "uplink.Applicant{" + a.String() + "}" }

// LogValue logs the masked form only.
func (a Applicant) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", MaskName(a.Name)), slog.String("id", MaskIDNumber(a.IDNumber)))
}

// Bounds of an ApplicationRequest.
const (
	MaxApplicationFields   = 60
	MaxAttachedLicences    = 20
	maxFieldValueBytes     = 4 * MaxFieldValue // UTF-8: 200 characters are at most 800 bytes
	MaxRatingCommentLength = 200
)

// ApplicationRequest is the body of POST /v1/applications (schema
// ApplicationRequest). The terminal keeps it (encrypted, it holds ID-card
// data) with its Idempotency-Key in the outbox until the platform
// acknowledges it, and resends it unchanged.
type ApplicationRequest struct {
	TerminalID    string    `json:"terminalId"`
	ApplicationID string    `json:"applicationId"` // made by the terminal (NewApplicationID)
	MatterID      string    `json:"matterId"`
	Township      string    `json:"township"` // the list the resident chose from
	Applicant     Applicant `json:"applicant"`
	// Fields are the form's values by fieldId.
	Fields map[string]string `json:"fields"`
	// AttachedLicences are licenceIds from Person.Licences.
	AttachedLicences []string `json:"attachedLicences"`
	// SubmittedAt is when the resident confirmed; the platform judges the
	// township's list and licence validity at this instant, so an
	// application that waited in the outbox is judged as the resident saw it.
	SubmittedAt time.Time `json:"submittedAt"`
}

// Validate checks the request's shape (the platform answers 400 on
// failure); Matter.Check judges its content against the matter. Messages
// name fields, never their values.
func (r ApplicationRequest) Validate() error {
	switch {
	case !ValidTerminalID(r.TerminalID):
		return fmt.Errorf("application: bad terminalId %q", r.TerminalID)
	case !ValidToken(r.ApplicationID):
		return fmt.Errorf("application: applicationId must be 1..64 of A-Z a-z 0-9 . _ -")
	case !ValidToken(r.MatterID):
		return fmt.Errorf("application: bad matterId %q", r.MatterID)
	case !ValidToken(r.Township):
		return fmt.Errorf("application: bad township %q", r.Township)
	case r.SubmittedAt.IsZero():
		return fmt.Errorf("application: submittedAt missing")
	case len(r.Fields) > MaxApplicationFields:
		return fmt.Errorf("application: %d fields, at most %d", len(r.Fields), MaxApplicationFields)
	case len(r.AttachedLicences) > MaxAttachedLicences:
		return fmt.Errorf("application: %d attached licences, at most %d", len(r.AttachedLicences), MaxAttachedLicences)
	}
	if err := r.Applicant.Validate(); err != nil {
		return fmt.Errorf("application: %w", err)
	}
	for k, v := range r.Fields {
		if !ValidToken(k) {
			return fmt.Errorf("application: a field id is not 1..64 of A-Z a-z 0-9 . _ -")
		}
		if len(v) > maxFieldValueBytes || !utf8.ValidString(v) {
			return fmt.Errorf("application: field %s is too long or not UTF-8", k)
		}
	}
	for i, id := range r.AttachedLicences {
		if !ValidToken(id) {
			return fmt.Errorf("application: attachedLicences[%d] is not a licence id", i)
		}
		if slices.Contains(r.AttachedLicences[:i], id) {
			return fmt.Errorf("application: licence %s attached twice", id)
		}
	}
	return nil
}

// Canonical returns the request in the form the platform compares replays
// in: submittedAt in UTC, attached licences sorted, absent fields and
// licences as empty ones.
func (r ApplicationRequest) Canonical() ApplicationRequest {
	c := r
	c.SubmittedAt = r.SubmittedAt.UTC()
	c.AttachedLicences = slices.Sorted(slices.Values(r.AttachedLicences))
	if c.AttachedLicences == nil {
		c.AttachedLicences = []string{}
	}
	c.Fields = maps.Clone(r.Fields)
	if c.Fields == nil {
		c.Fields = map[string]string{}
	}
	return c
}

func (r ApplicationRequest) String() string {
	return fmt.Sprintf("application %s (matter %s, %s, %s, %d fields, %d licences)",
		r.ApplicationID, r.MatterID, r.Township, r.Applicant, len(r.Fields), len(r.AttachedLicences))
}

func (r ApplicationRequest) GoString() string { return "uplink.ApplicationRequest{" + r.String() + "}" }

// LogValue logs ids and counts, the applicant masked, no field values.
func (r ApplicationRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("applicationId", r.ApplicationID), slog.String("matter", r.MatterID),
		slog.String("township", r.Township), slog.Any("applicant", r.Applicant),
		slog.Int("fields", len(r.Fields)), slog.Int("licences", len(r.AttachedLicences)))
}

// NewApplicationID returns a fresh application id: "A" and 16 Crockford
// base32 characters (80 random bits).
func NewApplicationID() string { return "A" + randomCrockford(16) }

// MissingKind says what a MissingItem is about.
type MissingKind string

const (
	MissingField    MissingKind = "field"    // a form field (Id is its fieldId)
	MissingMaterial MissingKind = "material" // a material (Id is its materialId)
	MissingLicence  MissingKind = "licence"  // an attached licence that cannot be used (Id is its licenceId)
)

// Reasons of a MissingItem.
const (
	ReasonMissing   = "missing"   // required and not given
	ReasonInvalid   = "invalid"   // given, but not a valid value (Detail says why)
	ReasonUnknown   = "unknown"   // a field the matter's form does not have
	ReasonExpired   = "expired"   // an attached licence no longer valid at submittedAt
	ReasonNotLinked = "notLinked" // an attached licence that is not the applicant's
)

// MissingItem is one thing the resident still has to provide.
type MissingItem struct {
	Kind   MissingKind `json:"kind"`
	ID     string      `json:"id"`
	Label  Text        `json:"label"`
	Reason string      `json:"reason"`
	Detail string      `json:"detail,omitempty"` // for technicians; never quotes the value
}

// Validate checks one item of a 422 reply.
func (m MissingItem) Validate() error {
	switch {
	case m.Kind != MissingField && m.Kind != MissingMaterial && m.Kind != MissingLicence:
		return fmt.Errorf("missing item: bad kind %q", m.Kind)
	case !ValidToken(m.ID):
		return fmt.Errorf("missing item: bad id %q", m.ID)
	case !slices.Contains([]string{ReasonMissing, ReasonInvalid, ReasonUnknown, ReasonExpired, ReasonNotLinked}, m.Reason):
		return fmt.Errorf("missing item %s: bad reason %q", m.ID, m.Reason)
	case !validDisplay(m.Detail, 200):
		return fmt.Errorf("missing item %s: bad detail", m.ID)
	}
	if err := m.Label.Validate(); err != nil {
		return fmt.Errorf("missing item %s: %w", m.ID, err)
	}
	return nil
}

// Check lists everything still missing from req for matter m, all at once
// (一次性告知): required fields left empty, values that fail their field's
// check, fields the form does not have, attached licences that are not
// among the person's licences or not valid at req.SubmittedAt, and
// required materials nobody provided. licences are the person's
// electronic licences (Person.Licences on the terminal; the platform's own
// records on the platform). Nil means complete. Terminal and platform run
// the same check, so a platform 422 only happens when they disagree (a
// licence expired while the application waited in the outbox, say).
// Materials of source inPerson are never missing here: they are brought to
// the service centre.
func (m Matter) Check(req ApplicationRequest, licences []Licence) []MissingItem {
	var out []MissingItem
	for _, f := range m.Fields {
		v, given := req.Fields[f.FieldID]
		switch why := f.CheckValue(v); {
		case why == "":
		case !given || strings.TrimSpace(v) == "":
			if f.Required {
				out = append(out, MissingItem{Kind: MissingField, ID: f.FieldID, Label: f.Label, Reason: ReasonMissing})
			}
		default:
			out = append(out, MissingItem{Kind: MissingField, ID: f.FieldID, Label: f.Label, Reason: ReasonInvalid, Detail: why})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(req.Fields)) {
		if _, ok := m.Field(k); !ok {
			out = append(out, MissingItem{Kind: MissingField, ID: k, Label: Text{Zh: "表单中没有的项目：" + k, En: "Not a field of this form: " + k}, Reason: ReasonUnknown})
		}
	}
	usable := map[string]bool{} // licence types attached and valid
	for _, id := range req.AttachedLicences {
		i := slices.IndexFunc(licences, func(l Licence) bool { return l.LicenceID == id })
		switch {
		case i < 0:
			out = append(out, MissingItem{Kind: MissingLicence, ID: id, Label: Text{Zh: "电子证照 " + id, En: "Electronic licence " + id}, Reason: ReasonNotLinked})
		case !licences[i].ValidAt(req.SubmittedAt):
			out = append(out, MissingItem{Kind: MissingLicence, ID: id, Label: licences[i].Name, Reason: ReasonExpired,
				Detail: "valid until " + licences[i].ValidUntil})
		default:
			usable[licences[i].Type] = true
		}
	}
	for _, mt := range m.Materials {
		if !mt.Required {
			continue
		}
		switch {
		case mt.Source == MaterialIDCard && !req.Applicant.ReadFromCard:
			out = append(out, MissingItem{Kind: MissingMaterial, ID: mt.MaterialID, Label: mt.Name, Reason: ReasonMissing,
				Detail: "read the applicant's ID card"})
		case mt.Source == MaterialLicence && !usable[mt.LicenceType]:
			out = append(out, MissingItem{Kind: MissingMaterial, ID: mt.MaterialID, Label: mt.Name, Reason: ReasonMissing,
				Detail: "attach a valid electronic licence of type " + mt.LicenceType})
		}
	}
	return out
}

// SuggestLicences returns the ids of the person's licences that are valid
// at t and provide one of m's licence materials: the ones to attach
// automatically (电子证照自动关联). One licence per material, the one
// valid longest.
func (m Matter) SuggestLicences(licences []Licence, t time.Time) []string {
	var out []string
	for _, mt := range m.Materials {
		if mt.Source != MaterialLicence {
			continue
		}
		best := -1
		for i, l := range licences {
			if l.Type != mt.LicenceType || !l.ValidAt(t) {
				continue
			}
			if best < 0 || laterUntil(l.ValidUntil, licences[best].ValidUntil) {
				best = i
			}
		}
		if best >= 0 && !slices.Contains(out, licences[best].LicenceID) {
			out = append(out, licences[best].LicenceID)
		}
	}
	return out
}

// laterUntil: "" (long-term) is the latest; dates compare as strings.
func laterUntil(a, b string) bool { return b != "" && (a == "" || a > b) }

// Licence is an electronic licence or certificate (电子证照) the platform
// links to a person.
type Licence struct {
	LicenceID string `json:"licenceId"`
	Type      string `json:"type"`   // e.g. householdRegister, businessLicence
	Name      Text   `json:"name"`   // e.g. 居民户口簿
	Number    string `json:"number"` // masked
	Issuer    string `json:"issuer"`
	// ValidUntil is the last valid day (China time), YYYY-MM-DD; absent
	// for a licence valid long-term (长期).
	ValidUntil string `json:"validUntil,omitempty"`
}

// ValidAt reports whether the licence is valid at t (its last day
// included, in China time).
func (l Licence) ValidAt(t time.Time) bool {
	return l.ValidUntil == "" || t.In(chinaTime).Format(time.DateOnly) <= l.ValidUntil
}

// Validate checks one licence of a lookup reply.
func (l Licence) Validate() error {
	switch {
	case !ValidToken(l.LicenceID):
		return fmt.Errorf("licence: bad licenceId %q", l.LicenceID)
	case !ValidToken(l.Type):
		return fmt.Errorf("licence %s: bad type %q", l.LicenceID, l.Type)
	case !validDisplay(l.Number, 64) || !validDisplay(l.Issuer, 100):
		return fmt.Errorf("licence %s: bad number or issuer", l.LicenceID)
	}
	if l.ValidUntil != "" {
		if _, err := time.Parse(time.DateOnly, l.ValidUntil); err != nil {
			return fmt.Errorf("licence %s: validUntil is not YYYY-MM-DD", l.LicenceID)
		}
	}
	if err := l.Name.Validate(); err != nil {
		return fmt.Errorf("licence %s: %w", l.LicenceID, err)
	}
	return nil
}

// History is what the platform remembers of a person, for pre-filling
// (the history.* prefill sources).
type History struct {
	Phone     string `json:"phone,omitempty"`
	Employer  string `json:"employer,omitempty"`
	Residence string `json:"residence,omitempty"`
}

// PersonLookup is the body of POST /v1/persons/lookup and POST
// /v1/cases/lookup (schema PersonLookup): the name and number as read off
// the ID card. Both must match the platform's record; a mismatch is
// answered like an unknown person, so the endpoint is no oracle for ID
// numbers.
type PersonLookup struct {
	TerminalID string `json:"terminalId"`
	IDNumber   string `json:"idNumber"`
	Name       string `json:"name"`
}

// Validate checks the lookup without quoting the values.
func (p PersonLookup) Validate() error {
	if !ValidTerminalID(p.TerminalID) {
		return fmt.Errorf("lookup: bad terminalId %q", p.TerminalID)
	}
	return Applicant{Name: p.Name, IDNumber: p.IDNumber}.Validate()
}

func (p PersonLookup) String() string {
	return "lookup{" + MaskName(p.Name) + " " + MaskIDNumber(p.IDNumber) + "}"
}
func (p PersonLookup) GoString() string { return p.String() }

// LogValue logs the masked form only.
func (p PersonLookup) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", MaskName(p.Name)), slog.String("id", MaskIDNumber(p.IDNumber)))
}

// Person is the reply of POST /v1/persons/lookup: what the platform can
// fill in and attach for this person.
type Person struct {
	History      History               `json:"history"`
	Licences     []Licence             `json:"licences"`
	Applications []PreviousApplication `json:"applications"` // newest first
	Sample       bool                  `json:"sample"`       // made-up data (reference platform)
}

// Validate checks a lookup reply.
func (p Person) Validate() error {
	if p.History.Phone != "" && !ValidPhone(p.History.Phone) {
		return fmt.Errorf("person: history phone is not a phone number")
	}
	if !validDisplay(p.History.Employer, 100) || !validDisplay(p.History.Residence, 200) {
		return fmt.Errorf("person: history employer or residence too long")
	}
	if len(p.Licences) > 100 || len(p.Applications) > 100 {
		return fmt.Errorf("person: %d licences, %d applications: too many", len(p.Licences), len(p.Applications))
	}
	for i, l := range p.Licences {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("person: %w", err)
		}
		if slices.ContainsFunc(p.Licences[:i], func(o Licence) bool { return o.LicenceID == l.LicenceID }) {
			return fmt.Errorf("person: licence %s twice", l.LicenceID)
		}
	}
	for _, a := range p.Applications {
		if err := a.Validate(); err != nil {
			return fmt.Errorf("person: %w", err)
		}
	}
	return nil
}

func (p Person) String() string {
	return fmt.Sprintf("person{phone %s, %d licences, %d applications}", MaskPhone(p.History.Phone), len(p.Licences), len(p.Applications))
}
func (p Person) GoString() string { return p.String() }

// LogValue logs counts only.
func (p Person) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("licences", len(p.Licences)), slog.Int("applications", len(p.Applications)))
}

// PreviousApplication is one of the person's earlier applications.
type PreviousApplication struct {
	CaseNumber string     `json:"caseNumber"`
	CaseID     string     `json:"caseId,omitempty"` // set for a case this platform tracks (GET /v1/cases/{caseId})
	MatterID   string     `json:"matterId"`
	MatterName Text       `json:"matterName"`
	Status     CaseStatus `json:"status"`
	AcceptedAt time.Time  `json:"acceptedAt"`
}

// Validate checks one previous application.
func (a PreviousApplication) Validate() error {
	switch {
	case !ValidCaseNumber(a.CaseNumber):
		return fmt.Errorf("previous application: bad caseNumber %q", a.CaseNumber)
	case a.CaseID != "" && !ValidCaseID(a.CaseID):
		return fmt.Errorf("previous application %s: bad caseId %q", a.CaseNumber, a.CaseID)
	case !ValidToken(a.MatterID):
		return fmt.Errorf("previous application %s: bad matterId %q", a.CaseNumber, a.MatterID)
	case !validCaseStatus(a.Status):
		return fmt.Errorf("previous application %s: bad status %q", a.CaseNumber, a.Status)
	case a.AcceptedAt.IsZero():
		return fmt.Errorf("previous application %s: acceptedAt missing", a.CaseNumber)
	}
	if err := a.MatterName.Validate(); err != nil {
		return fmt.Errorf("previous application %s: %w", a.CaseNumber, err)
	}
	return nil
}

// CaseStatus is the progress of a case. Front desk accepts, back office
// decides, one place hands out the result (前台受理—后台审批—统一出件):
//
//	accepted ──► reviewing ──► approved ──► ready (result waits at the service centre)
//	                      └──► rejected
type CaseStatus string

const (
	CaseAccepted  CaseStatus = "accepted"  // 受理
	CaseReviewing CaseStatus = "reviewing" // 审核
	CaseApproved  CaseStatus = "approved"  // 办结
	CaseRejected  CaseStatus = "rejected"  // 不予受理 (final)
	CaseReady     CaseStatus = "ready"     // 出件: ready for pickup (final)
)

func validCaseStatus(s CaseStatus) bool {
	switch s {
	case CaseAccepted, CaseReviewing, CaseApproved, CaseRejected, CaseReady:
		return true
	}
	return false
}

// CaseStatusName is the Chinese and English name of s.
func CaseStatusName(s CaseStatus) Text {
	switch s {
	case CaseAccepted:
		return Text{"已受理", "Accepted"}
	case CaseReviewing:
		return Text{"审核中", "Under review"}
	case CaseApproved:
		return Text{"已办结", "Decided"}
	case CaseRejected:
		return Text{"不予受理", "Not accepted"}
	case CaseReady:
		return Text{"可领取", "Ready for pickup"}
	}
	return Text{string(s), string(s)}
}

// Final reports whether a case in status s will not change any more.
func (s CaseStatus) Final() bool { return s == CaseRejected || s == CaseReady }

// nextStatuses are the legal steps of the timeline.
func nextStatuses(s CaseStatus) []CaseStatus {
	switch s {
	case CaseAccepted:
		return []CaseStatus{CaseReviewing}
	case CaseReviewing:
		return []CaseStatus{CaseApproved, CaseRejected}
	case CaseApproved:
		return []CaseStatus{CaseReady}
	}
	return nil
}

// CaseEvent is one entry of a case's timeline.
type CaseEvent struct {
	Status CaseStatus    `json:"status"`
	At     time.Time     `json:"at"`
	Note   Text          `json:"note"`
	Place  *ServicePoint `json:"place,omitempty"` // status ready: where to collect the result
}

// ValidCaseID reports whether s is a case id: "C" and 16 upper-case
// base32 characters. Case ids are random, so a tracking URL cannot be
// guessed from another.
func ValidCaseID(s string) bool {
	if len(s) != 17 || s[0] != 'C' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !voucherChar(s[i]) {
			return false
		}
	}
	return true
}

// ValidCaseNumber reports whether s is a human-readable case number:
// year, two-letter township code, six-digit sequence (2026-LQ-000123).
func ValidCaseNumber(s string) bool {
	if len(s) != 14 || s[4] != '-' || s[7] != '-' || !allDigits(s[:4]) || !allDigits(s[8:]) {
		return false
	}
	return s[5] >= 'A' && s[5] <= 'Z' && s[6] >= 'A' && s[6] <= 'Z'
}

// Case is a case the platform opened for an application (schema Case).
type Case struct {
	CaseID        string     `json:"caseId"`
	CaseNumber    string     `json:"caseNumber"`
	ApplicationID string     `json:"applicationId"`
	TerminalID    string     `json:"terminalId"`
	MatterID      string     `json:"matterId"`
	MatterName    Text       `json:"matterName"`
	Township      string     `json:"township"`
	Applicant     string     `json:"applicant"` // masked name (张*)
	Status        CaseStatus `json:"status"`
	AcceptedAt    time.Time  `json:"acceptedAt"`
	// TrackURL is the absolute URL of the human tracking page, for the
	// receipt's QR; it ends in /track/{caseId} (CaseIDFromTrackURL).
	TrackURL string      `json:"trackUrl"`
	Timeline []CaseEvent `json:"timeline"` // oldest first; the last entry is Status
}

// Validate checks the invariants a Case reply must hold.
func (c Case) Validate() error {
	switch {
	case !ValidCaseID(c.CaseID):
		return fmt.Errorf("case: bad caseId %q", c.CaseID)
	case !ValidCaseNumber(c.CaseNumber):
		return fmt.Errorf("case %s: bad caseNumber %q", c.CaseID, c.CaseNumber)
	case !ValidToken(c.ApplicationID) || !ValidToken(c.MatterID) || !ValidToken(c.Township):
		return fmt.Errorf("case %s: bad applicationId, matterId or township", c.CaseID)
	case c.TerminalID != "" && !ValidTerminalID(c.TerminalID):
		return fmt.Errorf("case %s: bad terminalId", c.CaseID)
	case !validCaseStatus(c.Status):
		return fmt.Errorf("case %s: bad status %q", c.CaseID, c.Status)
	case c.AcceptedAt.IsZero():
		return fmt.Errorf("case %s: acceptedAt missing", c.CaseID)
	case !validDisplay(c.Applicant, 8):
		return fmt.Errorf("case %s: applicant is not a masked name", c.CaseID)
	case len(c.Timeline) == 0 || len(c.Timeline) > 10:
		return fmt.Errorf("case %s: %d timeline entries", c.CaseID, len(c.Timeline))
	}
	if err := c.MatterName.Validate(); err != nil {
		return fmt.Errorf("case %s: matterName: %w", c.CaseID, err)
	}
	if id, ok := CaseIDFromTrackURL(c.TrackURL); !ok || id != c.CaseID {
		return fmt.Errorf("case %s: trackUrl is not an absolute URL ending in /track/%s", c.CaseID, c.CaseID)
	}
	first := c.Timeline[0]
	if first.Status != CaseAccepted || !first.At.Equal(c.AcceptedAt) {
		return fmt.Errorf("case %s: timeline does not start with accepted at acceptedAt", c.CaseID)
	}
	for i, e := range c.Timeline {
		if err := e.Note.Validate(); err != nil {
			return fmt.Errorf("case %s: timeline[%d]: %w", c.CaseID, i, err)
		}
		if (e.Status == CaseReady) != (e.Place != nil) {
			return fmt.Errorf("case %s: timeline[%d]: a place goes with status ready, and only there", c.CaseID, i)
		}
		if e.Place != nil {
			if err := e.Place.Validate(); err != nil {
				return fmt.Errorf("case %s: timeline[%d]: %w", c.CaseID, i, err)
			}
		}
		if i == 0 {
			continue
		}
		prev := c.Timeline[i-1]
		if !slices.Contains(nextStatuses(prev.Status), e.Status) || e.At.Before(prev.At) {
			return fmt.Errorf("case %s: timeline[%d]: %s after %s is not a legal step", c.CaseID, i, e.Status, prev.Status)
		}
	}
	if last := c.Timeline[len(c.Timeline)-1]; last.Status != c.Status {
		return fmt.Errorf("case %s: status %s but the timeline ends in %s", c.CaseID, c.Status, last.Status)
	}
	return nil
}

// CaseIDFromTrackURL extracts the case id from a tracking URL, as the
// terminal's scanner reads it off a receipt's QR. Only an absolute http(s)
// URL whose path ends in /track/{caseId} is accepted.
func CaseIDFromTrackURL(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	dir, id, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "track/")
	if !ok || (dir != "" && !strings.HasSuffix(dir, "/")) || !ValidCaseID(id) {
		return "", false
	}
	return id, true
}

// CaseList is the reply of POST /v1/cases/lookup: the person's cases,
// newest first.
type CaseList struct {
	Cases []Case `json:"cases"`
}

// MaxCaseList bounds CaseList.Cases (the platform sends the newest).
const MaxCaseList = 20

// ApplicationErrorBody is the body of the application replies that carry
// more than ErrorDetail: 422 application_incomplete (Missing) and 409
// counter_only (Counter) (schema ApplicationErrorBody).
type ApplicationErrorBody struct {
	Error ApplicationErrorDetail `json:"error"`
}

// ApplicationErrorDetail is ErrorDetail with the application's details.
type ApplicationErrorDetail struct {
	Code      string        `json:"code"`
	Message   string        `json:"message"`
	Retryable bool          `json:"retryable"`
	Missing   []MissingItem `json:"missing,omitempty"`
	Counter   *CounterInfo  `json:"counter,omitempty"`
}

// ApplicationError is the client's error for a final application reply
// with details: Missing for 422 application_incomplete (the complete list,
// 一次性告知), Counter for 409 counter_only (where and when instead). It
// wraps the *Error, so IsFinal and errors.As work as for any reply.
type ApplicationError struct {
	Err     *Error
	Missing []MissingItem
	Counter *CounterInfo
}

func (e *ApplicationError) Error() string {
	switch {
	case len(e.Missing) > 0:
		return fmt.Sprintf("%v (%d items missing)", e.Err, len(e.Missing))
	case e.Counter != nil:
		return fmt.Sprintf("%v (handled at %s)", e.Err, e.Counter.Where.Name.Zh)
	}
	return e.Err.Error()
}

func (e *ApplicationError) Unwrap() error { return e.Err }

// Error codes of applications, cases, persons and ratings. All final.
const (
	CodeTownshipNotFound      = "township_not_found"     // 404 unknown township
	CodeMatterNotFound        = "matter_not_found"       // 404 unknown matter
	CodeMatterNotOffered      = "matter_not_offered"     // 409 the matter is not in the township's list at submittedAt
	CodeCounterOnly           = "counter_only"           // 409 the matter is handled only at the service centre (body: counter)
	CodeApplicationIncomplete = "application_incomplete" // 422 something is missing (body: missing, the complete list)
	CodeApplicationConflict   = "application_conflict"   // 409 applicationId already used under another key
	CodePersonNotFound        = "person_not_found"       // 404 no record of this name and number
	CodeCaseNotFound          = "case_not_found"         // 404 unknown case
	CodeServiceNotFound       = "service_not_found"      // 404 a rating for an unknown service, or another terminal's
	CodeAlreadyRated          = "already_rated"          // 409 the service was rated under another key
)

// Rating levels of 好差评, 1 (非常不满意) to 5 (非常满意).
const (
	RatingMin = 1
	RatingMax = 5
)

// RatingLevelName is the Chinese and English name of a rating level.
func RatingLevelName(level int) Text {
	names := []Text{{"非常不满意", "Very dissatisfied"}, {"不满意", "Dissatisfied"}, {"基本满意", "Fairly satisfied"},
		{"满意", "Satisfied"}, {"非常满意", "Very satisfied"}}
	if level < RatingMin || level > RatingMax {
		return Text{"?", "?"}
	}
	return names[level-1]
}

// Services a rating is about (RatingRequest.Service).
const (
	ServiceBill = "bill" // bill:<paymentId>
	ServiceCase = "case" // case:<caseId>
)

// BillService names a paid bill for a rating: "bill:<paymentId>".
func BillService(paymentID string) string { return ServiceBill + ":" + paymentID }

// CaseService names a case for a rating: "case:<caseId>".
func CaseService(caseID string) string { return ServiceCase + ":" + caseID }

// ParseService splits a rating's service into its kind (ServiceBill or
// ServiceCase) and id.
func ParseService(s string) (kind, id string, ok bool) {
	kind, id, ok = strings.Cut(s, ":")
	switch {
	case !ok:
		return "", "", false
	case kind == ServiceBill && id != "" && len(id) <= 64 && ValidToken(id):
		return kind, id, true
	case kind == ServiceCase && ValidCaseID(id):
		return kind, id, true
	}
	return "", "", false
}

// RatingRequest is the body of POST /v1/ratings (schema RatingRequest):
// the resident's five-level rating (好差评) after a service.
type RatingRequest struct {
	TerminalID string    `json:"terminalId"`
	Service    string    `json:"service"` // BillService or CaseService
	Level      int       `json:"level"`   // RatingMin..RatingMax
	Comment    string    `json:"comment,omitempty"`
	RatedAt    time.Time `json:"ratedAt"`
}

// Validate checks a rating request (400 on failure). The comment is free
// text from the resident and is never quoted.
func (r RatingRequest) Validate() error {
	switch {
	case !ValidTerminalID(r.TerminalID):
		return fmt.Errorf("rating: bad terminalId %q", r.TerminalID)
	case r.Level < RatingMin || r.Level > RatingMax:
		return fmt.Errorf("rating: level %d out of range %d..%d", r.Level, RatingMin, RatingMax)
	case !validDisplay(r.Comment, MaxRatingCommentLength):
		return fmt.Errorf("rating: comment longer than %d characters or not text", MaxRatingCommentLength)
	case r.RatedAt.IsZero():
		return fmt.Errorf("rating: ratedAt missing")
	}
	if _, _, ok := ParseService(r.Service); !ok {
		return fmt.Errorf("rating: service must be bill:<paymentId> or case:<caseId>")
	}
	return nil
}

// Canonical returns the request with ratedAt in UTC, for replay comparison.
func (r RatingRequest) Canonical() RatingRequest {
	c := r
	c.RatedAt = r.RatedAt.UTC()
	return c
}

// Rating is a rating the platform recorded (schema Rating).
type Rating struct {
	RatingID   string    `json:"ratingId"`
	TerminalID string    `json:"terminalId"`
	Service    string    `json:"service"`
	Level      int       `json:"level"`
	Comment    string    `json:"comment,omitempty"`
	RatedAt    time.Time `json:"ratedAt"`
	ReceivedAt time.Time `json:"receivedAt"`
	// FollowUp is true for a bad rating (差评, level 1 or 2): the platform
	// calls the resident back and has it put right (回访整改).
	FollowUp bool `json:"followUp"`
}

// Validate checks a rating reply.
func (r Rating) Validate() error {
	switch {
	case !ValidToken(r.RatingID):
		return fmt.Errorf("rating reply: bad ratingId %q", r.RatingID)
	case r.Level < RatingMin || r.Level > RatingMax:
		return fmt.Errorf("rating reply: level %d out of range", r.Level)
	case r.RatedAt.IsZero() || r.ReceivedAt.IsZero():
		return fmt.Errorf("rating reply: ratedAt or receivedAt missing")
	case r.FollowUp != (r.Level <= 2):
		return fmt.Errorf("rating reply: followUp %v for level %d", r.FollowUp, r.Level)
	}
	if _, _, ok := ParseService(r.Service); !ok {
		return fmt.Errorf("rating reply: bad service")
	}
	return nil
}
