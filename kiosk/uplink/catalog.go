package uplink

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The township catalog (GET /v1/catalog) is the list of government-service
// matters a terminal offers on its home screen: exactly the personalised
// list (一乡镇一清单) of the township the terminal stands in, as in force
// at one instant. Lists change on effective dates (有进有出), so a catalog
// carries Version (also its ETag) and ValidUntil, the next scheduled
// change: the terminal keeps the whole catalog it fetched, refetches by
// ValidUntil (or when asked), and swaps in a new version in one step.
//
// A matter is handled in one of three ways (Channel): an application
// started at the terminal (ChannelApply), a bill paid at the terminal
// through the bill flow (ChannelPay), or only at the service centre
// (ChannelCounter: Counter says where, when and why).

// Text is a display string in Chinese (always set) and English.
type Text struct {
	Zh string `json:"zh"`
	En string `json:"en"`
}

// Validate checks that the Chinese text is present and both are sane.
func (t Text) Validate() error {
	if strings.TrimSpace(t.Zh) == "" {
		return fmt.Errorf("zh text empty")
	}
	if !validDisplay(t.Zh, 200) || !validDisplay(t.En, 400) {
		return fmt.Errorf("text too long or not UTF-8")
	}
	return nil
}

// validDisplay: UTF-8, at most max runes, no control characters.
func validDisplay(s string, max int) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' || r == 0x7f {
			return false
		}
	}
	return true
}

// ValidToken reports whether s is an identifier token of the catalog
// (matter, material, field, township, licence type and option ids): 1 to
// 64 of A-Z a-z 0-9 . _ -.
func ValidToken(s string) bool { return ValidTerminalID(s) }

// PowerType is the legal kind of a matter (权力类型).
type PowerType string

const (
	PowerLicensing     PowerType = "licensing"     // 行政许可
	PowerConfirmation  PowerType = "confirmation"  // 行政确认
	PowerBenefit       PowerType = "benefit"       // 行政给付
	PowerPublicService PowerType = "publicService" // 公共服务
	PowerOther         PowerType = "other"         // 其他行政权力 (e.g. 备案)
)

// PowerTypeName is the Chinese and English name of p.
func PowerTypeName(p PowerType) Text {
	switch p {
	case PowerLicensing:
		return Text{"行政许可", "Administrative licensing"}
	case PowerConfirmation:
		return Text{"行政确认", "Administrative confirmation"}
	case PowerBenefit:
		return Text{"行政给付", "Administrative benefit"}
	case PowerPublicService:
		return Text{"公共服务", "Public service"}
	case PowerOther:
		return Text{"其他行政权力", "Other administrative power"}
	}
	return Text{string(p), string(p)}
}

func validPowerType(p PowerType) bool {
	switch p {
	case PowerLicensing, PowerConfirmation, PowerBenefit, PowerPublicService, PowerOther:
		return true
	}
	return false
}

// DelegationMode is how the county delegated a matter to the township.
type DelegationMode string

const (
	// DelegationHandling (委托办理): the township decides, under the
	// county department's "No. 2 seal".
	DelegationHandling DelegationMode = "entrustedHandling"
	// DelegationAcceptance (委托受理): the township only accepts; the
	// county department decides.
	DelegationAcceptance DelegationMode = "entrustedAcceptance"
)

// DelegationModeName is the Chinese and English name of m.
func DelegationModeName(m DelegationMode) Text {
	switch m {
	case DelegationHandling:
		return Text{"委托办理", "Entrusted handling"}
	case DelegationAcceptance:
		return Text{"委托受理", "Entrusted acceptance"}
	}
	return Text{string(m), string(m)}
}

// Channel is where a resident gets a matter done.
type Channel string

const (
	ChannelApply   Channel = "apply"   // start an application at the terminal
	ChannelPay     Channel = "pay"     // pay the bill at the terminal (Matter.Utility)
	ChannelCounter Channel = "counter" // only at the service centre (Matter.Counter)
)

// MaterialSource is how a material (申请材料) reaches the platform.
type MaterialSource string

const (
	MaterialIDCard   MaterialSource = "idCard"   // the applicant's ID card, read by the terminal's reader
	MaterialLicence  MaterialSource = "licence"  // an electronic licence (电子证照) of Material.LicenceType, attached
	MaterialForm     MaterialSource = "form"     // made from the form the resident fills in
	MaterialInPerson MaterialSource = "inPerson" // paper original brought to the service centre (when collecting, for terminal applications)
)

// Material is one item of "what to bring" (申请材料).
type Material struct {
	MaterialID  string         `json:"materialId"`
	Name        Text           `json:"name"`
	Required    bool           `json:"required"`
	Source      MaterialSource `json:"source"`
	LicenceType string         `json:"licenceType,omitempty"` // source licence only
}

// Validate checks one material.
func (m Material) Validate() error {
	if !ValidToken(m.MaterialID) {
		return fmt.Errorf("material: bad materialId %q", m.MaterialID)
	}
	if err := m.Name.Validate(); err != nil {
		return fmt.Errorf("material %s: name: %w", m.MaterialID, err)
	}
	switch m.Source {
	case MaterialLicence:
		if !ValidToken(m.LicenceType) {
			return fmt.Errorf("material %s: source licence needs a licenceType", m.MaterialID)
		}
	case MaterialIDCard, MaterialForm, MaterialInPerson:
		if m.LicenceType != "" {
			return fmt.Errorf("material %s: licenceType only goes with source licence", m.MaterialID)
		}
	default:
		return fmt.Errorf("material %s: bad source %q", m.MaterialID, m.Source)
	}
	return nil
}

// FieldType is the kind of value a form field takes.
type FieldType string

const (
	FieldText     FieldType = "text"     // free text, 1..MaxFieldValue characters
	FieldDate     FieldType = "date"     // YYYY-MM-DD
	FieldSelect   FieldType = "select"   // one of FormField.Options' values
	FieldIDNumber FieldType = "idNumber" // an ID number (ValidIDNumber)
	FieldPhone    FieldType = "phone"    // a mobile (11 digits, 1[3-9]…) or landline (0 + area code, 10-12 digits, optional hyphen) number
)

// Prefill sources of FormField.Prefill: the ID card the terminal read, or
// the platform's history of the person (Person.History).
const (
	PrefillCardName         = "card.name"
	PrefillCardIDNumber     = "card.idNumber"
	PrefillCardAddress      = "card.address"
	PrefillCardGender       = "card.gender" // "male" or "female", the values of a gender select
	PrefillCardBirthDate    = "card.birthDate"
	PrefillHistoryPhone     = "history.phone"
	PrefillHistoryEmployer  = "history.employer"
	PrefillHistoryResidence = "history.residence"
)

// PrefillSources lists every prefill source the contract knows.
func PrefillSources() []string {
	return []string{PrefillCardName, PrefillCardIDNumber, PrefillCardAddress, PrefillCardGender, PrefillCardBirthDate,
		PrefillHistoryPhone, PrefillHistoryEmployer, PrefillHistoryResidence}
}

// MaxFieldValue bounds a form value, in characters.
const MaxFieldValue = 200

// FieldOption is one choice of a select field.
type FieldOption struct {
	Value string `json:"value"`
	Label Text   `json:"label"`
}

// FormField is one field of a matter's application form.
type FormField struct {
	FieldID  string        `json:"fieldId"`
	Label    Text          `json:"label"`
	Type     FieldType     `json:"type"`
	Required bool          `json:"required"`
	Prefill  string        `json:"prefill,omitempty"` // one of PrefillSources, or empty
	Options  []FieldOption `json:"options,omitempty"` // select only
}

// Validate checks one field definition.
func (f FormField) Validate() error {
	if !ValidToken(f.FieldID) {
		return fmt.Errorf("field: bad fieldId %q", f.FieldID)
	}
	if err := f.Label.Validate(); err != nil {
		return fmt.Errorf("field %s: label: %w", f.FieldID, err)
	}
	if f.Prefill != "" && !slices.Contains(PrefillSources(), f.Prefill) {
		return fmt.Errorf("field %s: unknown prefill source %q", f.FieldID, f.Prefill)
	}
	switch f.Type {
	case FieldSelect:
		if len(f.Options) == 0 {
			return fmt.Errorf("field %s: select without options", f.FieldID)
		}
		for i, o := range f.Options {
			if !ValidToken(o.Value) {
				return fmt.Errorf("field %s: option %d: bad value %q", f.FieldID, i, o.Value)
			}
			if err := o.Label.Validate(); err != nil {
				return fmt.Errorf("field %s: option %s: %w", f.FieldID, o.Value, err)
			}
			if slices.ContainsFunc(f.Options[:i], func(p FieldOption) bool { return p.Value == o.Value }) {
				return fmt.Errorf("field %s: option %s twice", f.FieldID, o.Value)
			}
		}
	case FieldText, FieldDate, FieldIDNumber, FieldPhone:
		if len(f.Options) != 0 {
			return fmt.Errorf("field %s: options on a %s field", f.FieldID, f.Type)
		}
	default:
		return fmt.Errorf("field %s: bad type %q", f.FieldID, f.Type)
	}
	return nil
}

// CheckValue tells why v is not a valid value of f ("" when it is). It
// never quotes v, so the answer may be logged.
func (f FormField) CheckValue(v string) string {
	if strings.TrimSpace(v) == "" {
		return "empty"
	}
	if !validDisplay(v, MaxFieldValue) || strings.Contains(v, "\n") {
		return "not one line of at most 200 characters"
	}
	switch f.Type {
	case FieldDate:
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return "not a date YYYY-MM-DD"
		}
	case FieldSelect:
		if !slices.ContainsFunc(f.Options, func(o FieldOption) bool { return o.Value == v }) {
			return "not one of the options"
		}
	case FieldIDNumber:
		if !ValidIDNumber(v) {
			return "not a valid ID number"
		}
	case FieldPhone:
		if !ValidPhone(v) {
			return "not a phone number"
		}
	}
	return ""
}

// ValidPhone reports whether s is a mainland mobile number (11 digits,
// 1 then 3-9) or a landline: 0, an area code and number, 10 to 12 digits
// with at most one hyphen after the area code.
func ValidPhone(s string) bool {
	if s == "" {
		return false
	}
	if len(s) == 11 && s[0] == '1' && s[1] >= '3' && s[1] <= '9' && allDigits(s) {
		return true
	}
	digits := strings.Replace(s, "-", "", 1)
	if i := strings.IndexByte(s, '-'); i >= 0 && (i < 3 || i > 4) {
		return false
	}
	return s[0] == '0' && len(digits) >= 10 && len(digits) <= 12 && allDigits(digits)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ServicePoint is a place residents go to: a township's service centre
// (便民服务中心), with its opening hours.
type ServicePoint struct {
	Name    Text   `json:"name"`
	Address string `json:"address"`
	Hours   Text   `json:"hours"`
	Phone   string `json:"phone"`
}

// Validate checks a service point.
func (p ServicePoint) Validate() error {
	if err := p.Name.Validate(); err != nil {
		return fmt.Errorf("service point name: %w", err)
	}
	if err := p.Hours.Validate(); err != nil {
		return fmt.Errorf("service point %s hours: %w", p.Name.Zh, err)
	}
	if strings.TrimSpace(p.Address) == "" || !validDisplay(p.Address, 200) {
		return fmt.Errorf("service point %s: bad address", p.Name.Zh)
	}
	if !validDisplay(p.Phone, 32) {
		return fmt.Errorf("service point %s: bad phone", p.Name.Zh)
	}
	return nil
}

// CounterInfo says where and when instead, and why, for a matter that
// cannot be handled at a terminal.
type CounterInfo struct {
	Reason Text         `json:"reason"` // e.g. 需现场勘验 (on-site inspection)
	Where  ServicePoint `json:"where"`
}

// Validate checks counter information.
func (c CounterInfo) Validate() error {
	if err := c.Reason.Validate(); err != nil {
		return fmt.Errorf("counter reason: %w", err)
	}
	return c.Where.Validate()
}

// Matter is one government-service matter of a township's list.
type Matter struct {
	MatterID string `json:"matterId"`
	// DirectoryNo is the matter's number (1..49) in the county-and-township
	// directory (《"县乡通办"事项指导目录》); 0 for an extra county matter
	// of the township's own list.
	DirectoryNo int            `json:"directoryNo"`
	Name        Text           `json:"name"`
	PowerType   PowerType      `json:"powerType"`
	Department  Text           `json:"department"` // delegating county department (县区赋权部门)
	Supervisor  Text           `json:"supervisor"` // supervising department (对应监管部门)
	Mode        DelegationMode `json:"mode"`
	Channel     Channel        `json:"channel"`
	Utility     Utility        `json:"utility,omitempty"` // channel pay only
	// PromisedDays is the promised working days to a decision (承诺时限);
	// 0 means on the spot (即办).
	PromisedDays int          `json:"promisedDays"`
	Materials    []Material   `json:"materials"`
	Fields       []FormField  `json:"fields"`            // channel apply only; empty otherwise
	Counter      *CounterInfo `json:"counter,omitempty"` // channel counter only
}

// MaxDirectoryNo is the size of the directory of the notice: 49 matters.
const MaxDirectoryNo = 49

// Validate checks one matter, including its materials and fields.
func (m Matter) Validate() error {
	if !ValidToken(m.MatterID) {
		return fmt.Errorf("matter: bad matterId %q", m.MatterID)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("matter %s: %s", m.MatterID, fmt.Sprintf(format, args...))
	}
	switch {
	case m.DirectoryNo < 0 || m.DirectoryNo > MaxDirectoryNo:
		return bad("directoryNo %d out of range 0..%d", m.DirectoryNo, MaxDirectoryNo)
	case m.PromisedDays < 0 || m.PromisedDays > 365:
		return bad("promisedDays %d out of range 0..365", m.PromisedDays)
	case !validPowerType(m.PowerType):
		return bad("bad powerType %q", m.PowerType)
	case m.Mode != DelegationHandling && m.Mode != DelegationAcceptance:
		return bad("bad mode %q", m.Mode)
	}
	for name, t := range map[string]Text{"name": m.Name, "department": m.Department, "supervisor": m.Supervisor} {
		if err := t.Validate(); err != nil {
			return bad("%s: %v", name, err)
		}
	}
	switch m.Channel {
	case ChannelApply:
		if len(m.Fields) == 0 || m.Counter != nil || m.Utility != "" {
			return bad("channel apply needs fields, and no counter or utility")
		}
	case ChannelPay:
		if !ValidUtility(m.Utility) || len(m.Fields) != 0 || m.Counter != nil {
			return bad("channel pay needs a utility, and no fields or counter")
		}
	case ChannelCounter:
		if m.Counter == nil || len(m.Fields) != 0 || m.Utility != "" {
			return bad("channel counter needs counter, and no fields or utility")
		}
		if err := m.Counter.Validate(); err != nil {
			return bad("%v", err)
		}
	default:
		return bad("bad channel %q", m.Channel)
	}
	for i, mt := range m.Materials {
		if err := mt.Validate(); err != nil {
			return bad("%v", err)
		}
		if slices.ContainsFunc(m.Materials[:i], func(o Material) bool { return o.MaterialID == mt.MaterialID }) {
			return bad("material %s twice", mt.MaterialID)
		}
	}
	for i, f := range m.Fields {
		if err := f.Validate(); err != nil {
			return bad("%v", err)
		}
		if slices.ContainsFunc(m.Fields[:i], func(o FormField) bool { return o.FieldID == f.FieldID }) {
			return bad("field %s twice", f.FieldID)
		}
	}
	return nil
}

// Field returns the form field with this id.
func (m Matter) Field(id string) (FormField, bool) {
	i := slices.IndexFunc(m.Fields, func(f FormField) bool { return f.FieldID == id })
	if i < 0 {
		return FormField{}, false
	}
	return m.Fields[i], true
}

// Catalog is the reply of GET /v1/catalog: one township's list of matters
// in force at At.
type Catalog struct {
	Township     string `json:"township"`
	TownshipName Text   `json:"townshipName"`
	// Version identifies the content (it is the ETag without quotes): the
	// same list gives the same version whatever At within
	// [ValidFrom, ValidUntil).
	Version    string     `json:"version"`
	At         time.Time  `json:"at"`                   // the instant the list was evaluated at
	ValidFrom  time.Time  `json:"validFrom"`            // the list has been in force since
	ValidUntil *time.Time `json:"validUntil,omitempty"` // next scheduled change; absent: none scheduled
	// Sample is true for made-up data (the reference platform's catalog);
	// the screen should say so. Notice is a line to show with it.
	Sample        bool         `json:"sample"`
	Notice        Text         `json:"notice"`
	ServiceCentre ServicePoint `json:"serviceCentre"` // the township's service centre
	Matters       []Matter     `json:"matters"`
}

// MaxCatalogMatters bounds Catalog.Matters.
const MaxCatalogMatters = 200

// Validate checks a catalog reply and everything in it.
func (c Catalog) Validate() error {
	switch {
	case !ValidToken(c.Township):
		return fmt.Errorf("catalog: bad township %q", c.Township)
	case !validVersion(c.Version):
		return fmt.Errorf("catalog %s: bad version %q", c.Township, c.Version)
	case c.At.IsZero() || c.ValidFrom.IsZero():
		return fmt.Errorf("catalog %s: at or validFrom missing", c.Township)
	case c.ValidFrom.After(c.At):
		return fmt.Errorf("catalog %s: validFrom %s after at %s", c.Township, c.ValidFrom, c.At)
	case c.ValidUntil != nil && !c.ValidUntil.After(c.At):
		return fmt.Errorf("catalog %s: validUntil %s not after at %s", c.Township, c.ValidUntil, c.At)
	case len(c.Matters) > MaxCatalogMatters:
		return fmt.Errorf("catalog %s: %d matters, at most %d", c.Township, len(c.Matters), MaxCatalogMatters)
	}
	if err := c.TownshipName.Validate(); err != nil {
		return fmt.Errorf("catalog %s: townshipName: %w", c.Township, err)
	}
	if err := c.ServiceCentre.Validate(); err != nil {
		return fmt.Errorf("catalog %s: %w", c.Township, err)
	}
	for i, m := range c.Matters {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("catalog %s: %w", c.Township, err)
		}
		if slices.ContainsFunc(c.Matters[:i], func(o Matter) bool { return o.MatterID == m.MatterID }) {
			return fmt.Errorf("catalog %s: matter %s twice", c.Township, m.MatterID)
		}
	}
	return nil
}

// Matter returns the matter with this id.
func (c Catalog) Matter(id string) (Matter, bool) {
	i := slices.IndexFunc(c.Matters, func(m Matter) bool { return m.MatterID == id })
	if i < 0 {
		return Matter{}, false
	}
	return c.Matters[i], true
}

// validVersion: 1 to 64 of the token characters; it travels in an ETag,
// so no quotes or spaces.
func validVersion(s string) bool { return ValidToken(s) }

// CardData is what the terminal's ID card reader gives a form: the
// prefill values of the card.* sources. The terminal fills it from the
// card it read and wipes it with the session.
type CardData struct {
	Name      string
	IDNumber  string
	Address   string
	Gender    string // "male" or "female"
	BirthDate string // YYYY-MM-DD
}

// String prints the masked form only, so CardData passed to fmt or a log
// by mistake does not leak personal data.
func (c CardData) String() string {
	return "card{" + MaskName(c.Name) + " " + MaskIDNumber(c.IDNumber) + "}"
}

// GoString prints the masked form too (%#v).
func (c CardData) GoString() string { return c.String() }

// LogValue logs the masked form only.
func (c CardData) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", MaskName(c.Name)), slog.String("id", MaskIDNumber(c.IDNumber)))
}

// Prefill returns the values of m's form that the card and the person's
// history supply (历史数据自动填充): field id → value. Fields whose
// source has no value are left out, and so are values that would not pass
// the field's own check (an old phone number in a bad format, a gender the
// select does not offer). history may be nil (the platform knows no history).
func (m Matter) Prefill(card CardData, history *History) map[string]string {
	src := map[string]string{
		PrefillCardName: card.Name, PrefillCardIDNumber: card.IDNumber, PrefillCardAddress: card.Address,
		PrefillCardGender: card.Gender, PrefillCardBirthDate: card.BirthDate,
	}
	if history != nil {
		src[PrefillHistoryPhone] = history.Phone
		src[PrefillHistoryEmployer] = history.Employer
		src[PrefillHistoryResidence] = history.Residence
	}
	out := map[string]string{}
	for _, f := range m.Fields {
		v := src[f.Prefill]
		if f.Prefill == "" || v == "" || f.CheckValue(v) != "" {
			continue
		}
		out[f.FieldID] = v
	}
	return out
}
