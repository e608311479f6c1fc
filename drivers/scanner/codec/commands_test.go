package codec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Byte vectors from protocols.md §4.
func TestCommandVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"honeywell activate", HoneywellTrigger(true), "16 54 0D"},
		{"honeywell deactivate", HoneywellTrigger(false), "16 55 0D"},
		{"newland trigger on", NewlandTrigger(true), "7E 01 30 30 30 30 23 53 43 4E 54 52 47 31 3B 03"},
		{"newland trigger off", NewlandTrigger(false), "7E 01 30 30 30 30 23 53 43 4E 54 52 47 30 3B 03"},
		{"newland manual mode", NewlandMode(true), "7E 01 30 30 30 30 40 53 43 4E 4D 4F 44 30 3B 03"},
		{"newland auto-sense mode", NewlandMode(false), "7E 01 30 30 30 30 40 53 43 4E 4D 4F 44 32 3B 03"},
	} {
		if want := unhex(t, tc.want); !bytes.Equal(tc.got, want) {
			t.Errorf("%s: % X, want % X", tc.name, tc.got, want)
		}
	}
}

func TestNewlandReply(t *testing.T) {
	raw := unhex(t, "02 01 30 30 30 30 23 53 43 4E 54 52 47 31 06 3B 03") // #SCNTRG1 ACK
	r, err := ParseNewlandReply(raw)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status() != ACK || r.Echo() != "#SCNTRG1" || !r.Answers(NewlandTrigger(true)) || r.Answers(NewlandTrigger(false)) {
		t.Fatalf("%+v", r)
	}
	if !bytes.Equal(r.Bytes(), raw) {
		t.Fatalf("round trip % X", r.Bytes())
	}
	multi := NewlandReply{Storage: '@', Results: []NewlandResult{{"SCNMOD2", ACK}, {"XYZABC1", ENQ}, {"SCNTRG9", NAK}}}
	back, err := ParseNewlandReply(multi.Bytes())
	if err != nil || back.Status() != ENQ || len(back.Results) != 3 || back.Echo() != "@SCNMOD2;XYZABC1;SCNTRG9" {
		t.Fatalf("%+v %v", back, err)
	}
	cmd, _ := NewlandCommand('@', "SCNMOD2", "XYZABC1", "SCNTRG9")
	if !back.Answers(cmd) {
		t.Fatal("multi-command reply does not answer its command")
	}
	for _, bad := range []string{
		"02 01 30 30 30 30 23 53 43 06 3B",       // no ETX
		"02 01 30 30 30 31 23 53 43 06 3B 03",    // prefix
		"02 01 30 30 30 30 24 53 43 06 3B 03",    // storage
		"02 01 30 30 30 30 23 53 43 07 3B 03",    // status
		"02 01 30 30 30 30 23 06 3B 03",          // no echo
		"02 01 30 30 30 30 23 53 0A 43 06 3B 03", // control byte in echo
		"02 01 30 30 30 30 23 3B 03",             // nothing
		"02 01 30 30 30 30 23 53 43 06 3B 3B 03", // empty part
	} {
		if _, err := ParseNewlandReply(unhex(t, bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if ACK.String() != "ACK" || NAK.String() != "NAK" || ENQ.String() != "ENQ" {
		t.Fatal("status names")
	}
}

func TestNewlandCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		st   byte
		cmds []string
	}{
		{'!', []string{"SCNTRG1"}}, {'#', nil}, {'#', []string{""}}, {'#', []string{"A;B"}}, {'#', []string{"A B"}},
		{'#', []string{strings.Repeat("A", 600)}},
	} {
		if _, err := NewlandCommand(tc.st, tc.cmds...); err == nil {
			t.Errorf("%q %q accepted", tc.st, tc.cmds)
		}
	}
	st, cmds, err := ParseNewlandCommand(NewlandTrigger(true))
	if err != nil || st != '#' || len(cmds) != 1 || cmds[0] != "SCNTRG1" {
		t.Fatalf("%q %v %v", st, cmds, err)
	}
}

func TestHostParser(t *testing.T) {
	var p HostParser
	in := append([]byte{0xFF}, HoneywellTrigger(true)...)
	in = append(in, NewlandTrigger(true)...)
	in = append(in, 0x16, 0x99, 0x0D)
	in = append(in, HoneywellTrigger(false)...)
	in = append(in, []byte("~\x010000!X;\x03")...)
	var got []string
	for _, b := range in { // byte by byte
		p.Write([]byte{b})
		for {
			c, err := p.Next()
			if errors.Is(err, ErrNeedMore) {
				break
			}
			switch {
			case err != nil:
				got = append(got, "err")
			case c.Honeywell:
				got = append(got, map[bool]string{true: "T", false: "U"}[c.Trigger])
			default:
				got = append(got, string(c.Storage)+strings.Join(c.Commands, ";"))
			}
		}
	}
	want := []string{"err", "T", "#SCNTRG1", "err", "U", "err"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v, want %v", got, want)
	}
}
