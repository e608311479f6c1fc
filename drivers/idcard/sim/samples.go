package sim

import (
	"crypto/sha256"
	"time"

	"tongban/drivers/idcard/codec"
)

// The sample cards hold obviously fictional data: names are the usual
// placeholders, addresses and authorities say 样例 (sample), and the ID
// numbers are test numbers that pass the MOD 11-2 check digit. Each call
// returns a fresh copy.

// SampleResident is a resident ID card: 张三, male, 汉, 1990-01-01.
func SampleResident() codec.Card {
	return sample(codec.Text{Type: codec.TypeResident, Name: "张三", Gender: codec.GenderMale, Nation: "01",
		Birth: date(1990, 1, 1), Address: "北京市东城区样例街道测试路1号", IDNumber: "110101199001010015",
		Authority: "北京市公安局东城分局（样例）", ValidFrom: date(2020, 1, 1), ValidTo: date(2040, 1, 1)}, "")
}

// SampleRareName is a resident ID card with a rare character in the name
// (王䶮, U+4DAE in CJK Extension A, which many printer fonts lack), valid
// long-term (长期), with an appended address and a fingerprint.
func SampleRareName() codec.Card {
	c := sample(codec.Text{Type: codec.TypeResident, Name: "王䶮", Gender: codec.GenderFemale, Nation: "03",
		Birth: date(1965, 3, 15), Address: "北京市朝阳区样例路2号（测试样例）", IDNumber: "110105196503150028",
		Authority: "北京市公安局朝阳分局（样例）", ValidFrom: date(2015, 3, 15), LongTerm: true},
		"北京市海淀区样例新址3号（样例）")
	c.Fingerprint = pattern("fingerprint "+c.Text.IDNumber, codec.FingerprintLen)
	return c
}

// SampleHKMOTW is a HK/Macao/Taiwan residents' residence permit ('J').
func SampleHKMOTW() codec.Card {
	return sample(codec.Text{Type: codec.TypeHKMOTW, Name: "陈大文", Gender: codec.GenderMale,
		Birth: date(1990, 1, 1), Address: "广东省深圳市福田区样例路4号（样例）", IDNumber: "810000199001010019",
		Authority: "深圳市公安局（样例）", ValidFrom: date(2020, 1, 1), ValidTo: date(2025, 1, 1),
		PassNumber: "H00000001", IssueCount: "01"}, "")
}

// SampleForeign2017 is a foreign permanent resident ID card, 2017 edition ('I').
func SampleForeign2017() codec.Card {
	return sample(codec.Text{Type: codec.TypeForeign2017, EnglishName: "SAMPLE, JOHN TEST", Name: "约翰样例",
		Gender: codec.GenderMale, IDNumber: "USA110190010101", Nationality: "USA", Birth: date(1990, 1, 1),
		ValidFrom: date(2017, 6, 1), ValidTo: date(2027, 6, 1), CardVersion: "01", Authority: "1500"}, "")
}

// SampleForeign2023 is a foreign permanent resident ID card, 2023 edition
// ('Y'), with an English name long enough to run into its second field.
func SampleForeign2023() codec.Card {
	return sample(codec.Text{Type: codec.TypeForeign2023, Name: "玛丽样例", Gender: codec.GenderFemale,
		RenewalCount: "00", Birth: date(1990, 1, 1), EnglishName: "SAMPLE-TESTPERSON, MARY ELIZABETH ALEXANDRA",
		IDNumber: "911826199001010029", Nationality: "GBR", ValidFrom: date(2023, 12, 1), ValidTo: date(2033, 12, 1)}, "")
}

// Samples are the builtin cards by name, for a control API.
func Samples() map[string]codec.Card {
	return map[string]codec.Card{
		"resident":    SampleResident(),
		"rareName":    SampleRareName(),
		"hkmotw":      SampleHKMOTW(),
		"foreign2017": SampleForeign2017(),
		"foreign2023": SampleForeign2023(),
	}
}

func date(y int, m time.Month, d int) codec.Date { return codec.Date{Year: y, Month: m, Day: d} }

func sample(t codec.Text, appended string) codec.Card {
	return codec.Card{Text: t, Photo: SamplePhoto(t.IDNumber), AppendedAddress: appended}
}

// SamplePhoto stands in for a WLT photo: 1024 bytes that start with a
// plain marker and are otherwise a pattern derived from seed. It is not a
// decodable WLT image; the daemon passes photos through untouched anyway.
func SamplePhoto(seed string) []byte {
	p := pattern("photo "+seed, codec.PhotoLen)
	copy(p, "SAMPLE PHOTO (not WLT)")
	return p
}

func pattern(seed string, n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	h := sha256.Sum256([]byte(seed))
	for len(out) < n {
		out = append(out, h[:]...)
		h = sha256.Sum256(h[:])
	}
	return out[:n]
}
