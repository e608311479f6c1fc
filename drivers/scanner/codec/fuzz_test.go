package codec

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzFramer feeds any bytes, in chunks of any size, under any suffix
// mode. Nothing may panic or stall; every byte must be accounted for (in
// a frame's wire bytes, a FrameError, a blank line, or pending); reads
// hold no control bytes, are valid UTF-8 and within MaxLen; and chunking
// must not change the reads and replies found.
//
//	go test -run=^$ -fuzz=FuzzFramer -fuzztime=10s ./drivers/scanner/codec
func FuzzFramer(f *testing.F) {
	for _, s := range []string{
		"120061098828009406\r\n", "A1\rB2\nC3\r\n\r\n", "\x02\x010000#SCNTRG1\x06;\x03",
		"11111\x02\x010000@SCNMOD2\x06;\x03A2\r\n", "\xff\x00\x13\r\nA\r\n", "]Q1abc\r\n", "\x02\x02\x01\r",
		strings.Repeat("9", 40) + "\r\n", "\x02\x010000#" + strings.Repeat("A", 600),
	} {
		f.Add([]byte(s), uint8(0), uint8(0))
		f.Add([]byte(s), uint8(3), uint8(0x14))
	}
	f.Fuzz(func(t *testing.T, in []byte, split, mode uint8) {
		cfg := FramerConfig{Suffix: Suffix(mode % 5), StripAIM: mode&8 != 0, MaxLen: 16 + int(mode>>4)*4}
		if mode&0x80 != 0 {
			cfg.Prefix = "P:"
		}
		whole, acc1 := frameAll(t, cfg, in, len(in)+1)
		chunked, acc2 := frameAll(t, cfg, in, int(split%16)+1)
		if acc1 != len(in) || acc2 != len(in) {
			t.Fatalf("accounted %d and %d of %d bytes", acc1, acc2, len(in))
		}
		if !slices.Equal(whole, chunked) {
			t.Fatalf("chunking changed the frames:\n%q\n%q", whole, chunked)
		}
	})
}

// frameAll frames in with writes of chunk bytes and a final Flush; it
// returns the reads and replies found and the bytes accounted for.
func frameAll(t *testing.T, cfg FramerConfig, in []byte, chunk int) ([]string, int) {
	f := NewFramer(cfg)
	var out []string
	acc := 0
	steps := 0
	take := func(fr Frame, err error) bool {
		steps++
		if steps > 4*len(in)+8 {
			t.Fatalf("no progress after %d steps on %d bytes", steps, len(in))
		}
		if errors.Is(err, ErrNeedMore) {
			return false
		}
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) || len(fe.Skipped) == 0 {
				t.Fatalf("error without skipped bytes: %v", err)
			}
			acc += len(fe.Skipped)
			return true
		}
		acc += len(fr.Wire())
		switch fr := fr.(type) {
		case Read:
			if !utf8.ValidString(fr.Data) || fr.Data == "" || len(fr.Raw) > cfg.MaxLen+2 {
				t.Fatalf("bad read %q", fr.Data)
			}
			for _, c := range []byte(fr.Data) {
				if c < 0x20 && c != '\t' && c != 0x1D || c == 0x7F {
					t.Fatalf("control byte in read %q", fr.Data)
				}
			}
			out = append(out, "R"+fr.AIM+"|"+fr.Data)
		case Reply:
			if _, err := ParseNewlandReply(fr.Raw); err != nil {
				t.Fatalf("reply %q does not parse: %v", fr.Raw, err)
			}
			out = append(out, "N"+fr.Echo()+fr.Status().String())
		}
		return true
	}
	for i := 0; i < len(in); i += chunk {
		f.Write(in[i:min(i+chunk, len(in))])
		for take(f.Next()) {
		}
	}
	for take(f.Flush()) {
		for take(f.Next()) {
		}
	}
	if f.Pending() != 0 {
		t.Fatalf("%d bytes pending after flush", f.Pending())
	}
	return out, acc + f.Blank()
}

// FuzzNewlandReply: the reply parser never panics, and whatever it
// accepts re-encodes to the same bytes; the command parser likewise, and
// the host-side stream parser accounts for every byte.
//
//	go test -run=^$ -fuzz=FuzzNewlandReply -fuzztime=10s ./drivers/scanner/codec
func FuzzNewlandReply(f *testing.F) {
	f.Add([]byte("\x02\x010000#SCNTRG1\x06;\x03"))
	f.Add([]byte("\x02\x010000@SCNMOD2\x06;XYZ\x15;\x03"))
	f.Add([]byte("\x02\x010000#\x06;\x03"))
	f.Add([]byte("~\x010000#SCNTRG1;\x03"))
	f.Add(append(HoneywellTrigger(true), NewlandMode(true)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		if r, err := ParseNewlandReply(in); err == nil {
			if !bytes.Equal(r.Bytes(), in) {
				t.Fatalf("reply % x re-encodes as % x", in, r.Bytes())
			}
			_ = r.Status()
		}
		if st, cmds, err := ParseNewlandCommand(in); err == nil {
			again, err := NewlandCommand(st, cmds...)
			if err != nil || !bytes.Equal(again, in) {
				t.Fatalf("command % x re-encodes as % x (%v)", in, again, err)
			}
		}
		var p HostParser
		acc := 0
		for i := range in {
			p.Write(in[i : i+1])
			for steps := 0; ; steps++ {
				if steps > len(in)+2 {
					t.Fatal("host parser makes no progress")
				}
				c, err := p.Next()
				if errors.Is(err, ErrNeedMore) {
					break
				}
				var fe *FrameError
				if errors.As(err, &fe) {
					if len(fe.Skipped) == 0 {
						t.Fatal("empty skip")
					}
					acc += len(fe.Skipped)
				} else if err != nil {
					t.Fatalf("error %v", err)
				} else {
					acc += len(c.Raw)
				}
			}
		}
		if acc+p.Pending() != len(in) {
			t.Fatalf("accounted %d + pending %d of %d", acc, p.Pending(), len(in))
		}
	})
}

// FuzzClassify: Classify never panics, keeps the text, gives a known kind
// with the matching detail, and never shows a payment code or token in its
// masked forms.
//
//	go test -run=^$ -fuzz=FuzzClassify -fuzztime=10s ./drivers/scanner/codec
func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"120061098828009406", "286543210987654321", "6223456789012345678", "13456789012345678",
		"https://h.example/verify/P1?c=ABCD", "tongban-enroll:v1?p=https%3A%2F%2Fp.example&t=Zk3xY0qL9vB2nM8rT4wA&exp=1795000000&fp=" + fp,
		"011010010000015", "0", "", "\xff", "http://[::1]/verify/x", "tongban-enroll:", "https://%zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Classify(s)
		if c.Text != s {
			t.Fatal("text changed")
		}
		masked := c.String() + Mask(c)
		switch c.Kind {
		case KindWeChatPay, KindAlipay, KindUnionPay:
			if c.Receipt != nil || c.Enroll != nil || c.Bill != nil {
				t.Fatal("detail on a payment code")
			}
			if strings.Contains(masked, strings.TrimSpace(s)) {
				t.Fatalf("payment code in %q", masked)
			}
		case KindReceipt:
			if c.Receipt == nil || c.Receipt.PaymentID == "" {
				t.Fatal("receipt without id")
			}
			if c.Receipt.VerifyCode != "" && strings.Contains(masked, c.Receipt.VerifyCode) {
				t.Fatalf("verify code in %q", masked)
			}
		case KindEnroll:
			if c.Enroll == nil || strings.Contains(masked, c.Enroll.Token) {
				t.Fatalf("enrollment %+v masked %q", c.Enroll, masked)
			}
		case KindUtilityBill:
			if c.Bill == nil || len(c.Bill.Account) < 6 || len(c.Bill.Account) > 20 {
				t.Fatalf("bill %+v", c.Bill)
			}
		case KindUnknown:
			if len(s) > 8 && strings.Contains(masked, s) {
				t.Fatalf("unknown code in %q", masked)
			}
		default:
			t.Fatalf("kind %q", c.Kind)
		}
	})
}

// BenchmarkFramer frames a stream of payment-code reads. At 9600 baud a
// scanner delivers 960 bytes/s; the framer's MB/s is that many times
// faster.
func BenchmarkFramer(b *testing.B) {
	var stream []byte
	for range 100 {
		stream = append(stream, "134567890123456789\r\n"...)
	}
	b.SetBytes(int64(len(stream)))
	f := NewFramer(FramerConfig{})
	for b.Loop() {
		f.Write(stream)
		for {
			if _, err := f.Next(); errors.Is(err, ErrNeedMore) {
				break
			}
		}
	}
	b.ReportMetric(float64(len(stream))*float64(b.N)/b.Elapsed().Seconds()/960, "x-9600baud")
}

// BenchmarkClassify classifies a mix of codes.
func BenchmarkClassify(b *testing.B) {
	codes := []string{"134567890123456789", "286543210987654321", "6223456789012345678",
		"https://zwfw.example.gov.cn/verify/P20261127ABCDEFGHIJ?c=7K3Q", "0112001001000001" + "0", "hello"}
	i := 0
	for b.Loop() {
		_ = Classify(codes[i%len(codes)])
		i++
	}
}
