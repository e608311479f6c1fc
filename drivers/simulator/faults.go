package simulator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	id003sim "tongban/drivers/id003/sim"
	idcardcodec "tongban/drivers/idcard/codec"
	idcardsim "tongban/drivers/idcard/sim"
	scannercodec "tongban/drivers/scanner/codec"
	sspsim "tongban/drivers/ssp/sim"
)

// A fault is written NAME, NAME:ARG or NAME:off; "none" clears every
// fault of the device.
type fault struct {
	help string
	// lasting faults stay until cleared and show in State; the others
	// act once (on the next reply, read or insert).
	lasting bool
	// apply injects the fault; on is false for NAME:off (lasting only).
	apply func(ctx context.Context, arg string, on bool) error
}

func parseUint(s string, base, bits int) (uint64, error) { return strconv.ParseUint(s, base, bits) }

// intArg is a count argument, def when absent.
func intArg(arg string, def int) (int, error) {
	if arg == "" {
		return def, nil
	}
	n, err := strconv.Atoi(arg)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q: want a positive whole number", arg)
	}
	return n, nil
}

// msArg is a duration argument in milliseconds, def when absent.
func msArg(arg string, def time.Duration) (time.Duration, error) {
	n, err := intArg(arg, int(def/time.Millisecond))
	return time.Duration(n) * time.Millisecond, err
}

// exclusive is a device condition that replaces the previous one (a bill
// validator reports one condition at a time).
const exclusive = "exclusive"

func (s *Simulator) faultTable(role string) (map[string]fault, bool) {
	switch role {
	case BillValidator:
		if s.ssp != nil {
			return s.sspFaults(), true
		}
		return s.id003Faults(), true
	case Printer:
		return s.printerFaults(), true
	case IDCardReader:
		return s.idcardFaults(), true
	case Scanner:
		return s.scannerFaults(), true
	case CoinAcceptor:
		return s.coinFaults(), true
	case GPIO:
		return s.gpioFaults(), true
	}
	return nil, false
}

func (s *Simulator) id003Faults() map[string]fault {
	t := map[string]fault{
		"powerCut": {help: "the validator loses power once (a note inside is returned or stacked on reset)",
			apply: func(context.Context, string, bool) error { s.id003.SetFault(id003sim.FaultPowerCut); return nil }},
	}
	for name, f := range map[string]id003sim.Fault{"stackerFull": id003sim.FaultStackerFull, "stackerOpen": id003sim.FaultStackerOpen,
		"jamInAcceptor": id003sim.FaultJamInAcceptor, "jamInStacker": id003sim.FaultJamInStacker} {
		t[name] = fault{help: exclusive, lasting: true, apply: func(_ context.Context, _ string, on bool) error {
			if on {
				s.id003.SetFault(f)
			} else {
				s.id003.SetFault(id003sim.FaultNone)
			}
			return nil
		}}
	}
	line := func(f func(*lineFaults)) error {
		if s.line == nil {
			return fmt.Errorf("the validator is not running")
		}
		s.line.set(f)
		return nil
	}
	t["garbage:N"] = fault{help: "the next N replies (1) start with noise bytes",
		apply: func(_ context.Context, a string, _ bool) error {
			n, err := intArg(a, 1)
			if err != nil {
				return err
			}
			return line(func(l *lineFaults) { l.garbage += n })
		}}
	t["dropBytes:N"] = fault{help: "the next N replies (1) each lose their last byte",
		apply: func(_ context.Context, a string, _ bool) error {
			n, err := intArg(a, 1)
			if err != nil {
				return err
			}
			return line(func(l *lineFaults) { l.lossy += n })
		}}
	t["dropReplies:N"] = fault{help: "the next N replies (1) are lost on the line",
		apply: func(_ context.Context, a string, _ bool) error {
			n, err := intArg(a, 1)
			if err != nil {
				return err
			}
			return line(func(l *lineFaults) { l.lost += n })
		}}
	t["slow:MS"] = fault{help: "every reply waits MS ms (100); slow:off restores", lasting: true,
		apply: func(_ context.Context, a string, on bool) error {
			d, err := msArg(a, 100*time.Millisecond)
			if err != nil {
				return err
			}
			if !on {
				d = 0
			}
			return line(func(l *lineFaults) { l.delay = d })
		}}
	t["none"] = fault{apply: func(context.Context, string, bool) error {
		s.id003.SetFault(id003sim.FaultNone)
		return line(func(l *lineFaults) { l.garbage, l.lossy, l.lost, l.delay = 0, 0, 0, 0 })
	}}
	return t
}

func (s *Simulator) sspFaults() map[string]fault {
	t := map[string]fault{
		"powerCut": {help: "power off and on once: key and settings lost, slave reset reported",
			apply: func(context.Context, string, bool) error { s.ssp.PowerCut(); return nil }},
		"garbage:N": {help: "the next N replies (1) start with noise bytes",
			apply: func(_ context.Context, a string, _ bool) error { return withInt(a, 1, s.ssp.Garbage) }},
		"dropReplies:N": {help: "the next N replies (1) are lost on the line",
			apply: func(_ context.Context, a string, _ bool) error { return withInt(a, 1, s.ssp.DropReplies) }},
		"dropBytes:N": {help: "the next N replies (1) each lose a byte",
			apply: func(_ context.Context, a string, _ bool) error { return withInt(a, 1, s.ssp.DropBytes) }},
		"slow:MS": {help: "every reply waits MS ms (300); slow:off restores", lasting: true,
			apply: func(_ context.Context, a string, on bool) error {
				d, err := msArg(a, 300*time.Millisecond)
				if !on {
					d = 0
				}
				if err == nil {
					s.ssp.SetReplyDelay(d)
				}
				return err
			}},
	}
	for name, f := range map[string]sspsim.Fault{"safeJam": sspsim.FaultSafeJam, "unsafeJam": sspsim.FaultUnsafeJam,
		"stackerFull": sspsim.FaultStackerFull, "cashboxRemoved": sspsim.FaultCashboxRemoved, "fraud": sspsim.FaultFraud} {
		t[name] = fault{help: exclusive, lasting: true, apply: func(_ context.Context, _ string, on bool) error {
			if on {
				s.ssp.SetFault(f)
			} else {
				s.ssp.SetFault(sspsim.FaultNone)
			}
			return nil
		}}
	}
	t["none"] = fault{apply: func(context.Context, string, bool) error {
		s.ssp.SetFault(sspsim.FaultNone)
		s.ssp.SetReplyDelay(0)
		return nil
	}}
	return t
}

func (s *Simulator) printerFaults() map[string]fault {
	sets := map[string]func(bool){"paperEnd": s.pr.SetPaperEnd, "nearEnd": s.pr.SetNearEnd, "coverOpen": s.pr.SetCoverOpen,
		"cutterError": s.pr.SetCutterError, "offline": s.pr.SetOffline}
	t := map[string]fault{
		"runOutAfter:N": {help: "the paper runs out after N more bytes of print data; runOutAfter:off cancels", lasting: true,
			apply: func(_ context.Context, a string, on bool) error {
				if !on {
					s.pr.RunOutAfter(-1)
					return nil
				}
				if a == "" {
					return errors.New("runOutAfter needs a byte count, e.g. runOutAfter:200")
				}
				return withInt(a, 0, s.pr.RunOutAfter)
			}},
	}
	helps := map[string]string{"paperEnd": "out of paper; paperEnd:off reloads it", "nearEnd": "paper near end, printing goes on; nearEnd:off",
		"coverOpen": "cover open; coverOpen:off closes it", "cutterError": "auto-cutter error; cutterError:off clears it",
		"offline": "offline for no other reason; offline:off"}
	for name, set := range sets {
		t[name] = fault{help: helps[name], lasting: true, apply: func(_ context.Context, _ string, on bool) error { set(on); return nil }}
	}
	t["none"] = fault{apply: func(context.Context, string, bool) error {
		for _, set := range sets {
			set(false)
		}
		s.pr.RunOutAfter(-1)
		return nil
	}}
	return t
}

func (s *Simulator) idcardFaults() map[string]fault {
	return map[string]fault{
		"garbage:N": {help: "N random bytes (16) before the next reply",
			apply: func(_ context.Context, a string, _ bool) error { return withInt(a, 16, s.idc.GarbageNext) }},
		"truncate:N": {help: "the next reply loses its last N bytes (4)",
			apply: func(_ context.Context, a string, _ bool) error {
				return withInt(a, 4, func(n int) { s.idc.TruncateNext(0, n) })
			}},
		"corrupt": {help: "the next reply fails its checksum",
			apply: func(context.Context, string, bool) error { s.idc.CorruptNext(0); return nil }},
		"fail:SW": {help: "the next card read answers SAM status SW (hex, 41: read failed)",
			apply: func(_ context.Context, a string, _ bool) error {
				st, err := idcardStatus(a, idcardcodec.StatusReadFailed)
				if err == nil {
					s.idc.FailNext(idcardsim.AnyRead, st)
				}
				return err
			}},
		"removeDuringRead": {help: "the card is lifted during the next read",
			apply: func(context.Context, string, bool) error { s.idc.RemoveCardDuringRead(); return nil }},
		"slow:MS": {help: "every reply waits MS ms (500); slow:off restores", lasting: true,
			apply: func(_ context.Context, a string, on bool) error {
				d, err := msArg(a, 500*time.Millisecond)
				if !on {
					d = 0
				}
				if err == nil {
					s.idc.SetDelay(d)
				}
				return err
			}},
		"mute": {help: "the SAM stops answering; mute:off restores", lasting: true,
			apply: func(_ context.Context, _ string, on bool) error { s.idc.SetMute(on); return nil }},
		"samFault:SW": {help: "every command answers SAM status SW (hex, 60: self-test failed); samFault:off clears", lasting: true,
			apply: func(_ context.Context, a string, on bool) error {
				st, err := idcardStatus(a, idcardcodec.StatusSelfTest)
				if !on {
					st = 0
				}
				if err == nil {
					s.idc.SetSAMFault(st)
				}
				return err
			}},
		"none": {apply: func(context.Context, string, bool) error { s.idc.ClearFaults(); return nil }},
	}
}

func (s *Simulator) scannerFaults() map[string]fault {
	return map[string]fault{
		"garbage:N": {help: "N bytes of line noise (8)",
			apply: func(_ context.Context, a string, _ bool) error {
				return withInt(a, 8, func(n int) {
					b := make([]byte, n)
					for i := range b {
						b[i] = byte(rand.IntN(256))
					}
					s.sc.SendGarbage(b)
				})
			}},
		"dropSuffix": {help: "the next read goes out without its suffix",
			apply: func(context.Context, string, bool) error { s.sc.DropSuffixOnce(); return nil }},
		"dropBytes:N": {help: "the next read loses N bytes (2) from its middle",
			apply: func(_ context.Context, a string, _ bool) error { return withInt(a, 2, s.sc.DropBytesOnce) }},
		"slow:MS": {help: "bytes MS ms apart (20), replies 10×MS late; slow:off restores", lasting: true,
			apply: func(_ context.Context, a string, on bool) error {
				d, err := msArg(a, 20*time.Millisecond)
				if !on {
					d = 0
				}
				if err == nil {
					s.sc.SetSlow(d, 10*d)
				}
				return err
			}},
		"deaf": {help: "ignores every command; deaf:off restores", lasting: true,
			apply: func(_ context.Context, _ string, on bool) error { s.sc.SetDeaf(on); return nil }},
		"refuse:nak|enq": {help: "answers every command NAK (default) or ENQ; refuse:off restores", lasting: true,
			apply: func(_ context.Context, a string, on bool) error {
				st := scannercodec.NAK
				switch strings.ToLower(a) {
				case "", "nak":
				case "enq":
					st = scannercodec.ENQ
				default:
					return fmt.Errorf("refuse %q: want nak or enq", a)
				}
				if !on {
					st = 0
				}
				s.sc.SetRefuse(st)
				return nil
			}},
		"none": {apply: func(context.Context, string, bool) error {
			s.sc.SetSlow(0, 0)
			s.sc.SetDeaf(false)
			s.sc.SetRefuse(0)
			return nil
		}},
	}
}

func (s *Simulator) coinFaults() map[string]fault {
	return map[string]fault{
		"stuck": {help: "the pulse line is held active (a jammed coin); stuck:off releases", lasting: true,
			apply: func(ctx context.Context, _ string, on bool) error { return s.coin.SetStuck(ctx, on) }},
		"bounce:N": {help: "every edge bounces N times (3); bounce:off", lasting: true,
			apply: func(_ context.Context, a string, on bool) error {
				n, err := intArg(a, 3)
				if !on {
					n = 0
				}
				if err == nil {
					s.coin.SetBounce(n, 2*time.Millisecond)
				}
				return err
			}},
		"gapGlitches:MS": {help: "a MS ms spike (5) in every gap of the following trains; gapGlitches:off", lasting: true,
			apply: func(_ context.Context, a string, on bool) error {
				d, err := msArg(a, 5*time.Millisecond)
				if !on {
					d = 0
				}
				if err == nil {
					s.coin.SetGapGlitches(d)
				}
				return err
			}},
		"glitch:MS": {help: "one lone MS ms spike (5) on the line",
			apply: func(ctx context.Context, a string, _ bool) error {
				d, err := msArg(a, 5*time.Millisecond)
				if err != nil {
					return err
				}
				return s.coin.Glitch(ctx, d)
			}},
		"none": {apply: func(ctx context.Context, _ string, _ bool) error {
			s.coin.SetBounce(0, 0)
			s.coin.SetGapGlitches(0)
			return s.coin.SetStuck(ctx, false)
		}},
	}
}

func (s *Simulator) gpioFaults() map[string]fault {
	input := func(a string) (string, error) {
		if _, ok := s.switches[a]; !ok {
			return "", fmt.Errorf("input %q: want %s, %s or %s", a, PinDoor, PinTamper, PinPresence)
		}
		return a, nil
	}
	bounce := func(n int) {
		for _, sw := range s.switches {
			sw.SetBounce(n, 5*time.Millisecond)
		}
	}
	return map[string]fault{
		"bounce:N": {help: "every switch change bounces N times (3); bounce:off", lasting: true,
			apply: func(_ context.Context, a string, on bool) error {
				n, err := intArg(a, 3)
				if !on {
					n = 0
				}
				if err == nil {
					bounce(n)
				}
				return err
			}},
		"glitch:INPUT": {help: "a 5 ms spike on door, tamper or presence (a knock on the cabinet)",
			apply: func(ctx context.Context, a string, _ bool) error {
				in, err := input(a)
				if err != nil {
					return err
				}
				return s.switches[in].Glitch(ctx, 5*time.Millisecond)
			}},
		"chatter:INPUT": {help: "door, tamper or presence flips every 5 ms for 300 ms (a failing switch)",
			apply: func(ctx context.Context, a string, _ bool) error {
				in, err := input(a)
				if err != nil {
					return err
				}
				return s.switches[in].Chatter(ctx, 300*time.Millisecond, 5*time.Millisecond)
			}},
		"none": {apply: func(context.Context, string, bool) error { bounce(0); return nil }},
	}
}

func withInt(arg string, def int, f func(int)) error {
	n, err := intArg(arg, def)
	if err != nil {
		return err
	}
	f(n)
	return nil
}

// Faults lists each device's faults with a line of help, for the CLI.
func (s *Simulator) Faults() map[string][]string {
	out := map[string][]string{}
	for _, role := range Roles() {
		t, _ := s.faultTable(role)
		var lines []string
		for name, f := range t {
			if name == "none" {
				continue
			}
			help := f.help
			if help == exclusive {
				help = "device condition until none (or " + name + ":off)"
			}
			lines = append(lines, name+" — "+help)
		}
		sort.Strings(lines)
		out[role] = append(lines, "none — clears every fault")
	}
	return out
}

// SetFault injects a fault into a device: NAME, NAME:ARG, NAME:off, or
// none to clear them all (see Faults).
func (s *Simulator) SetFault(role, spec string) error {
	t, ok := s.faultTable(role)
	if !ok {
		return fmt.Errorf("unknown device %q (%s)", role, strings.Join(Roles(), ", "))
	}
	name, arg, _ := strings.Cut(spec, ":")
	on := arg != "off"
	if !on {
		arg = ""
	}
	key := name
	f, ok := t[name]
	if !ok {
		// Table keys carry their argument's placeholder ("slow:MS").
		for k, v := range t {
			if base, _, _ := strings.Cut(k, ":"); base == name {
				key, f, ok = k, v, true
				break
			}
		}
	}
	if !ok {
		var names []string
		for k := range t {
			names = append(names, k)
		}
		sort.Strings(names)
		return fmt.Errorf("%s fault %q: want one of %s (NAME:off clears a lasting one)", role, spec, strings.Join(names, ", "))
	}
	if !on && !f.lasting && name != "none" {
		return fmt.Errorf("%s fault %s acts once; nothing to switch off", role, key)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.apply(ctx, arg, on); err != nil {
		return fmt.Errorf("%s fault %s: %w", role, spec, err)
	}
	switch {
	case name == "none":
		s.clearFaults(role)
	case f.help == exclusive && on:
		s.clearFaults(role, "slow") // one condition at a time; line faults stay
		s.noteFault(role, name, arg, true)
	case f.lasting:
		s.noteFault(role, name, arg, on)
	}
	s.log.Info("fault", "device", role, "fault", spec)
	return nil
}
