package codec

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const fp = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestClassify(t *testing.T) {
	tests := []struct {
		code string
		want Kind
	}{
		// WeChat Pay: 18 digits, prefix 10..15.
		{"120061098828009406", KindWeChatPay}, // EasyWeChat's example
		{"100000000000000000", KindWeChatPay},
		{"159999999999999999", KindWeChatPay},
		{"13456789012345678", KindUnknown},   // 17 digits
		{"1345678901234567890", KindUnknown}, // 19 digits
		{"099999999999999999", KindUnknown},  // prefix 09 (and no bill)
		{"160000000000000000", KindUnknown},  // prefix 16
		{" 120061098828009406\t", KindWeChatPay},
		{"12006109882800940６", KindUnknown}, // a full-width digit
		{"1200 6109 8828 0094 06", KindUnknown},
		// Alipay: 16..24 digits, prefix 25..30.
		{"2800000000000000", KindAlipay},         // 16
		{"286543210987654321", KindAlipay},       // 18
		{"300000000000000000000000", KindAlipay}, // 24
		{"250000000000000000000000", KindAlipay},
		{"280000000000000", KindUnknown},           // 15
		{"2800000000000000000000000", KindUnknown}, // 25
		{"240000000000000000", KindUnknown},        // prefix 24
		{"310000000000000000", KindUnknown},        // prefix 31
		// UnionPay: 19 digits, prefix 62.
		{"6223456789012345678", KindUnionPay},
		{"622345678901234567", KindUnknown},   // 18
		{"62234567890123456789", KindUnknown}, // 20
		{"6123456789012345678", KindUnknown},  // prefix 61
		{"6323456789012345678", KindUnknown},  // prefix 63
		// Receipt verification QR.
		{"https://zwfw.example.gov.cn/verify/P20261127ABCDEFGHIJ?c=7K3Q", KindReceipt},
		{"http://127.0.0.1:8700/verify/P20261127ABCDEFGHIJ", KindReceipt},
		{"HTTPS://host.example/platform/verify/P1", KindReceipt},
		{"https://host.example/verify/", KindUnknown},
		{"https://host.example/verify/P1/extra", KindUnknown},
		{"https://host.example/verif/P1", KindUnknown},
		{"https://host.example/verify/P%3Cb%3E", KindUnknown},
		{"https://host.example/verify/P1?c=x", KindUnknown}, // code too short
		{"https://user:pw@host.example/verify/P1", KindUnknown},
		{"ftp://host.example/verify/P1", KindUnknown},
		{"/verify/P1", KindUnknown},
		// Enrollment QR.
		{"tongban-enroll:v1?p=https%3A%2F%2Fplatform.example.gov.cn&t=Zk3xY0qL9vB2nM8rT4wA&exp=1795000000&fp=" + fp, KindEnroll},
		{"TONGBAN-ENROLL:v1?p=http%3A%2F%2F127.0.0.1%3A8700&t=Zk3xY0qL9vB2nM8rT4wA&exp=1795000000", KindEnroll},
		{"tongban-enroll:v1?p=https%3A%2F%2Fplatform.example.gov.cn&t=Zk3xY0qL9vB2nM8rT4wA&exp=1795000000", KindUnknown}, // no fp
		{"tongban-enroll:v1?p=http%3A%2F%2Fplatform.example.gov.cn&t=Zk3xY0qL9vB2nM8rT4wA&exp=1795000000", KindUnknown},  // http, not loopback
		{"tongban-enroll:v2?p=https%3A%2F%2Fplatform.example.gov.cn&t=Zk3xY0qL9vB2nM8rT4wA&exp=1795000000&fp=" + fp, KindUnknown},
		{"tongban-enroll:v1?p=https%3A%2F%2Fplatform.example.gov.cn&t=short&exp=1795000000&fp=" + fp, KindUnknown},
		{"tongban-enroll:v1?p=https%3A%2F%2Fplatform.example.gov.cn&t=Zk3xY0qL9vB2nM8rT4wA&exp=soon&fp=" + fp, KindUnknown},
		{"tongban-enroll:v1?p=https%3A%2F%2Fplatform.example.gov.cn&t=Zk3xY0qL9vB2nM8rT4wA&exp=1795000000&fp=abcd", KindUnknown},
		{"tongban-enroll:v1?p=https%3A%2F%2Fplatform.example.gov.cn&t=Zk3xY0qL9vB2nM8rT4wA&t=again&exp=1795000000&fp=" + fp, KindUnknown},
		{"tongban-enroll:v1?p=https%3A%2F%2Fplatform.example.gov.cn&t=Zk3xY0qL9vB2nM8rT4wA&exp=1795000000&fp=" + fp + "&x=1", KindUnknown},
		// Utility bill barcodes: UU LL account [C].
		{"0110" + "1001000001", KindUtilityBill},
		{"02060123450", KindUnknown},    // length 06 but 7 digits after: check digit wrong?
		{"05101001000001", KindUnknown}, // utility 05
		{"01051234567", KindUnknown},    // account length 05
		{"0121" + strings.Repeat("1", 21), KindUnknown},
		{"011010010000", KindUnknown}, // too short for its length
		// Others.
		{"", KindUnknown},
		{"9787111213829", KindUnknown}, // an EAN-13 book
		{"hello", KindUnknown},
	}
	for _, tc := range tests {
		got := Classify(tc.code)
		if got.Kind != tc.want {
			t.Errorf("Classify(%q) = %s (%s), want %s", tc.code, got.Kind, got.Why, tc.want)
		}
		if got.Text != tc.code {
			t.Errorf("Text %q changed", got.Text)
		}
	}
}

func TestClassifyDetails(t *testing.T) {
	r := Classify("https://zwfw.example.gov.cn/verify/P20261127ABCDEFGHIJ?c=7K3Q")
	if r.Receipt == nil || r.Receipt.PaymentID != "P20261127ABCDEFGHIJ" || r.Receipt.VerifyCode != "7K3Q" {
		t.Fatalf("%+v", r.Receipt)
	}
	e := Classify("tongban-enroll:v1?p=https%3A%2F%2Fplatform.example.gov.cn%2Fapi%2F&t=Zk3xY0qL9vB2nM8rT4wA&exp=1795000000&fp=" + strings.ToUpper(fp))
	if e.Enroll == nil || e.Enroll.Platform != "https://platform.example.gov.cn/api" || e.Enroll.Token != "Zk3xY0qL9vB2nM8rT4wA" ||
		!e.Enroll.Expires.Equal(time.Unix(1795000000, 0)) || len(e.Enroll.CertSHA256) != 32 {
		t.Fatalf("%+v", e.Enroll)
	}
	if e.Enroll.Expired(time.Unix(1794999999, 0)) || !e.Enroll.Expired(time.Unix(1795000000, 0)) {
		t.Fatal("Expired")
	}
	back := Classify(EnrollmentURI(*e.Enroll))
	if back.Kind != KindEnroll || back.Enroll.Token != e.Enroll.Token || !bytes.Equal(back.Enroll.CertSHA256, e.Enroll.CertSHA256) {
		t.Fatalf("round trip %+v", back)
	}
	for _, u := range []string{"water", "electricity", "gas", "heating"} {
		code, err := BillBarcode(u, "001001000001")
		if err != nil {
			t.Fatal(err)
		}
		b := Classify(code)
		if b.Kind != KindUtilityBill || b.Bill.Utility != u || b.Bill.Account != "001001000001" || !b.Bill.Checked {
			t.Fatalf("%s: %q → %+v", u, code, b)
		}
		bad := code[:len(code)-1] + string('0'+(code[len(code)-1]-'0'+1)%10)
		if k := Classify(bad).Kind; k != KindUnknown {
			t.Fatalf("wrong check digit %q classified %s", bad, k)
		}
	}
	if code, _ := BillBarcode("water", "1001000001"); code != "011010010000012" {
		t.Fatalf("%q", code)
	}
	if _, err := BillBarcode("phone", "1001000001"); err == nil {
		t.Fatal("unknown utility accepted")
	}
	if _, err := BillBarcode("gas", "12345"); err == nil {
		t.Fatal("short account accepted")
	}
	if w := Classify("13456789012345678").Why; !strings.Contains(w, "17 digits") {
		t.Fatalf("why %q", w)
	}
}

// A known Luhn vector: 7992739871 has check digit 3.
func TestLuhn(t *testing.T) {
	if d := luhnDigit("7992739871"); d != '3' {
		t.Fatalf("luhn %c", d)
	}
}

// Payment codes, tokens and verify codes never appear in full in logs.
func TestMaskedInLogs(t *testing.T) {
	secrets := map[string]string{
		"120061098828009406":          "120061098828009406",
		"286543210987654321":          "286543210987654321",
		"6223456789012345678":         "6223456789012345678",
		"https://h/verify/P1?c=7K3QX": "7K3QX",
		"tongban-enroll:v1?p=https%3A%2F%2Fp.example&t=Zk3xY0qL9vB2nM8rT4wA&exp=1795000000&fp=" + fp: "Zk3xY0qL9vB2nM8rT4wA",
		"13456789012345678": "13456789012345678", // unknown near miss: still masked
	}
	for code, secret := range secrets {
		c := Classify(code)
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("read", "code", c)
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("read", "code", c)
		out := buf.String() + c.String() + Mask(c)
		if strings.Contains(out, secret) {
			t.Errorf("%s leaked %q:\n%s", c.Kind, secret, out)
		}
		if !strings.Contains(buf.String(), string(c.Kind)) {
			t.Errorf("kind missing from log: %s", buf.String())
		}
	}
	if m := Mask(Classify("120061098828009406")); m != "12**************06" {
		t.Fatalf("mask %q", m)
	}
	bill, _ := BillBarcode("gas", "001001000001")
	if m := Mask(Classify(bill)); m != "gas:********0001" {
		t.Fatalf("bill mask %q", m)
	}
	if !KindAlipay.IsPayment() || KindReceipt.IsPayment() {
		t.Fatal("IsPayment")
	}
}
