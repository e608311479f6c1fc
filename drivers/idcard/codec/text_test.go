package codec

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// block builds a text block by hand, independently of EncodeText: every
// UCS-2 unit a space, then each value written LE at its offset.
func block(fields map[int]string) []byte {
	b := make([]byte, TextLen)
	for i := 0; i < TextLen; i += 2 {
		b[i] = ' '
	}
	for off, s := range fields {
		for i, r := range []rune(s) {
			b[off+2*i] = byte(r)
			b[off+2*i+1] = byte(r >> 8)
		}
	}
	return b
}

func d(y int, m time.Month, day int) Date { return Date{y, m, day} }

// textCases are the four layouts of §1.7 and §1.10 at their offsets.
var textCases = []struct {
	name   string
	fields map[int]string
	want   Text
}{
	{"resident", map[int]string{0: "张三", 30: "1", 32: "01", 36: "19900101", 52: "北京市东城区样例街道测试路1号",
		122: "110101199001010015", 158: "北京市公安局东城分局（样例）", 188: "20200101", 204: "20400101"},
		Text{Type: TypeResident, Name: "张三", Gender: GenderMale, Nation: "01", Birth: d(1990, 1, 1),
			Address: "北京市东城区样例街道测试路1号", IDNumber: "110101199001010015", Authority: "北京市公安局东城分局（样例）",
			ValidFrom: d(2020, 1, 1), ValidTo: d(2040, 1, 1)}},
	{"resident, rare character, long-term", map[int]string{0: "王䶮", 30: "2", 32: "03", 36: "19650315", 52: "北京市朝阳区样例路2号（测试样例）",
		122: "110105196503150028", 158: "北京市公安局朝阳分局（样例）", 188: "20150315", 204: "长期"},
		Text{Type: TypeResident, Name: "王䶮", Gender: GenderFemale, Nation: "03", Birth: d(1965, 3, 15),
			Address: "北京市朝阳区样例路2号（测试样例）", IDNumber: "110105196503150028", Authority: "北京市公安局朝阳分局（样例）",
			ValidFrom: d(2015, 3, 15), LongTerm: true}},
	{"HK/Macao/Taiwan permit", map[int]string{0: "陈大文", 30: "1", 36: "19900101", 52: "广东省深圳市福田区样例路4号（样例）",
		122: "810000199001010019", 158: "深圳市公安局（样例）", 188: "20200101", 204: "20250101", 220: "H00000001", 238: "01", 248: "J"},
		Text{Type: TypeHKMOTW, Name: "陈大文", Gender: GenderMale, Birth: d(1990, 1, 1), Address: "广东省深圳市福田区样例路4号（样例）",
			IDNumber: "810000199001010019", Authority: "深圳市公安局（样例）", ValidFrom: d(2020, 1, 1), ValidTo: d(2025, 1, 1),
			PassNumber: "H00000001", IssueCount: "01"}},
	{"foreign permanent resident 2017", map[int]string{0: "SAMPLE, JOHN TEST", 120: "1", 122: "USA110190010101", 152: "USA",
		158: "约翰样例", 188: "20170601", 204: "20270601", 220: "19900101", 236: "01", 240: "1500", 248: "I"},
		Text{Type: TypeForeign2017, EnglishName: "SAMPLE, JOHN TEST", Gender: GenderMale, IDNumber: "USA110190010101",
			Nationality: "USA", Name: "约翰样例", ValidFrom: d(2017, 6, 1), ValidTo: d(2027, 6, 1), Birth: d(1990, 1, 1),
			CardVersion: "01", Authority: "1500"}},
	// The English name is 43 chars: 35 at 52, the other 8 at 220.
	{"foreign permanent resident 2023", map[int]string{0: "玛丽样例", 30: "2", 32: "00", 36: "19900101",
		52: "SAMPLE-TESTPERSON, MARY ELIZABETH A", 220: "LEXANDRA", 122: "911826199001010029",
		188: "20231201", 204: "20331201", 242: "GBR", 248: "Y"},
		Text{Type: TypeForeign2023, Name: "玛丽样例", Gender: GenderFemale, RenewalCount: "00", Birth: d(1990, 1, 1),
			EnglishName: "SAMPLE-TESTPERSON, MARY ELIZABETH ALEXANDRA", IDNumber: "911826199001010029",
			ValidFrom: d(2023, 12, 1), ValidTo: d(2033, 12, 1), Nationality: "GBR"}},
	// A space at char 35 belongs to the name: only the joined name is trimmed.
	{"2023 name split at a space", map[int]string{0: "李四", 30: "1", 52: "ABCDEFGHIJKLMNOPQRSTUVWXYZ ABCDEFG ", 220: "IJ", 248: "Y"},
		Text{Type: TypeForeign2023, Name: "李四", Gender: GenderMale, EnglishName: "ABCDEFGHIJKLMNOPQRSTUVWXYZ ABCDEFG IJ"}},
}

func TestDecodeText(t *testing.T) {
	for _, tc := range textCases {
		b := block(tc.fields)
		got, err := DecodeText(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, fields(got), fields(tc.want))
		}
		enc, err := EncodeText(tc.want)
		if err != nil {
			t.Fatalf("%s: EncodeText: %v", tc.name, err)
		}
		if !bytes.Equal(enc, b) {
			t.Errorf("%s: EncodeText differs from the hand-built block at % X", tc.name, firstDiff(enc, b))
		}
	}
}

// fields shows a Text's fields for a test failure (String masks them).
func fields(t Text) string {
	type plain Text
	return fmt.Sprintf("%+v", plain(t))
}

func firstDiff(a, b []byte) []int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return []int{i}
		}
	}
	return nil
}

func TestDecodeTextOddities(t *testing.T) {
	// NUL padding and a NUL type flag read as a resident card.
	b := make([]byte, TextLen)
	copy(b, []byte{0x20, 0x5F, 0x09, 0x4E}) // 张三
	got, err := DecodeText(b)
	if err != nil || got.Type != TypeResident || got.Name != "张三" || !got.Birth.IsZero() {
		t.Fatalf("NUL-padded: %+v %v", fields(got), err)
	}
	bad := []struct {
		name   string
		fields map[int]string
	}{
		{"unknown flag", map[int]string{248: "X"}},
		{"gender", map[int]string{30: "3"}},
		{"birth not a date", map[int]string{36: "19900230"}},
		{"birth short", map[int]string{36: "1990010"}},
		{"birth letters", map[int]string{36: "1990O101"}},
		{"valid to", map[int]string{204: "长期有效"}},
		{"valid from", map[int]string{188: "00000000"}},
	}
	for _, tc := range bad {
		_, err := DecodeText(block(tc.fields))
		if !errors.Is(err, ErrText) {
			t.Errorf("%s: %v, want ErrText", tc.name, err)
		}
	}
	if _, err := DecodeText(make([]byte, 255)); !errors.Is(err, ErrText) {
		t.Errorf("short block: %v", err)
	}
	// Encode refuses what does not fit rather than cutting it.
	for _, tx := range []Text{
		{Type: TypeResident, Name: strings.Repeat("名", 16)},
		{Type: TypeResident, IDNumber: strings.Repeat("1", 19)},
		{Type: TypeForeign2023, EnglishName: strings.Repeat("A", 47)},
		{Type: TypeResident, Gender: 'M'},
		{Type: TypeResident, LongTerm: true, ValidTo: d(2030, 1, 1)},
		{Type: 'Q'},
	} {
		if _, err := EncodeText(tx); !errors.Is(err, ErrText) {
			t.Errorf("EncodeText(%+v): %v, want ErrText", fields(tx), err)
		}
	}
}

func TestNation(t *testing.T) {
	for code, want := range map[string]string{"01": "汉", "02": "蒙古", "15": "土家", "29": "柯尔克孜", "43": "乌孜别克",
		"46": "德昂", "56": "基诺", "97": "其他", "98": "外国血统中国籍人士"} {
		if got, ok := NationName(code); !ok || got != want {
			t.Errorf("%s: %q %v, want %q", code, got, ok, want)
		}
	}
	for _, code := range []string{"", "00", "57", "96", "99", "1", "001", "a1"} {
		if got, ok := NationName(code); ok {
			t.Errorf("%q: %q, want none", code, got)
		}
	}
	n := 0
	for i := 1; i <= 99; i++ {
		if _, ok := NationName(fmt.Sprintf("%02d", i)); ok {
			n++
		}
	}
	if n != 58 {
		t.Errorf("%d codes, want 56 + 97 + 98", n)
	}
}

func TestGenderAndType(t *testing.T) {
	for g, zh := range map[Gender]string{'0': "未知", '1': "男", '2': "女", '9': "未说明"} {
		if g.Chinese() != zh || g.String() == "" {
			t.Errorf("%c: %q %q", g, g.Chinese(), g.String())
		}
	}
	for _, ct := range []CardType{TypeResident, TypeHKMOTW, TypeForeign2017, TypeForeign2023} {
		if ct.Chinese() == "未知证件" || strings.HasPrefix(ct.String(), "card type") {
			t.Errorf("%q has no name", rune(ct))
		}
	}
}

func TestParseDate(t *testing.T) {
	if got, err := ParseDate("20000229"); err != nil || got != d(2000, 2, 29) || got.String() != "2000-02-29" {
		t.Errorf("leap day: %v %v", got, err)
	}
	for _, s := range []string{"19000229", "20231301", "20230000", "00000101", "2023-1-1"} {
		if _, err := ParseDate(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestMasking(t *testing.T) {
	cases := []struct{ in, want string }{
		{"370201199001011234", "3702**********1234"},
		{"11010119900101001X", "1101**********001X"},
		{"USA110190010101", "USA1*******0101"},
		{"H00000001", "H*******1"},
		{"12", "**"},
		{"", ""},
	}
	for _, c := range cases {
		if got := MaskID(c.in); got != c.want {
			t.Errorf("MaskID(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for in, want := range map[string]string{"张三": "张*", "王䶮": "王*", "欧阳娜娜": "欧***", "张": "张*", "": "",
		"SAMPLE-TESTPERSON, MARY ELIZABETH ALEXANDRA": "S***"} {
		if got := MaskName(in); got != want {
			t.Errorf("MaskName(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tc := range textCases[:5] {
		tx := tc.want
		c := Card{Text: tx, Photo: make([]byte, PhotoLen)}
		var logged bytes.Buffer
		slog.New(slog.NewTextHandler(&logged, nil)).Info("read", "card", c, "text", tx)
		for _, out := range []string{tx.String(), fmt.Sprintf("%v %+v %#v %s", tx, tx, tx, tx), fmt.Sprintf("%v %+v %#v", c, c, c), logged.String()} {
			for _, secret := range []string{tx.IDNumber, tx.Name, tx.EnglishName} {
				if secret != "" && strings.Contains(out, secret) {
					t.Errorf("%s: %q leaks %q", tc.name, out, secret)
				}
			}
			if !strings.Contains(out, tx.Masked().IDNumber) {
				t.Errorf("%s: %q lacks the masked number", tc.name, out)
			}
		}
	}
}

func TestCheckDigit(t *testing.T) {
	// GB 11643's own example, and the sample numbers used in the simulator.
	for _, id := range []string{"11010519491231002X", "440524188001010014", "110101199001010015", "110105196503150028",
		"810000199001010019", "911826199001010029", "11010119900101004X"} {
		if !ValidIDNumber(id) {
			t.Errorf("%s: check digit rejected", id)
		}
	}
	// §6.3's test number does not pass (its check digit would be 5).
	for _, id := range []string{"11010119900101001X", "110101199001010016", "11010119900101001", "1101011990010100A5", ""} {
		if ValidIDNumber(id) {
			t.Errorf("%s accepted", id)
		}
	}
}
