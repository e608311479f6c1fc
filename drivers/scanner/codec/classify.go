package codec

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is what a scanned code is for.
type Kind string

const (
	KindWeChatPay   Kind = "wechatPay"   // 微信付款码: 18 digits, prefix 10–15
	KindAlipay      Kind = "alipay"      // 支付宝付款码: 16–24 digits, prefix 25–30
	KindUnionPay    Kind = "unionPay"    // 银联付款码: 19 digits, prefix 62
	KindReceipt     Kind = "receipt"     // a receipt's verification QR: http(s)://…/verify/{paymentId}
	KindEnroll      Kind = "enroll"      // an enrollment QR: tongban-enroll:v1?…
	KindUtilityBill Kind = "utilityBill" // a utility bill barcode (README.md)
	KindUnknown     Kind = "unknown"
)

// IsPayment reports whether the code is a customer-presented payment code,
// to be forwarded to the acquirer and never logged in full.
func (k Kind) IsPayment() bool {
	return k == KindWeChatPay || k == KindAlipay || k == KindUnionPay
}

// Utility names, as in the uplink API (kiosk/uplink/openapi.yaml).
var utilities = map[string]string{"01": "water", "02": "electricity", "03": "gas", "04": "heating"}

// Receipt is a parsed receipt verification QR.
type Receipt struct {
	URL        string
	PaymentID  string
	VerifyCode string // the ?c= code, "" if absent
}

// Enrollment is a parsed enrollment QR (format in README.md).
type Enrollment struct {
	Platform   string    // the platform's base URL
	Token      string    // one-time enrollment token
	Expires    time.Time // UTC
	CertSHA256 []byte    // SHA-256 of the platform's TLS certificate (DER); nil for a loopback http platform
}

// Expired reports whether the token has expired at now.
func (e Enrollment) Expired(now time.Time) bool { return !now.Before(e.Expires) }

// Bill is a parsed utility bill barcode.
type Bill struct {
	Utility string // water, electricity, gas, heating
	Account string // 6–20 digits, leading zeros kept
	Checked bool   // the barcode carried a check digit, and it matched
}

// Code is a classified read. Text is the code exactly as read: it may be a
// payment code or a one-time token, so log the Code itself (its String and
// LogValue are masked), never Text.
type Code struct {
	Kind    Kind
	Text    string
	Receipt *Receipt
	Enroll  *Enrollment
	Bill    *Bill
	Badge   *StaffBadge // a staff badge (staff.go)
	// Why says, for an unknown code that looked close to a known kind, what
	// was wrong (e.g. "17 digits with a WeChat Pay prefix").
	Why string
}

// String is the masked form, safe for logs.
func (c Code) String() string {
	s := string(c.Kind) + " " + Mask(c)
	if c.Why != "" {
		s += " (" + c.Why + ")"
	}
	return s
}

// LogValue makes slog print the masked form.
func (c Code) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("kind", string(c.Kind)), slog.String("code", Mask(c)), slog.Int("len", len(c.Text))}
	if c.Why != "" {
		attrs = append(attrs, slog.String("why", c.Why))
	}
	return slog.GroupValue(attrs...)
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

// Classify says what a scanned code is. It never fails: anything it does
// not recognise is KindUnknown (with Why when it was a near miss).
func Classify(text string) Code {
	c := Code{Kind: KindUnknown, Text: text}
	s := strings.TrimSpace(text)
	switch {
	case allDigits(s):
		classifyDigits(&c, s)
	case hasScheme(s, "tongban-enroll"):
		e, err := ParseEnrollment(s)
		if err != nil {
			c.Why = err.Error()
			return c
		}
		c.Kind, c.Enroll = KindEnroll, &e
	case hasScheme(s, "tongban-staff"):
		b, err := ParseStaffBadge(s)
		if err != nil {
			c.Why = err.Error()
			return c
		}
		c.Kind, c.Badge = KindStaffBadge, &b
	case hasScheme(s, "http") || hasScheme(s, "https"):
		r, why := parseReceipt(s)
		if r == nil {
			c.Why = why
			return c
		}
		c.Kind, c.Receipt = KindReceipt, r
	}
	return c
}

func hasScheme(s, scheme string) bool {
	return len(s) > len(scheme) && s[len(scheme)] == ':' && strings.EqualFold(s[:len(scheme)], scheme)
}

// classifyDigits applies the payment-code rules (protocols.md §4) and the
// bill barcode format. The prefixes never overlap: bills start with 0.
func classifyDigits(c *Code, s string) {
	n := len(s)
	p2, _ := strconv.Atoi(s[:min(2, n)])
	switch {
	case n >= 2 && p2 >= 10 && p2 <= 15:
		if n == 18 {
			c.Kind = KindWeChatPay
			return
		}
		c.Why = fmt.Sprintf("%d digits with a WeChat Pay prefix (want 18)", n)
	case n >= 2 && p2 >= 25 && p2 <= 30:
		if n >= 16 && n <= 24 {
			c.Kind = KindAlipay
			return
		}
		c.Why = fmt.Sprintf("%d digits with an Alipay prefix (want 16 to 24)", n)
	case n >= 2 && p2 == 62:
		if n == 19 {
			c.Kind = KindUnionPay
			return
		}
		c.Why = fmt.Sprintf("%d digits with a UnionPay prefix (want 19)", n)
	case n >= 1 && s[0] == '0':
		b, err := ParseBill(s)
		if err != nil {
			c.Why = err.Error()
			return
		}
		c.Kind, c.Bill = KindUtilityBill, &b
	}
}

// ParseBill reads a utility bill barcode: UU LL account [C], all digits,
// where UU is the utility (01 water, 02 electricity, 03 gas, 04 heating),
// LL the account length (06–20), account LL digits, and C an optional
// Luhn check digit over everything before it. See README.md.
func ParseBill(s string) (Bill, error) {
	if !allDigits(s) || len(s) < 4 {
		return Bill{}, fmt.Errorf("bill barcode: %d characters, not UU LL account [C]", len(s))
	}
	u, ok := utilities[s[:2]]
	if !ok {
		return Bill{}, fmt.Errorf("bill barcode: utility code %s (want 01 to 04)", s[:2])
	}
	l, _ := strconv.Atoi(s[2:4])
	if l < 6 || l > 20 {
		return Bill{}, fmt.Errorf("bill barcode: account length %02d (want 06 to 20)", l)
	}
	b := Bill{Utility: u}
	switch len(s) {
	case 4 + l:
	case 5 + l:
		if luhnDigit(s[:4+l]) != s[4+l] {
			return Bill{}, fmt.Errorf("bill barcode: check digit %c does not match", s[4+l])
		}
		b.Checked = true
	default:
		return Bill{}, fmt.Errorf("bill barcode: %d digits for an account of %d (want %d or %d)", len(s), l, 4+l, 5+l)
	}
	b.Account = s[4 : 4+l]
	return b, nil
}

// BillBarcode builds the barcode text for a bill, with the check digit.
func BillBarcode(utility, account string) (string, error) {
	code := ""
	for k, v := range utilities {
		if v == utility {
			code = k
		}
	}
	if code == "" {
		return "", fmt.Errorf("bill barcode: utility %q", utility)
	}
	if !allDigits(account) || len(account) < 6 || len(account) > 20 {
		return "", fmt.Errorf("bill barcode: account must be 6 to 20 digits")
	}
	s := fmt.Sprintf("%s%02d%s", code, len(account), account)
	return s + string(luhnDigit(s)), nil
}

// luhnDigit is the Luhn (mod 10) check digit for a digit string.
func luhnDigit(s string) byte {
	sum := 0
	double := true // the check digit will sit to the right
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

// maxID bounds a payment id (the API allows 64 characters).
const maxID = 64

func isIDChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_'
}

func validID(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i]) {
			return false
		}
	}
	return true
}

// parseReceipt accepts http(s)://host[/base]/verify/{paymentId}[?c=code],
// the verifyUrl of the uplink API.
func parseReceipt(s string) (*Receipt, string) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return nil, "not a plain http(s) URL"
	}
	i := strings.LastIndex(u.Path, "/verify/")
	id := ""
	if i >= 0 {
		id = u.Path[i+len("/verify/"):]
	}
	if i < 0 || strings.Contains(id, "/") {
		return nil, "URL path is not …/verify/{paymentId}"
	}
	if !validID(id, 1, maxID) {
		return nil, "payment id is not 1 to 64 letters, digits, - or _"
	}
	code := u.Query().Get("c")
	if code != "" && !validID(code, 4, 16) {
		return nil, "verify code is not 4 to 16 letters or digits"
	}
	return &Receipt{URL: s, PaymentID: id, VerifyCode: code}, ""
}

// ParseEnrollment reads an enrollment QR (format in README.md):
//
//	tongban-enroll:v1?p=<platform URL>&t=<token>&exp=<Unix seconds>&fp=<SHA-256 hex>
func ParseEnrollment(s string) (Enrollment, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || !strings.EqualFold(u.Scheme, "tongban-enroll") {
		return Enrollment{}, fmt.Errorf("enrollment: not a tongban-enroll: URI")
	}
	if u.Opaque != "v1" {
		return Enrollment{}, fmt.Errorf("enrollment: version %q (want v1)", u.Opaque)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Enrollment{}, fmt.Errorf("enrollment: query: %w", err)
	}
	for k, v := range q {
		if len(v) != 1 {
			return Enrollment{}, fmt.Errorf("enrollment: %s given %d times", k, len(v))
		}
	}
	var e Enrollment
	p, err := url.Parse(q.Get("p"))
	switch {
	case err != nil || p.Host == "" || p.User != nil || p.RawQuery != "" || p.Fragment != "":
		return Enrollment{}, fmt.Errorf("enrollment: platform address is not a plain URL")
	case p.Scheme == "https":
	case p.Scheme == "http" && isLoopback(p.Hostname()):
	default:
		return Enrollment{}, fmt.Errorf("enrollment: platform address must be https (http only on loopback)")
	}
	e.Platform = strings.TrimRight(p.String(), "/")
	e.Token = q.Get("t")
	if !validID(e.Token, 16, 128) {
		return Enrollment{}, fmt.Errorf("enrollment: token is not 16 to 128 base64url characters")
	}
	exp := q.Get("exp")
	sec, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || sec <= 0 || len(exp) > 11 {
		return Enrollment{}, fmt.Errorf("enrollment: expiry %q is not Unix seconds", exp)
	}
	e.Expires = time.Unix(sec, 0).UTC()
	if fp := q.Get("fp"); fp != "" {
		b, err := hex.DecodeString(fp)
		if err != nil || len(b) != 32 {
			return Enrollment{}, fmt.Errorf("enrollment: certificate fingerprint is not 64 hex digits")
		}
		e.CertSHA256 = b
	} else if p.Scheme == "https" {
		return Enrollment{}, fmt.Errorf("enrollment: https platform without a certificate fingerprint")
	}
	for k := range q {
		if k != "p" && k != "t" && k != "exp" && k != "fp" {
			return Enrollment{}, fmt.Errorf("enrollment: unknown field %q", k)
		}
	}
	return e, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// EnrollmentURI builds the QR text for an enrollment (the platform's
// side; used by tests and the simulator).
func EnrollmentURI(e Enrollment) string {
	q := url.Values{"p": {e.Platform}, "t": {e.Token}, "exp": {strconv.FormatInt(e.Expires.Unix(), 10)}}
	if len(e.CertSHA256) > 0 {
		q.Set("fp", hex.EncodeToString(e.CertSHA256))
	}
	return "tongban-enroll:v1?" + q.Encode()
}

// Mask gives a form of the code safe for logs and the screen: payment
// codes keep their 2-digit scheme prefix and last 2 digits, bill accounts
// their last 4, enrollment tokens and verify codes nothing, unknown codes
// their first 2 characters and length.
func Mask(c Code) string {
	s := c.Text
	switch c.Kind {
	case KindWeChatPay, KindAlipay, KindUnionPay:
		return s[:2] + strings.Repeat("*", len(s)-4) + s[len(s)-2:]
	case KindUtilityBill:
		a := c.Bill.Account
		return c.Bill.Utility + ":" + strings.Repeat("*", len(a)-4) + a[len(a)-4:]
	case KindReceipt:
		u, err := url.Parse(c.Receipt.URL)
		if err != nil {
			return "receipt"
		}
		u.RawQuery = ""
		if c.Receipt.VerifyCode != "" {
			u.RawQuery = "c=****"
		}
		return u.String()
	case KindEnroll:
		return fmt.Sprintf("platform=%s token=*(%d) exp=%s", c.Enroll.Platform, len(c.Enroll.Token), c.Enroll.Expires.Format(time.RFC3339))
	case KindStaffBadge:
		return "staff=" + c.Badge.StaffID + " sig=*"
	}
	n := utf8.RuneCountInString(s)
	if n <= 4 {
		return strings.Repeat("*", n)
	}
	r := []rune(s)
	return string(r[:2]) + fmt.Sprintf("…(%d chars)", n)
}
