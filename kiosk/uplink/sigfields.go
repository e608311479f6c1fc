package uplink

// A small RFC 8941 (Structured Field Values) reader and writer, enough for
// the Signature, Signature-Input and Content-Digest fields: dictionaries
// whose members are items or inner lists, with parameters. Decimals are
// not needed by any of the three and are refused.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

type sfKind int

const (
	sfInteger sfKind = iota + 1
	sfString
	sfToken
	sfBytes
	sfBool
)

// sfItem is a bare item.
type sfItem struct {
	kind  sfKind
	i     int64
	s     string // string or token
	b     []byte
	truth bool
}

type sfParam struct {
	key string
	val sfItem
}

// sfMember is one dictionary member: an item or an inner list, with
// parameters.
type sfMember struct {
	key    string
	inner  bool
	item   sfItem   // !inner
	list   []sfItem // inner; item parameters are refused (see parseInner)
	params []sfParam
}

func (m sfMember) param(key string) (sfItem, bool) {
	for _, p := range m.params {
		if p.key == key {
			return p.val, true
		}
	}
	return sfItem{}, false
}

var errSF = errors.New("structured field")

type sfParser struct {
	s string
	i int
}

func (p *sfParser) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errSF, what, p.i)
}

func (p *sfParser) eof() bool { return p.i >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *sfParser) skipSP() {
	for !p.eof() && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// parseDictionary parses a whole field value (several field lines must be
// joined with ", " first, as net/http's Header.Values gives them). Duplicate
// keys keep the last value, as RFC 8941 says.
func parseDictionary(s string) ([]sfMember, error) {
	p := &sfParser{s: s}
	p.skipSP()
	var out []sfMember
	for !p.eof() {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		m := sfMember{key: key}
		if p.peek() == '=' {
			p.i++
			if p.peek() == '(' {
				m.inner = true
				if m.list, err = p.innerList(); err != nil {
					return nil, err
				}
			} else if m.item, err = p.bareItem(); err != nil {
				return nil, err
			}
		} else {
			m.item = sfItem{kind: sfBool, truth: true}
		}
		if m.params, err = p.params(); err != nil {
			return nil, err
		}
		replaced := false
		for i := range out {
			if out[i].key == key {
				out[i], replaced = m, true
			}
		}
		if !replaced {
			out = append(out, m)
		}
		p.skipOWS()
		if p.eof() {
			break
		}
		if p.peek() != ',' {
			return nil, p.fail("expected ','")
		}
		p.i++
		p.skipOWS()
		if p.eof() {
			return nil, p.fail("trailing ','")
		}
	}
	return out, nil
}

func (p *sfParser) key() (string, error) {
	c := p.peek()
	if !(c >= 'a' && c <= 'z' || c == '*') {
		return "", p.fail("bad key")
	}
	start := p.i
	for !p.eof() {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) innerList() ([]sfItem, error) {
	p.i++ // (
	var out []sfItem
	for {
		p.skipSP()
		if p.eof() {
			return nil, p.fail("unterminated inner list")
		}
		if p.peek() == ')' {
			p.i++
			return out, nil
		}
		it, err := p.bareItem()
		if err != nil {
			return nil, err
		}
		// Component parameters (;sf, ;key, ;req ...) are not part of the
		// uplink profile; refusing them keeps "what was signed" obvious.
		if p.peek() == ';' {
			return nil, p.fail("parameters on an inner list item are not supported")
		}
		out = append(out, it)
		if c := p.peek(); c != ' ' && c != ')' {
			return nil, p.fail("expected ' ' or ')'")
		}
	}
}

func (p *sfParser) params() ([]sfParam, error) {
	var out []sfParam
	for p.peek() == ';' {
		p.i++
		p.skipSP()
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		val := sfItem{kind: sfBool, truth: true}
		if p.peek() == '=' {
			p.i++
			if val, err = p.bareItem(); err != nil {
				return nil, err
			}
		}
		replaced := false
		for i := range out {
			if out[i].key == key {
				out[i].val, replaced = val, true
			}
		}
		if !replaced {
			out = append(out, sfParam{key: key, val: val})
		}
	}
	return out, nil
}

func (p *sfParser) bareItem() (sfItem, error) {
	c := p.peek()
	switch {
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		if c == '-' {
			p.i++
		}
		digits := 0
		for !p.eof() && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			digits++
		}
		if p.peek() == '.' {
			return sfItem{}, p.fail("decimals are not supported")
		}
		if digits == 0 || digits > 15 {
			return sfItem{}, p.fail("bad integer")
		}
		n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
		if err != nil {
			return sfItem{}, p.fail("bad integer")
		}
		return sfItem{kind: sfInteger, i: n}, nil
	case c == '"':
		p.i++
		var b strings.Builder
		for {
			if p.eof() {
				return sfItem{}, p.fail("unterminated string")
			}
			c := p.s[p.i]
			p.i++
			switch {
			case c == '\\':
				if p.eof() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
					return sfItem{}, p.fail("bad escape in string")
				}
				b.WriteByte(p.s[p.i])
				p.i++
			case c == '"':
				return sfItem{kind: sfString, s: b.String()}, nil
			case c < 0x20 || c > 0x7e:
				return sfItem{}, p.fail("bad character in string")
			default:
				b.WriteByte(c)
			}
		}
	case c == ':':
		p.i++
		end := strings.IndexByte(p.s[p.i:], ':')
		if end < 0 {
			return sfItem{}, p.fail("unterminated byte sequence")
		}
		raw := p.s[p.i : p.i+end]
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return sfItem{}, p.fail("bad base64 in byte sequence")
		}
		p.i += end + 1
		return sfItem{kind: sfBytes, b: b}, nil
	case c == '?':
		p.i++
		switch p.peek() {
		case '1':
			p.i++
			return sfItem{kind: sfBool, truth: true}, nil
		case '0':
			p.i++
			return sfItem{kind: sfBool}, nil
		}
		return sfItem{}, p.fail("bad boolean")
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*':
		start := p.i
		for !p.eof() && isTokenChar(p.s[p.i]) {
			p.i++
		}
		return sfItem{kind: sfToken, s: p.s[start:p.i]}, nil
	}
	return sfItem{}, p.fail("unexpected character")
}

func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~:/", c) >= 0
}

// serialize writes an item in RFC 8941 form.
func (it sfItem) serialize(b *strings.Builder) {
	switch it.kind {
	case sfInteger:
		b.WriteString(strconv.FormatInt(it.i, 10))
	case sfString:
		b.WriteByte('"')
		for i := 0; i < len(it.s); i++ {
			if c := it.s[i]; c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(it.s[i])
		}
		b.WriteByte('"')
	case sfToken:
		b.WriteString(it.s)
	case sfBytes:
		b.WriteByte(':')
		b.WriteString(base64.StdEncoding.EncodeToString(it.b))
		b.WriteByte(':')
	case sfBool:
		if it.truth {
			b.WriteString("?1")
		} else {
			b.WriteString("?0")
		}
	}
}

func serializeParams(b *strings.Builder, ps []sfParam) {
	for _, p := range ps {
		b.WriteByte(';')
		b.WriteString(p.key)
		if p.val.kind == sfBool && p.val.truth {
			continue // a true boolean parameter is written as the bare key
		}
		b.WriteByte('=')
		p.val.serialize(b)
	}
}

// validSFString reports whether s can be an sf-string (printable ASCII).
func validSFString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
