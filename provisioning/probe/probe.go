// Package probe finds which device sits on which serial port: it lists the
// machine's serial ports (with USB vendor and product ids where the kernel
// knows them) plus paths it is given (the simulators' pseudo terminals),
// sends each supported protocol's identify command at that protocol's line
// settings, and proposes a hardware profile from what answered.
//
// Ports are probed in parallel; on one port the protocols are tried one
// after the other, each with a short timeout, ESC/POS first so that a
// printer is recognised before other protocols' bytes could end up on
// paper. Only the drivers' codecs are used, never the drivers: probing
// sends a status or identify request and nothing that moves hardware.
//
// A generic barcode scanner (and a Honeywell one) answers nothing to the
// host, so it cannot be identified by probing; the report says so.
package probe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.bug.st/serial"
	"go.bug.st/serial/enumerator"

	"tongban/drivers/serialport"
	"tongban/provisioning/profile"
)

// DefaultTimeout is how long one identify attempt waits for a reply. Real
// devices answer a status request within tens of milliseconds.
const DefaultTimeout = 150 * time.Millisecond

// Port is one serial port to probe.
type Port struct {
	Path         string `json:"path"`
	USB          bool   `json:"usb,omitempty"`
	VID          string `json:"vid,omitempty"` // upper-case hex, e.g. "0403"
	PID          string `json:"pid,omitempty"`
	SerialNumber string `json:"serialNumber,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Product      string `json:"product,omitempty"`
	// Hint is what the USB vendor id suggests (an adapter chip or a device
	// maker); it only orders the attempts, it never decides.
	Hint string `json:"hint,omitempty"`
	// Given: the path was named by the caller rather than enumerated.
	Given bool `json:"given,omitempty"`
}

// usbVendors are vendor ids worth a hint, and the protocol to try first.
var usbVendors = map[string]struct{ hint, first string }{
	"0403": {"FTDI USB-serial adapter", ""},
	"067B": {"Prolific PL2303 USB-serial adapter", ""},
	"1A86": {"WCH CH340/CH341 USB-serial adapter", ""},
	"10C4": {"Silicon Labs CP210x USB-serial adapter", ""},
	"191C": {"Innovative Technology (ITL) note validator", ProtoSSP},
	"1EAB": {"Newland scanner", ProtoNewland},
	"0C2E": {"Honeywell scanner (answers nothing: cannot be identified by probing)", ""},
}

// ListPorts lists the machine's serial ports (go.bug.st/serial's
// enumerator: ttyS, ttyUSB, ttyACM, ... with USB details from sysfs) and
// then the given paths, which may be pseudo terminals or links to them
// (the enumerator never lists those). A port listed twice (a link to an
// enumerated port) appears once. An enumeration failure is returned with
// the given paths still listed.
func ListPorts(given ...string) ([]Port, error) {
	var out []Port
	seen := map[string]bool{}
	key := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return p
	}
	details, err := enumerator.GetDetailedPortsList()
	if err != nil {
		err = fmt.Errorf("list serial ports: %w", err)
	}
	slices.SortFunc(details, func(a, b *enumerator.PortDetails) int { return strings.Compare(a.Name, b.Name) })
	for _, d := range details {
		if d == nil || seen[key(d.Name)] {
			continue
		}
		seen[key(d.Name)] = true
		p := Port{Path: d.Name, USB: d.IsUSB, VID: strings.ToUpper(d.VID), PID: strings.ToUpper(d.PID),
			SerialNumber: d.SerialNumber, Manufacturer: d.Manufacturer, Product: d.Product}
		if v, ok := usbVendors[p.VID]; ok {
			p.Hint = v.hint
		}
		out = append(out, p)
	}
	for _, g := range given {
		if g == "" || seen[key(g)] {
			continue
		}
		seen[key(g)] = true
		out = append(out, Port{Path: g, Given: true})
	}
	return out, err
}

// Attempt is one protocol tried on one port at one line setting.
type Attempt struct {
	Protocol string        `json:"protocol"`
	Line     string        `json:"line"`
	Result   string        `json:"result"`
	Elapsed  time.Duration `json:"elapsed"`
}

// Finding is what probing one port found.
type Finding struct {
	Port     Port            `json:"port"`
	Protocol string          `json:"protocol,omitempty"` // one of the Proto constants; "" when nothing answered
	Role     string          `json:"role,omitempty"`     // the hardware profile role
	Line     serialport.Line `json:"line,omitzero"`      // the line settings that worked
	Identity string          `json:"identity,omitempty"` // firmware, version, SAM id...
	Detail   string          `json:"detail,omitempty"`   // the device's state
	// Device is the proposed profile entry (path, driver, line, options).
	Device   *profile.Device `json:"device,omitempty"`
	Attempts []Attempt       `json:"attempts"`
	Note     string          `json:"note,omitempty"`
	Err      string          `json:"error,omitempty"`
	Elapsed  time.Duration   `json:"elapsed"`
}

// Found reports whether a protocol answered.
func (f Finding) Found() bool { return f.Protocol != "" }

// Options tune Probe.
type Options struct {
	// Timeout of one identify attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// Protocols to try, in order; nil means Protocols().
	Protocols []string
	Logger    *slog.Logger
	// Open opens a port; nil means serialport.Open. A port that can
	// change its line settings in place (SetMode, as go.bug.st/serial's
	// can) is not reopened between attempts.
	Open func(path string, l serialport.Line) (serialport.Port, error)
}

// notIdentifiable is said of every port where nothing answered.
const notIdentifiable = "nothing answered; a generic or Honeywell barcode scanner answers nothing to the host and cannot be identified by probing: if one is on this port, add it to the profile by hand (role scanner, model generic)"

// Probe probes every port in parallel and returns one finding per port, in
// the order given. It returns early (with what it has) when ctx ends.
func Probe(ctx context.Context, ports []Port, opts Options) []Finding {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Open == nil {
		opts.Open = serialport.Open
	}
	protos := opts.Protocols
	if protos == nil {
		protos = Protocols()
	}
	out := make([]Finding, len(ports))
	var wg sync.WaitGroup
	for i, p := range ports {
		wg.Go(func() { out[i] = probePort(ctx, p, protos, opts) })
	}
	wg.Wait()
	return out
}

func probePort(ctx context.Context, port Port, protos []string, opts Options) (f Finding) {
	start := time.Now()
	f = Finding{Port: port, Attempts: []Attempt{}}
	defer func() { f.Elapsed = time.Since(start) }()
	order := slices.Clone(protos)
	if v, ok := usbVendors[port.VID]; ok && v.first != "" {
		if i := slices.Index(order, v.first); i > 0 {
			order = append([]string{v.first}, slices.Delete(order, i, i+1)...)
		}
	}
	log := opts.Logger.With("port", port.Path)
	if st, err := os.Stat(port.Path); err == nil && st.Mode()&os.ModeCharDevice == 0 {
		f.Err = "not a serial device: " + fileKind(st.Mode())
		return f
	}
	var (
		c    *conn
		cur  serialport.Line
		errs []string
	)
	defer func() {
		if c != nil {
			_ = c.p.Close()
		}
	}()
	for _, name := range order {
		proto, ok := protocols[name]
		if !ok {
			f.Err = "unknown protocol " + name
			return f
		}
		for _, line := range proto.lines {
			if ctx.Err() != nil {
				f.Err = ctx.Err().Error()
				return f
			}
			// Open, or change the line settings of the open port.
			if c == nil || line != cur {
				if err := reline(&c, port.Path, line, opts.Open); err != nil {
					log.Debug("probe: open", "line", line, "err", err)
					errs = append(errs, err.Error())
					if c == nil && isFatalOpen(err) {
						f.Err = err.Error()
						return f
					}
					continue
				}
				cur = line
			}
			at := time.Now()
			c.timeout = opts.Timeout
			res, err := proto.identify(ctx, c)
			a := Attempt{Protocol: name, Line: line.String(), Elapsed: time.Since(at)}
			switch {
			case err == nil:
				a.Result = "identified"
			case errors.Is(err, errNoReply):
				a.Result = "no reply"
			default:
				a.Result = err.Error()
			}
			f.Attempts = append(f.Attempts, a)
			log.Debug("probe: attempt", "protocol", name, "line", line, "result", a.Result, "elapsed", a.Elapsed)
			if err != nil {
				continue
			}
			f.Protocol, f.Role, f.Line = name, proto.role, line
			f.Identity, f.Detail = res.identity, res.detail
			d := profile.Device{Driver: proto.driver, Path: port.Path, Line: line}
			if res.tune != nil {
				res.tune(&d)
			}
			f.Device = &d
			log.Info("probe: found", "protocol", name, "line", line, "identity", res.identity)
			return f
		}
	}
	if len(f.Attempts) == 0 && len(errs) > 0 {
		f.Err = errs[0]
		return f
	}
	f.Note = notIdentifiable
	return f
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m.IsRegular():
		return "a regular file"
	}
	return m.Type().String()
}

// isFatalOpen tells errors that no other line setting can cure.
func isFatalOpen(err error) bool {
	var pe *serial.PortError
	if errors.As(err, &pe) {
		switch pe.Code() {
		case serial.PortNotFound, serial.PortBusy, serial.PermissionDenied, serial.InvalidSerialPort:
			return true
		}
		return false
	}
	return true // not a serial error (e.g. no such file): the same for every line
}

type modeSetter interface {
	SetMode(*serial.Mode) error
}

// reline opens the port, or changes its line settings in place.
func reline(c **conn, path string, l serialport.Line, open func(string, serialport.Line) (serialport.Port, error)) error {
	if *c != nil {
		if ms, ok := (*c).p.(modeSetter); ok {
			m, err := l.Mode()
			if err != nil {
				return err
			}
			if err := ms.SetMode(m); err == nil {
				return nil
			}
		}
		_ = (*c).p.Close()
		*c = nil
	}
	p, err := open(path, l)
	if err != nil {
		return err
	}
	*c = &conn{p: p}
	return nil
}

// Propose builds a hardware profile from the findings: one device per
// role, the first found (by the order of the findings) when a role was
// found twice, with a warning. The profile is checked with profile.Parse.
func Propose(findings []Finding) (*profile.Profile, []string, error) {
	p := &profile.Profile{Devices: map[string]profile.Device{}}
	var warns []string
	for _, f := range findings {
		if !f.Found() || f.Device == nil {
			continue
		}
		if prev, dup := p.Devices[f.Role]; dup {
			warns = append(warns, fmt.Sprintf("%s found on %s and %s: the profile takes %s; edit it if the other one is meant",
				f.Role, prev.Path, f.Port.Path, prev.Path))
			continue
		}
		p.Devices[f.Role] = *f.Device
	}
	for _, f := range findings {
		if !f.Found() && f.Err == "" && f.Port.VID == "0C2E" {
			warns = append(warns, f.Port.Path+": a Honeywell scanner by its USB id; add it by hand (role scanner, model honeywell)")
		}
	}
	if len(p.Devices) == 0 {
		return nil, warns, errors.New("no device identified: nothing to propose")
	}
	b, err := jsonMarshal(p)
	if err != nil {
		return nil, warns, err
	}
	checked, err := profile.Parse(b)
	if err != nil {
		return nil, warns, fmt.Errorf("proposed profile does not pass its own check: %w", err)
	}
	return checked, warns, nil
}
