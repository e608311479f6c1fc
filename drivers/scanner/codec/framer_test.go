package codec

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// item is a frame or an error, for table comparisons.
type item struct {
	read  string
	aim   string
	reply string // Echo()
	err   error
}

func drain(t *testing.T, f *Framer, flush bool) []item {
	t.Helper()
	var out []item
	for steps := 0; ; steps++ {
		if steps > 10000 {
			t.Fatal("framer makes no progress")
		}
		fr, err := f.Next()
		if errors.Is(err, ErrNeedMore) {
			if !flush {
				return out
			}
			fr, err = f.Flush()
			flush = false
			if errors.Is(err, ErrNeedMore) {
				return out
			}
		}
		out = append(out, toItem(t, fr, err))
	}
}

func toItem(t *testing.T, fr Frame, err error) item {
	t.Helper()
	if err != nil {
		var fe *FrameError
		if !errors.As(err, &fe) || len(fe.Skipped) == 0 {
			t.Fatalf("error %v is not a FrameError with skipped bytes", err)
		}
		for _, e := range []error{ErrTooLong, ErrGarbage, ErrIncomplete, ErrBadReply} {
			if errors.Is(err, e) {
				return item{err: e}
			}
		}
		t.Fatalf("unknown error %v", err)
	}
	switch fr := fr.(type) {
	case Read:
		return item{read: fr.Data, aim: fr.AIM}
	case Reply:
		return item{reply: fr.Echo()}
	}
	t.Fatalf("unknown frame %T", fr)
	return item{}
}

func TestFramer(t *testing.T) {
	wechat := "134567890123456789"
	tests := []struct {
		name  string
		cfg   FramerConfig
		in    string
		flush bool
		want  []item
	}{
		{"crlf in auto", FramerConfig{}, wechat + "\r\n", false, []item{{read: wechat}}},
		{"cr in auto", FramerConfig{}, "A1\rB2\r", false, []item{{read: "A1"}, {read: "B2"}}},
		{"lf in auto", FramerConfig{}, "A1\nB2\n", false, []item{{read: "A1"}, {read: "B2"}}},
		{"blank lines skipped", FramerConfig{}, "\r\n\r\nA1\r\n\n", false, []item{{read: "A1"}}},
		{"crlf mode keeps waiting on lone cr", FramerConfig{Suffix: SuffixCRLF}, "A1\r", false, nil},
		{"crlf mode", FramerConfig{Suffix: SuffixCRLF}, "A1\r\nB2\r\n", false, []item{{read: "A1"}, {read: "B2"}}},
		{"cr mode", FramerConfig{Suffix: SuffixCR}, "A1\rB2\r", false, []item{{read: "A1"}, {read: "B2"}}},
		{"lf mode", FramerConfig{Suffix: SuffixLF}, "A1\nB2\n", false, []item{{read: "A1"}, {read: "B2"}}},
		{"none mode ends at flush", FramerConfig{Suffix: SuffixNone}, "A1", true, []item{{read: "A1"}}},
		{"prefix stripped", FramerConfig{Prefix: "SCN:"}, "SCN:A1\r\nA2\r\n", false, []item{{read: "A1"}, {read: "A2"}}},
		{"aim stripped", FramerConfig{StripAIM: true}, "]Q1https://x/verify/P1\r\n]C0\r\n", false,
			[]item{{read: "https://x/verify/P1", aim: "]Q1"}, {err: ErrGarbage}}},
		{"aim kept when off", FramerConfig{}, "]E09787\r\n", false, []item{{read: "]E09787"}}},
		{"garbage bytes", FramerConfig{}, "\xff\x00\x13\r\n" + wechat + "\r\n", false, []item{{err: ErrGarbage}, {read: wechat}}},
		{"invalid utf-8", FramerConfig{}, "ab\xc3\r\n", false, []item{{err: ErrGarbage}}},
		{"utf-8 text allowed", FramerConfig{}, "缴费\r\n", false, []item{{read: "缴费"}}},
		{"tab and GS allowed", FramerConfig{}, "a\tb\x1dc\r\n", false, []item{{read: "a\tb\x1dc"}}},
		{"lost suffix at flush", FramerConfig{}, "12345", true, []item{{err: ErrIncomplete}}},
		{"too long", FramerConfig{MaxLen: 8}, "123456789012\r\nA1\r\n", false, []item{{err: ErrTooLong}, {read: "A1"}}},
		{"newland reply", FramerConfig{}, "\x02\x010000#SCNTRG1\x06;\x03", false, []item{{reply: "#SCNTRG1"}}},
		{"reply between reads", FramerConfig{}, "A1\r\n\x02\x010000@SCNMOD2\x06;\x03A2\r\n", false,
			[]item{{read: "A1"}, {reply: "@SCNMOD2"}, {read: "A2"}}},
		{"reply cuts a read short", FramerConfig{}, "11111\x02\x010000@SCNMOD2\x06;\x03A2\r\n", false,
			[]item{{err: ErrIncomplete}, {reply: "@SCNMOD2"}, {read: "A2"}}},
		{"bad reply status", FramerConfig{}, "\x02\x010000#SCNTRG1\x07;\x03", false, []item{{err: ErrBadReply}}},
		{"stray stx", FramerConfig{}, "\x02A1\r\n", false, []item{{err: ErrBadReply}, {read: "A1"}}},
		{"reply cut by a line break", FramerConfig{}, "\x02\x010000#SCN\r\nA1\r\n", false, []item{{err: ErrBadReply}, {read: "A1"}}},
		{"partial reply at flush", FramerConfig{}, "\x02\x010000#SC", true, []item{{err: ErrBadReply}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFramer(tc.cfg)
			f.Write([]byte(tc.in))
			got := drain(t, f, tc.flush)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// Byte by byte, an overlong read is reported in pieces but never read, and
// the next read comes through.
func TestFramerOverlongInPieces(t *testing.T) {
	f := NewFramer(FramerConfig{MaxLen: 8})
	in := []byte("1234567890123456789012345\r\nA1\r\n")
	var got []item
	for _, b := range in {
		f.Write([]byte{b})
		got = append(got, drain(t, f, false)...)
	}
	var reads []string
	errs := 0
	for _, it := range got {
		if it.read != "" {
			reads = append(reads, it.read)
		}
		if it.err != nil {
			if it.err != ErrTooLong {
				t.Fatalf("error %v", it.err)
			}
			errs++
		}
	}
	if !reflect.DeepEqual(reads, []string{"A1"}) || errs == 0 {
		t.Fatalf("reads %v, %d errors", reads, errs)
	}
	if f.Pending() != 0 {
		t.Fatalf("pending %d", f.Pending())
	}
}

// The CR LF split across writes must not yield a blank read or lose the
// next one.
func TestFramerSplitCRLF(t *testing.T) {
	f := NewFramer(FramerConfig{})
	f.Write([]byte("A1\r"))
	got := drain(t, f, false)
	f.Write([]byte("\nA2\r"))
	got = append(got, drain(t, f, false)...)
	f.Write([]byte("\n"))
	got = append(got, drain(t, f, true)...)
	if !reflect.DeepEqual(got, []item{{read: "A1"}, {read: "A2"}}) {
		t.Fatalf("%+v", got)
	}
	if f.Blank() != 2 {
		t.Fatalf("blank %d", f.Blank())
	}
}

func TestParseSuffix(t *testing.T) {
	for s, want := range map[string]Suffix{"": SuffixAuto, "auto": SuffixAuto, "CR": SuffixCR, "lf": SuffixLF, "crlf": SuffixCRLF, "none": SuffixNone} {
		if got, err := ParseSuffix(s); err != nil || got != want {
			t.Errorf("ParseSuffix(%q) = %v %v", s, got, err)
		}
	}
	if _, err := ParseSuffix("tab"); err == nil {
		t.Error("tab accepted")
	}
	if SuffixCRLF.String() != "crlf" {
		t.Error(SuffixCRLF.String())
	}
}

func wireOf(fr Frame) []byte { return fr.Wire() }

// Raw bytes of frames are exactly what was read.
func TestFramerRaw(t *testing.T) {
	f := NewFramer(FramerConfig{})
	in := "A1\r\n\x02\x010000#SCNTRG1\x06;\x03"
	f.Write([]byte(in))
	var all []byte
	for {
		fr, err := f.Next()
		if err != nil {
			break
		}
		all = append(all, wireOf(fr)...)
	}
	if want := []byte("A1\r\x02\x010000#SCNTRG1\x06;\x03"); !bytes.Equal(all, want) || f.Blank() != 1 {
		t.Fatalf("raw % x blank %d", all, f.Blank())
	}
}
