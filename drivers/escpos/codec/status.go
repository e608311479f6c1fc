package codec

import (
	"errors"
	"fmt"
)

// Every DLE EOT reply has bit 0 = 0, bit 1 = 1, bit 4 = 1, bit 7 = 0.
const (
	statusMask  = 0x93
	statusFixed = 0x12
	asbFixed    = 0x10 // first ASB byte: bits 0, 1 = 0, bit 4 = 1, bit 7 = 0
)

// ValidStatus reports whether b can be a DLE EOT reply: (b & 0x93) == 0x12.
func ValidStatus(b byte) bool { return b&statusMask == statusFixed }

// IsASBHeader reports whether b can be the first byte of an Automatic
// Status Back block: (b & 0x93) == 0x10. It never matches a DLE EOT reply,
// which is how a host tells unsolicited ASB bytes from the answer it waits for.
func IsASBHeader(b byte) bool { return b&statusMask == asbFixed }

// ErrStatusByte is wrapped by errors about bytes that are not status replies.
var ErrStatusByte = errors.New("not a DLE EOT status byte")

// Status is the printer's condition assembled from the DLE EOT 1..4 replies.
type Status struct {
	Offline         bool // n=1 bit 3
	CoverOpen       bool // n=2 bit 2
	FeedButton      bool // n=2 bit 3: paper is being fed by the FEED button
	PaperEnd        bool // n=2 bit 5 (printing stopped by paper end) or n=4 bits 5,6
	Error           bool // n=2 bit 6: an error occurred (cause in n=3)
	CutterError     bool // n=3 bit 3, recoverable with DLE ENQ
	Unrecoverable   bool // n=3 bit 5
	AutoRecoverable bool // n=3 bit 6, e.g. head over-temperature
	PaperNearEnd    bool // n=4 bits 2,3
}

// Apply merges the reply b to DLE EOT n into s.
func (s *Status) Apply(n, b byte) error {
	if !ValidStatus(b) {
		return fmt.Errorf("DLE EOT %d reply %#02x: %w", n, b, ErrStatusByte)
	}
	switch n {
	case 1:
		s.Offline = b&0x08 != 0
	case 2:
		s.CoverOpen = b&0x04 != 0
		s.FeedButton = b&0x08 != 0
		s.PaperEnd = s.PaperEnd || b&0x20 != 0
		s.Error = b&0x40 != 0
	case 3:
		s.CutterError = b&0x08 != 0
		s.Unrecoverable = b&0x20 != 0
		s.AutoRecoverable = b&0x40 != 0
	case 4:
		s.PaperNearEnd = b&0x0C != 0
		s.PaperEnd = s.PaperEnd || b&0x60 != 0
	default:
		return fmt.Errorf("DLE EOT %d: n must be 1..4", n)
	}
	return nil
}

// DecodeStatus builds a Status from the replies to DLE EOT 1, 2, 3 and 4.
func DecodeStatus(replies [4]byte) (Status, error) {
	var s Status
	for i, b := range replies {
		if err := s.Apply(byte(i+1), b); err != nil {
			return Status{}, err
		}
	}
	return s, nil
}

// Reply is the byte a printer in state s answers to DLE EOT n (n = 1..4),
// with the fixed bits set. It is the simulator's side of Apply.
func (s Status) Reply(n byte) byte {
	b := byte(statusFixed)
	set := func(on bool, bits byte) {
		if on {
			b |= bits
		}
	}
	switch n {
	case 1:
		set(s.Offline, 0x08)
	case 2:
		set(s.CoverOpen, 0x04)
		set(s.FeedButton, 0x08)
		set(s.PaperEnd, 0x20)
		set(s.Error, 0x40)
	case 3:
		set(s.CutterError, 0x08)
		set(s.Unrecoverable, 0x20)
		set(s.AutoRecoverable, 0x40)
	case 4:
		set(s.PaperNearEnd, 0x0C)
		set(s.PaperEnd, 0x60)
	}
	return b
}

// Ready reports whether a job sent now would print: no stop condition is
// set. A paper near end warning does not stop printing.
func (s Status) Ready() bool {
	return !(s.Offline || s.CoverOpen || s.FeedButton || s.PaperEnd || s.Error ||
		s.CutterError || s.Unrecoverable || s.AutoRecoverable)
}

// Reason is the most useful single cause in plain words, the same order a
// technician would check: hardware faults, then what a person can fix.
func (s Status) Reason() string {
	switch {
	case s.Unrecoverable:
		return "unrecoverable error"
	case s.CutterError:
		return "cutter error"
	case s.AutoRecoverable:
		return "auto-recoverable error (e.g. print head too hot)"
	case s.CoverOpen:
		return "cover open"
	case s.PaperEnd:
		return "paper end"
	case s.FeedButton:
		return "paper being fed (FEED button)"
	case s.Error:
		return "error"
	case s.Offline:
		return "offline"
	case s.PaperNearEnd:
		return "ready, paper near end"
	}
	return "ready"
}

func (s Status) String() string { return s.Reason() }

// ASB is the 4-byte Automatic Status Back block for s. Byte 1 follows the
// brief (bit 3 offline, 5 cover open, 6 FEED button); byte 3 has near end in
// bits 0,1 and paper end in bits 2,3. Bytes 2 and 4 are model-specific: here
// byte 2 mirrors the DLE EOT 3 error bits (3 cutter, 5 unrecoverable, 6
// auto-recoverable) and byte 4 is 0. Bytes 2–4 keep bit 4 clear, so none of
// them passes the DLE EOT validity mask either.
func (s Status) ASB() [4]byte {
	var a [4]byte
	a[0] = asbFixed
	if s.Offline {
		a[0] |= 0x08
	}
	if s.CoverOpen {
		a[0] |= 0x20
	}
	if s.FeedButton {
		a[0] |= 0x40
	}
	if s.CutterError {
		a[1] |= 0x08
	}
	if s.Unrecoverable {
		a[1] |= 0x20
	}
	if s.AutoRecoverable {
		a[1] |= 0x40
	}
	if s.PaperNearEnd {
		a[2] |= 0x03
	}
	if s.PaperEnd {
		a[2] |= 0x0C
	}
	return a
}

// DecodeASB reads an ASB block in the layout ASB writes.
func DecodeASB(a [4]byte) (Status, error) {
	if !IsASBHeader(a[0]) {
		return Status{}, fmt.Errorf("ASB first byte %#02x: fixed bits wrong", a[0])
	}
	s := Status{
		Offline:         a[0]&0x08 != 0,
		CoverOpen:       a[0]&0x20 != 0,
		FeedButton:      a[0]&0x40 != 0,
		CutterError:     a[1]&0x08 != 0,
		Unrecoverable:   a[1]&0x20 != 0,
		AutoRecoverable: a[1]&0x40 != 0,
		PaperNearEnd:    a[2]&0x03 != 0,
		PaperEnd:        a[2]&0x0C != 0,
	}
	s.Error = s.CutterError || s.Unrecoverable || s.AutoRecoverable
	return s, nil
}
