package codec

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf16"
)

// Sizes of what a SAM reads from a card.
const (
	TextLen        = 256  // text block (§1.7)
	PhotoLen       = 1024 // WLT photo (§1.9)
	FingerprintLen = 1024 // fingerprint data of 30 10 (§1.6)
	AddressLen     = 70   // appended address, 35 UCS-2 chars (§1.11)
	TypeOffset     = 248  // card type flag in the text block (§1.10)
)

// ErrText means a text block or one of its fields cannot be decoded or
// encoded. The error names the field; its value is never quoted, because
// text-block fields are personal data.
var ErrText = errors.New("idcard: bad text block")

// CardType is the type flag at text offset 248 (§1.10).
type CardType byte

const (
	TypeResident    CardType = ' ' // 居民身份证 resident ID card
	TypeHKMOTW      CardType = 'J' // 港澳台居民居住证 HK/Macao/Taiwan residence permit
	TypeForeign2017 CardType = 'I' // 外国人永久居留身份证 (2017 edition)
	TypeForeign2023 CardType = 'Y' // 外国人永久居留身份证 (2023 edition)
)

func (t CardType) String() string {
	switch t {
	case TypeResident:
		return "resident ID card"
	case TypeHKMOTW:
		return "HK/Macao/Taiwan residence permit"
	case TypeForeign2017:
		return "foreign permanent resident ID card (2017)"
	case TypeForeign2023:
		return "foreign permanent resident ID card (2023)"
	}
	return fmt.Sprintf("card type %q", rune(t))
}

// Chinese is the card's name in Chinese.
func (t CardType) Chinese() string {
	switch t {
	case TypeResident:
		return "居民身份证"
	case TypeHKMOTW:
		return "港澳台居民居住证"
	case TypeForeign2017:
		return "外国人永久居留身份证（2017版）"
	case TypeForeign2023:
		return "外国人永久居留身份证（2023版）"
	}
	return "未知证件"
}

// Gender is the one-character gender code (GB/T 2261.1, §1.7). The zero
// value means the field was blank.
type Gender byte

const (
	GenderUnknown     Gender = '0'
	GenderMale        Gender = '1'
	GenderFemale      Gender = '2'
	GenderUnspecified Gender = '9'
)

func (g Gender) valid() bool {
	switch g {
	case 0, GenderUnknown, GenderMale, GenderFemale, GenderUnspecified:
		return true
	}
	return false
}

func (g Gender) String() string {
	switch g {
	case 0:
		return ""
	case GenderUnknown:
		return "unknown"
	case GenderMale:
		return "male"
	case GenderFemale:
		return "female"
	case GenderUnspecified:
		return "unspecified"
	}
	return fmt.Sprintf("gender %q", rune(g))
}

// Chinese is the gender as printed on the card.
func (g Gender) Chinese() string {
	switch g {
	case GenderUnknown:
		return "未知"
	case GenderMale:
		return "男"
	case GenderFemale:
		return "女"
	case GenderUnspecified:
		return "未说明"
	}
	return ""
}

// Date is a calendar date from a YYYYMMDD field. The zero value is a blank
// field.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// IsZero reports a blank field.
func (d Date) IsZero() bool { return d == Date{} }

// Time is the date at midnight in loc.
func (d Date) Time(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// String is YYYY-MM-DD, or "" for a blank field.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// ParseDate reads YYYYMMDD; "" gives the zero Date.
func ParseDate(s string) (Date, error) {
	if s == "" {
		return Date{}, nil
	}
	if len(s) != 8 {
		return Date{}, errors.New("want 8 digits")
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return Date{}, errors.New("want 8 digits")
		}
		n = n*10 + int(c-'0')
	}
	d := Date{Year: n / 10000, Month: time.Month(n / 100 % 100), Day: n % 100}
	if d.Year == 0 || d.Time(time.UTC).Format("20060102") != s {
		return Date{}, errors.New("not a calendar date")
	}
	return d, nil
}

func (d Date) field() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d%02d%02d", d.Year, int(d.Month), d.Day)
}

// LongTermText is what the valid-to field holds for a card valid for life.
const LongTermText = "长期"

// Text is the decoded 256-byte text block of any of the four card types.
// Fields a card type does not have stay empty. It holds personal data:
// String, GoString and LogValue print only the masked form (see Masked).
type Text struct {
	Type CardType

	Name        string // Chinese name (姓名; 中文姓名 on foreign cards, may be blank on 2017 cards)
	EnglishName string // I, Y: English name (Y: both parts joined, up to 46 chars)
	Gender      Gender
	Nation      string // resident: nation code "01".."56", "97", "98" (§1.8)
	Birth       Date
	Address     string // resident, J: 住址
	IDNumber    string // resident, J, Y: 18-char number; I: 15-char permanent-residence number
	Authority   string // resident, J: 签发机关; I: issuing-authority code (4 chars)
	ValidFrom   Date
	ValidTo     Date // zero when LongTerm
	LongTerm    bool // valid-to reads 长期

	PassNumber     string // J: 通行证号码 (9 chars)
	IssueCount     string // J: 签发次数 (2 digits)
	Nationality    string // I, Y: 3-letter code (GB/T 2659)
	CardVersion    string // I: card version (2 chars)
	RenewalCount   string // Y: 换证次数 (2 chars)
	PreviousNumber string // Y: link to the previous-edition card (3 chars)
}

// NationName is the nation's name for Nation (汉, 蒙古, ...).
func (t Text) NationName() (string, bool) { return NationName(t.Nation) }

// layout names the (offset, bytes) of each field of one card type.
type span struct{ off, size int }

var (
	spName      = span{0, 30}
	spGender    = span{30, 2}
	spNation    = span{32, 4}
	spBirth     = span{36, 16}
	spAddress   = span{52, 70}
	spID        = span{122, 36}
	spAuthority = span{158, 30}
	spFrom      = span{188, 16}
	spTo        = span{204, 16}
	spFlag      = span{TypeOffset, 2}

	spJPass  = span{220, 18}
	spJCount = span{238, 4}

	spIEnglish     = span{0, 120}
	spIGender      = span{120, 2}
	spIID          = span{122, 30}
	spINationality = span{152, 6}
	spIName        = span{158, 30}
	spIBirth       = span{220, 16}
	spIVersion     = span{236, 4}
	spIAuthority   = span{240, 8}

	spYRenewal     = span{32, 4}
	spYEnglish1    = span{52, 70}
	spYEnglish2    = span{220, 22}
	spYNationality = span{242, 6}
	spYPrevious    = span{250, 6}
)

// raw decodes a field as UCS-2 little-endian, without trimming.
func raw(b []byte, s span) string {
	u := make([]uint16, s.size/2)
	for i := range u {
		u[i] = uint16(b[s.off+2*i]) | uint16(b[s.off+2*i+1])<<8
	}
	return string(utf16.Decode(u))
}

// field decodes a field and drops the right padding (spaces; NULs too,
// which some readers leave in unused fields).
func field(b []byte, s span) string { return strings.TrimRight(raw(b, s), " \x00") }

// DecodeText decodes a 256-byte text block, choosing the layout by the
// type flag at offset 248. A NUL flag is read as a resident ID card.
func DecodeText(b []byte) (Text, error) {
	if len(b) != TextLen {
		return Text{}, fmt.Errorf("%w: %d bytes, want %d", ErrText, len(b), TextLen)
	}
	flag := raw(b, spFlag)
	t := Text{}
	switch flag {
	case " ", "\x00":
		t.Type = TypeResident
	case "J", "I", "Y":
		t.Type = CardType(flag[0])
	default:
		return Text{}, fmt.Errorf("%w: unknown card type flag %+q", ErrText, flag)
	}
	var gender, birth, from, to string
	switch t.Type {
	case TypeResident, TypeHKMOTW:
		t.Name, gender, birth = field(b, spName), field(b, spGender), field(b, spBirth)
		t.Address, t.IDNumber, t.Authority = field(b, spAddress), field(b, spID), field(b, spAuthority)
		if t.Type == TypeResident {
			t.Nation = field(b, spNation)
		} else {
			t.PassNumber, t.IssueCount = field(b, spJPass), field(b, spJCount)
		}
	case TypeForeign2017:
		t.EnglishName, gender, t.IDNumber = field(b, spIEnglish), field(b, spIGender), field(b, spIID)
		t.Nationality, t.Name, birth = field(b, spINationality), field(b, spIName), field(b, spIBirth)
		t.CardVersion, t.Authority = field(b, spIVersion), field(b, spIAuthority)
	case TypeForeign2023:
		t.Name, gender, t.RenewalCount, birth = field(b, spName), field(b, spGender), field(b, spYRenewal), field(b, spBirth)
		// The English name runs on from 52:70 into 220:22; trim only the
		// joined name, a space at char 35 may be part of it.
		t.EnglishName = strings.TrimRight(raw(b, spYEnglish1)+raw(b, spYEnglish2), " \x00")
		t.IDNumber, t.Nationality, t.PreviousNumber = field(b, spID), field(b, spYNationality), field(b, spYPrevious)
	}
	from, to = field(b, spFrom), field(b, spTo)

	var err error
	if t.Gender, err = parseGender(gender); err != nil {
		return Text{}, err
	}
	if t.Birth, err = ParseDate(birth); err != nil {
		return Text{}, fmt.Errorf("%w: birth date: %v", ErrText, err)
	}
	if t.ValidFrom, err = ParseDate(from); err != nil {
		return Text{}, fmt.Errorf("%w: valid-from date: %v", ErrText, err)
	}
	// Readers that test the first character for a digit handle 长期 (§1.7).
	if to == LongTermText {
		t.LongTerm = true
	} else if t.ValidTo, err = ParseDate(to); err != nil {
		return Text{}, fmt.Errorf("%w: valid-to date: %v", ErrText, err)
	}
	return t, nil
}

func parseGender(s string) (Gender, error) {
	if s == "" {
		return 0, nil
	}
	if len(s) == 1 && Gender(s[0]).valid() {
		return Gender(s[0]), nil
	}
	return 0, fmt.Errorf("%w: gender code is not 0, 1, 2 or 9", ErrText)
}

// put writes s into a field, right-padded with spaces.
func put(b []byte, sp span, s string, name string) error {
	u := utf16.Encode([]rune(s))
	if len(u) > sp.size/2 {
		return fmt.Errorf("%w: %s is %d UCS-2 units, the field holds %d", ErrText, name, len(u), sp.size/2)
	}
	for i := range sp.size / 2 {
		c := uint16(' ')
		if i < len(u) {
			c = u[i]
		}
		b[sp.off+2*i], b[sp.off+2*i+1] = byte(c), byte(c>>8)
	}
	return nil
}

// EncodeText builds the 256-byte text block for t.Type (for simulators and
// tests). Unused and reserved parts are spaces. Fields that do not fit
// are an error, never cut.
func EncodeText(t Text) ([]byte, error) {
	b := make([]byte, TextLen)
	if err := put(b, span{0, TextLen}, "", ""); err != nil {
		return nil, err
	}
	if !t.Gender.valid() {
		return nil, fmt.Errorf("%w: gender code is not 0, 1, 2 or 9", ErrText)
	}
	if t.LongTerm && !t.ValidTo.IsZero() {
		return nil, fmt.Errorf("%w: both a valid-to date and long-term", ErrText)
	}
	gender := ""
	if t.Gender != 0 {
		gender = string(rune(t.Gender))
	}
	to := t.ValidTo.field()
	if t.LongTerm {
		to = LongTermText
	}
	type kv struct {
		sp   span
		v    string
		name string
	}
	var fields []kv
	switch t.Type {
	case TypeResident, TypeHKMOTW:
		fields = []kv{{spName, t.Name, "name"}, {spGender, gender, "gender"}, {spBirth, t.Birth.field(), "birth date"},
			{spAddress, t.Address, "address"}, {spID, t.IDNumber, "ID number"}, {spAuthority, t.Authority, "issuing authority"}}
		if t.Type == TypeResident {
			fields = append(fields, kv{spNation, t.Nation, "nation"})
		} else {
			fields = append(fields, kv{spJPass, t.PassNumber, "pass number"}, kv{spJCount, t.IssueCount, "issue count"})
		}
	case TypeForeign2017:
		fields = []kv{{spIEnglish, t.EnglishName, "English name"}, {spIGender, gender, "gender"}, {spIID, t.IDNumber, "permanent-residence number"},
			{spINationality, t.Nationality, "nationality"}, {spIName, t.Name, "Chinese name"}, {spIBirth, t.Birth.field(), "birth date"},
			{spIVersion, t.CardVersion, "card version"}, {spIAuthority, t.Authority, "authority code"}}
	case TypeForeign2023:
		en := utf16.Encode([]rune(t.EnglishName))
		first := min(len(en), spYEnglish1.size/2)
		en1, en2 := string(utf16.Decode(en[:first])), string(utf16.Decode(en[first:]))
		fields = []kv{{spName, t.Name, "Chinese name"}, {spGender, gender, "gender"}, {spYRenewal, t.RenewalCount, "renewal count"},
			{spBirth, t.Birth.field(), "birth date"}, {spYEnglish1, en1, "English name"}, {spYEnglish2, en2, "English name"},
			{spID, t.IDNumber, "ID number"}, {spYNationality, t.Nationality, "nationality"}, {spYPrevious, t.PreviousNumber, "previous card"}}
	default:
		return nil, fmt.Errorf("%w: unknown card type flag %+q", ErrText, rune(t.Type))
	}
	fields = append(fields, kv{spFrom, t.ValidFrom.field(), "valid-from date"}, kv{spTo, to, "valid-to date"},
		kv{spFlag, string(rune(t.Type)), "type flag"})
	for _, f := range fields {
		if err := put(b, f.sp, f.v, f.name); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Masked is the masked form of a card's identifiers, the only form that
// may go to journals, logs and receipts (design invariant 5).
type Masked struct {
	Type     CardType
	Name     string // first character, then stars: 张*
	IDNumber string // first and last four kept: 3702**********1234
}

func (m Masked) String() string {
	return fmt.Sprintf("%s %s %s", m.Type.Chinese(), m.Name, m.IDNumber)
}

// Masked gives the masked identifiers; the Chinese name, else the English one.
func (t Text) Masked() Masked {
	name := t.Name
	if name == "" {
		name = t.EnglishName
	}
	return Masked{Type: t.Type, Name: MaskName(name), IDNumber: MaskID(t.IDNumber)}
}

// String prints the masked form only, so a Text passed to fmt or a log by
// mistake does not leak personal data.
func (t Text) String() string { return t.Masked().String() }

// GoString also prints the masked form (%#v).
func (t Text) GoString() string { return "codec.Text{" + t.Masked().String() + "}" }

// LogValue logs the masked form only.
func (t Text) LogValue() slog.Value {
	m := t.Masked()
	return slog.GroupValue(slog.String("type", string(rune(m.Type))), slog.String("name", m.Name), slog.String("id", m.IDNumber))
}

// MaskName keeps the first character and replaces the rest with one star
// per character, at most three (张* 欧阳** ), so the mask does not give a
// long name's length away. A blank name stays blank.
func MaskName(s string) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) == 0 {
		return ""
	}
	return string(r[0]) + strings.Repeat("*", min(max(len(r)-1, 1), 3))
}

// MaskID keeps the first and last four characters of an ID number of ten
// or more (3702**********1234), the first and last of a shorter one, and
// nothing of one of two characters or fewer.
func MaskID(s string) string {
	r := []rune(strings.TrimSpace(s))
	switch {
	case len(r) == 0:
		return ""
	case len(r) <= 2:
		return strings.Repeat("*", len(r))
	case len(r) < 10:
		return string(r[0]) + strings.Repeat("*", len(r)-2) + string(r[len(r)-1])
	}
	return string(r[:4]) + strings.Repeat("*", len(r)-8) + string(r[len(r)-4:])
}

// idWeights are the ISO 7064 MOD 11-2 weights 2^(17-i) mod 11.
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// CheckDigit is the ISO 7064 MOD 11-2 check character ('0'..'9' or 'X')
// for the first 17 digits of an 18-character ID number (GB 11643).
func CheckDigit(first17 string) (byte, bool) {
	if len(first17) != 17 {
		return 0, false
	}
	sum := 0
	for i := range 17 {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		sum += int(c-'0') * idWeights[i]
	}
	return "10X98765432"[sum%11], true
}

// ValidIDNumber reports an 18-character number whose check digit matches
// (resident, HK/Macao/Taiwan and 2023 foreign cards all use it).
func ValidIDNumber(s string) bool {
	if len(s) != 18 {
		return false
	}
	c, ok := CheckDigit(s[:17])
	return ok && c == s[17]
}
