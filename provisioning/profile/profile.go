// Package profile loads the hardware profile: which driver runs each
// device, on which serial path or GPIO pin, with which line settings. The
// same binary runs on real ports or on the simulators' pseudo terminals;
// only the profile differs.
package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"tongban/drivers/serialport"
)

// SimPinPrefix marks a GPIO pin served by the simulator process ("sim:coin")
// rather than a real line on the board. Such pins exist only in demo and
// test runs; the device's path then names the simulator's GPIO board.
const SimPinPrefix = "sim:"

// Device is one device's entry. Which fields apply depends on the driver;
// Parse refuses a field the driver does not use.
type Device struct {
	Driver string          `json:"driver"`
	Path   string          `json:"path,omitempty"`
	Line   serialport.Line `json:"line,omitzero"`
	// Denominations (fen) a cash acceptor may accept; empty = every
	// denomination the device reports (id003, ssp). For pulse acceptors,
	// which cannot report them, the values the device is set up for.
	Denominations []int64 `json:"denominations,omitempty"`
	// Paper width in mm for printers: 58 or 80.
	Paper int `json:"paper,omitempty"`

	// SSP / eSSP bill validators.
	Encrypted bool  `json:"encrypted,omitempty"` // eSSP key exchange and encrypted commands
	FixedKey  Key64 `json:"fixedKey,omitempty"`  // fixed part of the eSSP key; 0 = factory default
	Addr      int   `json:"addr,omitempty"`      // slave id, 0 (a validator) to 126
	Protocol  int   `json:"protocol,omitempty"`  // host protocol version asked for; 0 = driver default

	// Barcode scanners.
	Model    string `json:"model,omitempty"`    // generic, honeywell, newland
	Mode     string `json:"mode,omitempty"`     // newland only: manual, auto
	Suffix   string `json:"suffix,omitempty"`   // auto, cr, lf, crlf, none
	Prefix   string `json:"prefix,omitempty"`   // stripped from each read
	StripAIM bool   `json:"stripAIM,omitempty"` // move a leading AIM id out of the code
	MaxLen   int    `json:"maxLen,omitempty"`   // longest read

	// Pulse acceptors on a GPIO input.
	Pin           string `json:"pin,omitempty"`           // the pulse output's line, e.g. "GPIO17" or "sim:coin"
	InhibitPin    string `json:"inhibitPin,omitempty"`    // optional inhibit output
	InhibitLevel  string `json:"inhibitLevel,omitempty"`  // "high" (default) or "low": the level that inhibits
	ValuePerPulse int64  `json:"valuePerPulse,omitempty"` // fen per pulse
	ActiveLow     bool   `json:"activeLow,omitempty"`     // a pulse pulls the line low
	Pull          string `json:"pull,omitempty"`          // up, down, none, keep

	// GPIO lines (role gpio).
	Inputs []GPIOInput `json:"inputs,omitempty"`
	Lights []GPIOLight `json:"lights,omitempty"`
}

// GPIOInput is a switch or sensor input of the gpio device.
type GPIOInput struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"` // door, tamper, presence
	Pin        string `json:"pin"`
	ActiveLow  bool   `json:"activeLow,omitempty"`
	Pull       string `json:"pull,omitempty"`
	DebounceMs int    `json:"debounceMs,omitempty"`
}

// GPIOLight is an indicator output of the gpio device.
type GPIOLight struct {
	Name      string `json:"name"`
	Pin       string `json:"pin"`
	ActiveLow bool   `json:"activeLow,omitempty"`
}

// Key64 is a 64-bit key. It is read from a JSON number or, because many
// JSON tools round integers above 2^53, from a string: decimal or
// 0x-prefixed hex. It is written as a number.
type Key64 uint64

// UnmarshalJSON implements json.Unmarshaler.
func (k *Key64) UnmarshalJSON(b []byte) error {
	s := string(b)
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return fmt.Errorf("key %s: want a 64-bit number, or a string such as \"0x0123456701234567\"", b)
	}
	*k = Key64(v)
	return nil
}

// Profile is the whole file.
type Profile struct {
	// Devices by role: billValidator, printer, idCardReader, scanner,
	// coinAcceptor, gpio.
	Devices map[string]Device `json:"devices"`
}

// driverSpec is what a driver accepts.
type driverSpec struct {
	// line is the default serial line; the zero value marks a GPIO
	// device, which has pins instead.
	line   serialport.Line
	fields []string // fields besides driver, path (and line for serial drivers)
}

func (s driverSpec) serial() bool { return s.line != (serialport.Line{}) }

// Known drivers per role, with their default line settings and fields.
var roles = map[string]map[string]driverSpec{
	"billValidator": {
		"id003": {line: serialport.Line{Baud: 9600, DataBits: 8, Parity: "even", StopBits: 1}, fields: []string{"denominations"}},
		"ssp": {line: serialport.Line{Baud: 9600, DataBits: 8, Parity: "none", StopBits: 2},
			fields: []string{"denominations", "encrypted", "fixedKey", "addr", "protocol"}},
	},
	"printer":      {"escpos": {line: serialport.Line{Baud: 115200, DataBits: 8, Parity: "none", StopBits: 1}, fields: []string{"paper"}}},
	"idCardReader": {"idcard": {line: serialport.Line{Baud: 115200, DataBits: 8, Parity: "none", StopBits: 1}}},
	"scanner": {"scanner": {line: serialport.Line{Baud: 9600, DataBits: 8, Parity: "none", StopBits: 1},
		fields: []string{"model", "mode", "suffix", "prefix", "stripAIM", "maxLen"}}},
	"coinAcceptor": {"pulse": {fields: []string{"pin", "inhibitPin", "inhibitLevel", "valuePerPulse", "activeLow", "pull", "denominations"}}},
	"gpio":         {"gpio": {fields: []string{"inputs", "lights"}}},
}

// Roles lists the known roles, sorted.
func Roles() []string {
	rs := make([]string, 0, len(roles))
	for r := range roles {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return rs
}

// Drivers lists the drivers a role accepts, sorted.
func Drivers(role string) []string {
	ds := make([]string, 0, len(roles[role]))
	for d := range roles[role] {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds
}

// DefaultLine is a serial driver's default line settings (zero for GPIO
// drivers and unknown ones).
func DefaultLine(role, driver string) serialport.Line { return roles[role][driver].line }

// Load reads and validates a profile file.
func Load(path string) (*Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hardware profile: %w", err)
	}
	p, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("hardware profile %s: %w", path, err)
	}
	// Relative device paths are relative to the profile's folder, so a
	// profile and its simulator links can move together.
	for role, d := range p.Devices {
		if d.Path != "" && !filepath.IsAbs(d.Path) {
			d.Path = filepath.Join(filepath.Dir(path), d.Path)
			p.Devices[role] = d
		}
	}
	return p, nil
}

// Parse validates a profile and fills default line settings.
func Parse(b []byte) (*Profile, error) {
	// First pass: the raw field names per device, so a field that exists
	// for some driver but not for this one is refused by name.
	var raw struct {
		Devices map[string]map[string]json.RawMessage `json:"devices"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if len(p.Devices) == 0 {
		return nil, errors.New("no devices listed")
	}
	for role, d := range p.Devices {
		d, err := check(role, d, raw.Devices[role])
		if err != nil {
			return nil, fmt.Errorf("device %q: %w", role, err)
		}
		p.Devices[role] = d
	}
	return &p, nil
}

// check validates one device and fills its defaults.
func check(role string, d Device, fields map[string]json.RawMessage) (Device, error) {
	known, ok := roles[role]
	if !ok {
		return d, fmt.Errorf("unknown role (known: %s)", strings.Join(Roles(), ", "))
	}
	spec, ok := known[d.Driver]
	if !ok {
		return d, fmt.Errorf("unknown driver %q (known for %s: %s)", d.Driver, role, strings.Join(Drivers(role), ", "))
	}
	allowed := append([]string{"driver", "path"}, spec.fields...)
	if spec.serial() {
		allowed = append(allowed, "line")
	}
	for f := range fields {
		if !slices.Contains(allowed, f) {
			return d, fmt.Errorf("field %q is not used by driver %s (its fields: %s)", f, d.Driver, strings.Join(allowed, ", "))
		}
	}
	for _, v := range d.Denominations {
		if v <= 0 {
			return d, fmt.Errorf("denomination %d: must be positive fen", v)
		}
	}
	if spec.serial() {
		if d.Path == "" {
			return d, errors.New("path missing")
		}
		if d.Line == (serialport.Line{}) {
			d.Line = spec.line
		}
		if _, err := d.Line.Mode(); err != nil {
			return d, fmt.Errorf("line: %w", err)
		}
	}
	var err error
	switch d.Driver {
	case "escpos":
		if d.Paper == 0 {
			d.Paper = 80
		}
		if d.Paper != 58 && d.Paper != 80 {
			err = fmt.Errorf("paper %d mm: want 58 or 80", d.Paper)
		}
	case "ssp":
		err = checkSSP(d)
	case "scanner":
		err = checkScanner(&d)
	case "pulse":
		err = checkPulse(&d)
	case "gpio":
		err = checkGPIO(d)
	}
	return d, err
}

func checkSSP(d Device) error {
	if d.Addr < 0 || d.Addr > 0x7E {
		return fmt.Errorf("addr %d: want 0 to 126 (0 is a note validator)", d.Addr)
	}
	if d.Protocol < 0 || d.Protocol > 255 {
		return fmt.Errorf("protocol %d: want 1 to 255, or leave it out for the driver's default", d.Protocol)
	}
	if d.FixedKey != 0 && !d.Encrypted {
		return errors.New("fixedKey is only used with \"encrypted\": true")
	}
	return nil
}

func checkScanner(d *Device) error {
	d.Model = strings.ToLower(d.Model)
	if d.Model == "" {
		d.Model = "generic"
	}
	switch d.Model {
	case "generic", "honeywell", "newland":
	default:
		return fmt.Errorf("model %q: want generic, honeywell or newland", d.Model)
	}
	switch d.Mode {
	case "":
	case "manual", "auto":
		if d.Model != "newland" {
			return fmt.Errorf("mode %q: only a newland scanner takes its mode from the host (set it in the scanner's menu)", d.Mode)
		}
	default:
		return fmt.Errorf("mode %q: want manual, auto or empty", d.Mode)
	}
	switch strings.ToLower(d.Suffix) {
	case "", "auto", "cr", "lf", "crlf", "none":
	default:
		return fmt.Errorf("suffix %q: want auto, cr, lf, crlf or none", d.Suffix)
	}
	if d.MaxLen < 0 {
		return fmt.Errorf("maxLen %d: must be positive", d.MaxLen)
	}
	return nil
}

func checkPulse(d *Device) error {
	if d.Pin == "" {
		return errors.New("pin missing: the GPIO line the acceptor pulses, e.g. \"GPIO17\" (or \"sim:coin\" in the demo)")
	}
	if d.ValuePerPulse <= 0 {
		return fmt.Errorf("valuePerPulse %d: must be positive fen (e.g. 50 for 0.5 yuan per pulse)", d.ValuePerPulse)
	}
	for _, v := range d.Denominations {
		if v%d.ValuePerPulse != 0 {
			return fmt.Errorf("denomination %d: not a whole number of pulses of %d fen", v, d.ValuePerPulse)
		}
	}
	d.InhibitLevel = strings.ToLower(d.InhibitLevel)
	switch d.InhibitLevel {
	case "":
		if d.InhibitPin != "" {
			d.InhibitLevel = "high"
		}
	case "high", "low":
		if d.InhibitPin == "" {
			return errors.New("inhibitLevel without inhibitPin")
		}
	default:
		return fmt.Errorf("inhibitLevel %q: want high or low", d.InhibitLevel)
	}
	if err := checkPull(d.Pull); err != nil {
		return err
	}
	if d.InhibitPin == d.Pin {
		return fmt.Errorf("inhibitPin %q is also the pulse pin", d.Pin)
	}
	return checkPins(d.Path, d.Pin, d.InhibitPin)
}

func checkGPIO(d Device) error {
	if len(d.Inputs)+len(d.Lights) == 0 {
		return errors.New("no inputs or lights listed")
	}
	names, pins := map[string]bool{}, []string{}
	use := func(what, name, pin string) error {
		switch {
		case name == "":
			return fmt.Errorf("%s without a name", what)
		case names[name]:
			return fmt.Errorf("%s %q: name used twice", what, name)
		case pin == "":
			return fmt.Errorf("%s %q: pin missing", what, name)
		case slices.Contains(pins, pin):
			return fmt.Errorf("%s %q: pin %q used twice", what, name, pin)
		}
		names[name] = true
		pins = append(pins, pin)
		return nil
	}
	for _, in := range d.Inputs {
		if err := use("input", in.Name, in.Pin); err != nil {
			return err
		}
		switch in.Kind {
		case "door", "tamper", "presence":
		default:
			return fmt.Errorf("input %q: kind %q: want door, tamper or presence", in.Name, in.Kind)
		}
		if err := checkPull(in.Pull); err != nil {
			return fmt.Errorf("input %q: %w", in.Name, err)
		}
		if in.DebounceMs < 0 {
			return fmt.Errorf("input %q: debounceMs %d: must not be negative", in.Name, in.DebounceMs)
		}
	}
	for _, l := range d.Lights {
		if err := use("light", l.Name, l.Pin); err != nil {
			return err
		}
	}
	return checkPins(d.Path, pins...)
}

func checkPull(s string) error {
	switch strings.ToLower(s) {
	case "", "up", "down", "none", "keep":
		return nil
	}
	return fmt.Errorf("pull %q: want up, down, none or keep", s)
}

// checkPins ties path to sim pins: the simulator's GPIO board is where
// "sim:" pins live, and a device of real pins has no path.
func checkPins(path string, pins ...string) error {
	sim := false
	for _, p := range pins {
		if name, ok := strings.CutPrefix(p, SimPinPrefix); ok {
			if name == "" || strings.ContainsAny(name, " \t\r\n") {
				return fmt.Errorf("pin %q: want sim:NAME", p)
			}
			sim = true
		}
	}
	switch {
	case sim && path == "":
		return errors.New("sim: pins need path, the simulator's GPIO board (e.g. \"sim/dev/gpio\")")
	case !sim && path != "":
		return errors.New("path is only used with sim: pins (real pins are named by their GPIO line)")
	}
	return nil
}

// SimPin reports whether pin names a simulated line, and its name.
func SimPin(pin string) (string, bool) { return strings.CutPrefix(pin, SimPinPrefix) }

// Write saves a profile as indented JSON.
func Write(path string, p *Profile) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("hardware profile: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("hardware profile: %w", err)
	}
	return nil
}
