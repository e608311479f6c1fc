package codec

import (
	"errors"
	"testing"
)

func TestStatusMask(t *testing.T) {
	for _, tt := range []struct {
		b          byte
		valid, asb bool
	}{
		{0x12, true, false}, // all clear
		{0x16, true, false}, // drawer pin / cover open bit
		{0x1A, true, false}, // offline
		{0x72, true, false}, // paper end (n=4)
		{0x7E, true, false},
		{0x10, false, true}, // ASB first byte, nothing set
		{0x18, false, true}, // ASB offline
		{0x70, false, true},
		{0x13, false, false},
		{0x92, false, false},
		{0x02, false, false},
		{0x00, false, false},
		{0xFF, false, false},
	} {
		if got := ValidStatus(tt.b); got != tt.valid {
			t.Errorf("ValidStatus(%#02x) = %v", tt.b, got)
		}
		if got := IsASBHeader(tt.b); got != tt.asb {
			t.Errorf("IsASBHeader(%#02x) = %v", tt.b, got)
		}
	}
}

func TestDecodeStatus(t *testing.T) {
	tests := []struct {
		name    string
		replies [4]byte
		want    Status
		reason  string
		ready   bool
	}{
		{"ready", [4]byte{0x12, 0x12, 0x12, 0x12}, Status{}, "ready", true},
		{"offline", [4]byte{0x1A, 0x12, 0x12, 0x12}, Status{Offline: true}, "offline", false},
		{"cover open", [4]byte{0x1A, 0x16, 0x12, 0x12}, Status{Offline: true, CoverOpen: true}, "cover open", false},
		{"feed button", [4]byte{0x1A, 0x1A, 0x12, 0x12}, Status{Offline: true, FeedButton: true}, "paper being fed (FEED button)", false},
		{"paper end", [4]byte{0x1A, 0x32, 0x12, 0x72}, Status{Offline: true, PaperEnd: true}, "paper end", false},
		{"paper end n=4 only", [4]byte{0x12, 0x12, 0x12, 0x72}, Status{PaperEnd: true}, "paper end", false},
		{"near end", [4]byte{0x12, 0x12, 0x12, 0x1E}, Status{PaperNearEnd: true}, "ready, paper near end", true},
		{"cutter", [4]byte{0x1A, 0x52, 0x1A, 0x12}, Status{Offline: true, Error: true, CutterError: true}, "cutter error", false},
		{"unrecoverable", [4]byte{0x1A, 0x52, 0x32, 0x12}, Status{Offline: true, Error: true, Unrecoverable: true}, "unrecoverable error", false},
		{"auto recoverable", [4]byte{0x1A, 0x52, 0x52, 0x12}, Status{Offline: true, Error: true, AutoRecoverable: true}, "auto-recoverable error (e.g. print head too hot)", false},
		{"error only", [4]byte{0x12, 0x52, 0x12, 0x12}, Status{Error: true}, "error", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeStatus(tt.replies)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if got.Reason() != tt.reason || got.Ready() != tt.ready {
				t.Errorf("Reason %q Ready %v, want %q %v", got.Reason(), got.Ready(), tt.reason, tt.ready)
			}
		})
	}
	if _, err := DecodeStatus([4]byte{0x12, 0x10, 0x12, 0x12}); !errors.Is(err, ErrStatusByte) {
		t.Errorf("ASB byte accepted as status: %v", err)
	}
	var s Status
	if err := s.Apply(5, 0x12); err == nil {
		t.Error("DLE EOT 5 accepted")
	}
}

// allStatuses enumerates every combination of the nine flags.
func allStatuses() []Status {
	var out []Status
	for m := 0; m < 1<<9; m++ {
		bit := func(i int) bool { return m&(1<<i) != 0 }
		out = append(out, Status{Offline: bit(0), CoverOpen: bit(1), FeedButton: bit(2), PaperEnd: bit(3), Error: bit(4),
			CutterError: bit(5), Unrecoverable: bit(6), AutoRecoverable: bit(7), PaperNearEnd: bit(8)})
	}
	return out
}

func TestStatusReplyRoundTrip(t *testing.T) {
	for _, s := range allStatuses() {
		var r [4]byte
		for n := byte(1); n <= 4; n++ {
			r[n-1] = s.Reply(n)
			if !ValidStatus(r[n-1]) || IsASBHeader(r[n-1]) {
				t.Fatalf("%+v: reply %d = %#02x breaks the fixed bits", s, n, r[n-1])
			}
		}
		got, err := DecodeStatus(r)
		if err != nil || got != s {
			t.Fatalf("round trip %+v -> % x -> %+v, %v", s, r, got, err)
		}
	}
}

func TestASB(t *testing.T) {
	for _, s := range allStatuses() {
		a := s.ASB()
		if !IsASBHeader(a[0]) {
			t.Fatalf("%+v: ASB first byte %#02x", s, a[0])
		}
		for i, b := range a {
			if ValidStatus(b) {
				t.Fatalf("%+v: ASB byte %d %#02x would pass as a DLE EOT reply", s, i+1, b)
			}
		}
		got, err := DecodeASB(a)
		if err != nil {
			t.Fatal(err)
		}
		want := s
		want.Error = s.CutterError || s.Unrecoverable || s.AutoRecoverable
		if got != want {
			t.Fatalf("ASB round trip %+v -> % x -> %+v", s, a, got)
		}
	}
	if _, err := DecodeASB([4]byte{0x12}); err == nil {
		t.Error("DLE EOT byte accepted as ASB header")
	}
}
