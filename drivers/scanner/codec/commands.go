package codec

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Scanner models the driver knows how to trigger.
const (
	ModelGeneric   = "generic"   // no commands: the scanner reads on its own
	ModelHoneywell = "honeywell" // SYN T CR / SYN U CR (and compatibles: Datalogic, CanMax)
	ModelNewland   = "newland"   // ~<SOH>0000 … ;<ETX> commands with ACK/NAK/ENQ replies
)

// HoneywellTrigger is the serial trigger command (protocols.md §4): on =
// activate 16 54 0D (SYN T CR), off = deactivate 16 55 0D (SYN U CR). The
// scanner must be in manual/serial trigger mode (TRGMOD0). It sends no
// reply; scanning stops on a read, on deactivate or on its read timeout.
func HoneywellTrigger(on bool) []byte {
	if on {
		return []byte{0x16, 0x54, 0x0D}
	}
	return []byte{0x16, 0x55, 0x0D}
}

// Newland storage types: a permanent setting survives a power cycle, a
// temporary one does not.
const (
	StoragePermanent = '@'
	StorageTemporary = '#'
)

// Newland reply status bytes.
type Status byte

const (
	ACK Status = 0x06 // done
	NAK Status = 0x15 // the value is out of range
	ENQ Status = 0x05 // no such tag or subtag
)

func (s Status) String() string {
	switch s {
	case ACK:
		return "ACK"
	case NAK:
		return "NAK"
	case ENQ:
		return "ENQ"
	}
	return fmt.Sprintf("status(%#02x)", byte(s))
}

// severity orders statuses so the worst of several can be reported.
func (s Status) severity() int {
	switch s {
	case ACK:
		return 0
	case NAK:
		return 1
	}
	return 2
}

var (
	cmdPrefix = []byte{'~', 0x01, '0', '0', '0', '0'}
	cmdSuffix = []byte{';', 0x03}
)

// maxReplyBody bounds a Newland command or reply between prefix and suffix.
const maxReplyBody = 512

// Newland commands used by the driver (protocols.md §4).
const (
	NewlandTriggerOn  = "SCNTRG1" // start a scan (temporary)
	NewlandTriggerOff = "SCNTRG0" // stop it
	NewlandModeManual = "SCNMOD0" // command-trigger mode
	NewlandModeAuto   = "SCNMOD2" // auto-sense mode
)

// checkCommand accepts printable ASCII without the separator ';'.
func checkCommand(c string) error {
	if c == "" {
		return errors.New("empty command")
	}
	for i := 0; i < len(c); i++ {
		if c[i] < 0x21 || c[i] > 0x7E || c[i] == ';' {
			return fmt.Errorf("command %q: byte %#02x not allowed", c, c[i])
		}
	}
	return nil
}

// NewlandCommand builds 7E 01 30 30 30 30 + storage + commands separated by
// ';' + 3B 03. Each command is Tag SubTag Data, e.g. "SCNTRG1".
func NewlandCommand(storage byte, cmds ...string) ([]byte, error) {
	if storage != StoragePermanent && storage != StorageTemporary {
		return nil, fmt.Errorf("newland: storage %q: want '@' or '#'", storage)
	}
	if len(cmds) == 0 {
		return nil, errors.New("newland: no command")
	}
	for _, c := range cmds {
		if err := checkCommand(c); err != nil {
			return nil, fmt.Errorf("newland: %w", err)
		}
	}
	b := append(bytes.Clone(cmdPrefix), storage)
	b = append(b, strings.Join(cmds, ";")...)
	if len(b)-len(cmdPrefix) > maxReplyBody {
		return nil, errors.New("newland: command too long")
	}
	return append(b, cmdSuffix...), nil
}

// NewlandTrigger is the trigger command: temporary storage, SCNTRG1 or
// SCNTRG0: 7E 01 30 30 30 30 23 53 43 4E 54 52 47 31 3B 03 to start.
func NewlandTrigger(on bool) []byte {
	c := NewlandTriggerOff
	if on {
		c = NewlandTriggerOn
	}
	b, _ := NewlandCommand(StorageTemporary, c)
	return b
}

// NewlandMode sets command-trigger (manual) or auto-sense mode,
// permanently (@SCNMOD0 / @SCNMOD2), as in protocols.md §4.
func NewlandMode(manual bool) []byte {
	c := NewlandModeAuto
	if manual {
		c = NewlandModeManual
	}
	b, _ := NewlandCommand(StoragePermanent, c)
	return b
}

// NewlandResult is one command's answer in a reply.
type NewlandResult struct {
	Echo   string // the command as echoed, e.g. "SCNTRG1"
	Status Status
}

// NewlandReply is 02 01 30 30 30 30 + storage + echo + status [; echo +
// status ...] + 3B 03, e.g. <STX><SOH>0000#SCNTRG1<ACK>;<ETX>.
type NewlandReply struct {
	Storage byte
	Results []NewlandResult
}

// Status is the worst status in the reply (ENQ, then NAK, then ACK).
func (r NewlandReply) Status() Status {
	worst := ACK
	for _, res := range r.Results {
		if res.Status.severity() > worst.severity() {
			worst = res.Status
		}
	}
	return worst
}

// Echo is the echoed command text, storage type first, e.g. "#SCNTRG1"
// (results joined with ';').
func (r NewlandReply) Echo() string {
	parts := make([]string, len(r.Results))
	for i, res := range r.Results {
		parts[i] = res.Echo
	}
	return string(r.Storage) + strings.Join(parts, ";")
}

// Answers reports whether the reply echoes the command cmd (as built by
// NewlandCommand), so a late reply to an earlier command is not taken for
// this one's.
func (r NewlandReply) Answers(cmd []byte) bool {
	storage, cmds, err := ParseNewlandCommand(cmd)
	if err != nil || storage != r.Storage || len(cmds) != len(r.Results) {
		return false
	}
	for i, c := range cmds {
		if r.Results[i].Echo != c {
			return false
		}
	}
	return true
}

// Bytes encodes the reply (the simulator's side).
func (r NewlandReply) Bytes() []byte {
	b := append([]byte{stx, 0x01, '0', '0', '0', '0'}, r.Storage)
	for i, res := range r.Results {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, res.Echo...)
		b = append(b, byte(res.Status))
	}
	return append(b, cmdSuffix...)
}

// ParseNewlandReply decodes one complete reply frame.
func ParseNewlandReply(b []byte) (NewlandReply, error) {
	if !bytes.HasPrefix(b, replyPrefix) {
		return NewlandReply{}, errors.New("reply does not start with 02 01 30 30 30 30")
	}
	if !bytes.HasSuffix(b, cmdSuffix) || len(b) < len(replyPrefix)+len(cmdSuffix) {
		return NewlandReply{}, errors.New("reply does not end with 3B 03")
	}
	body := b[len(replyPrefix) : len(b)-len(cmdSuffix)]
	if len(body) > maxReplyBody {
		return NewlandReply{}, fmt.Errorf("reply body of %d bytes", len(body))
	}
	if len(body) < 2 {
		return NewlandReply{}, errors.New("reply without storage type and status")
	}
	r := NewlandReply{Storage: body[0]}
	if r.Storage != StoragePermanent && r.Storage != StorageTemporary {
		return NewlandReply{}, fmt.Errorf("reply storage type %#02x", r.Storage)
	}
	for part := range bytes.SplitSeq(body[1:], []byte{';'}) {
		if len(part) < 2 {
			return NewlandReply{}, fmt.Errorf("reply part %q without command and status", part)
		}
		st := Status(part[len(part)-1])
		if st != ACK && st != NAK && st != ENQ {
			return NewlandReply{}, fmt.Errorf("reply status %#02x: want 06, 15 or 05", byte(st))
		}
		echo := string(part[:len(part)-1])
		if err := checkCommand(echo); err != nil {
			return NewlandReply{}, fmt.Errorf("reply echo: %w", err)
		}
		r.Results = append(r.Results, NewlandResult{Echo: echo, Status: st})
	}
	return r, nil
}

// ParseNewlandCommand decodes one complete command frame (the simulator's
// side): its storage type and commands.
func ParseNewlandCommand(b []byte) (storage byte, cmds []string, err error) {
	if !bytes.HasPrefix(b, cmdPrefix) || !bytes.HasSuffix(b, cmdSuffix) || len(b) < len(cmdPrefix)+len(cmdSuffix)+2 {
		return 0, nil, errors.New("newland: not a ~<SOH>0000 … ;<ETX> command")
	}
	body := b[len(cmdPrefix) : len(b)-len(cmdSuffix)]
	storage = body[0]
	if storage != StoragePermanent && storage != StorageTemporary {
		return 0, nil, fmt.Errorf("newland: storage %#02x", storage)
	}
	for c := range strings.SplitSeq(string(body[1:]), ";") {
		if err := checkCommand(c); err != nil {
			return 0, nil, fmt.Errorf("newland: %w", err)
		}
		cmds = append(cmds, c)
	}
	return storage, cmds, nil
}

// HostCommand is one command the host sent, as a simulated scanner sees
// it.
type HostCommand struct {
	Honeywell bool // a Honeywell trigger; Trigger says which
	Trigger   bool
	Storage   byte     // Newland
	Commands  []string // Newland
	Raw       []byte
}

// HostParser splits the host's byte stream into Honeywell and Newland
// commands (the simulator's decoder). Unknown bytes are reported as
// *FrameError with ErrGarbage.
type HostParser struct {
	buf []byte
}

// Write appends bytes from the host.
func (p *HostParser) Write(b []byte) { p.buf = append(p.buf, b...) }

// Pending is the number of buffered bytes.
func (p *HostParser) Pending() int { return len(p.buf) }

func (p *HostParser) take(n int) []byte {
	b := bytes.Clone(p.buf[:n])
	p.buf = p.buf[n:]
	return b
}

// Next returns the next command, a *FrameError, or ErrNeedMore.
func (p *HostParser) Next() (HostCommand, error) {
	if len(p.buf) == 0 {
		return HostCommand{}, ErrNeedMore
	}
	switch p.buf[0] {
	case 0x16: // SYN T CR / SYN U CR
		if len(p.buf) < 3 {
			return HostCommand{}, ErrNeedMore
		}
		if (p.buf[1] == 0x54 || p.buf[1] == 0x55) && p.buf[2] == 0x0D {
			on := p.buf[1] == 0x54
			return HostCommand{Honeywell: true, Trigger: on, Raw: p.take(3)}, nil
		}
	case '~':
		n := min(len(p.buf), len(cmdPrefix))
		if !bytes.Equal(p.buf[:n], cmdPrefix[:n]) {
			break
		}
		end := bytes.Index(p.buf, cmdSuffix)
		if end < 0 {
			if len(p.buf) > len(cmdPrefix)+maxReplyBody+2 {
				return HostCommand{}, &FrameError{Err: ErrGarbage, Skipped: p.take(len(p.buf))}
			}
			return HostCommand{}, ErrNeedMore
		}
		raw := p.take(end + len(cmdSuffix))
		st, cmds, err := ParseNewlandCommand(raw)
		if err != nil {
			return HostCommand{}, &FrameError{Err: fmt.Errorf("%w: %w", ErrGarbage, err), Skipped: raw}
		}
		return HostCommand{Storage: st, Commands: cmds, Raw: raw}, nil
	}
	// Skip to the next byte that could start a command.
	n := 1
	for n < len(p.buf) && p.buf[n] != 0x16 && p.buf[n] != '~' {
		n++
	}
	return HostCommand{}, &FrameError{Err: ErrGarbage, Skipped: p.take(n)}
}
