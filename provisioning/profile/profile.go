// Package profile loads the hardware profile: which driver runs each
// device, on which serial path, with which line settings. The same binary
// runs on real ports or on the simulators' pseudo terminals; only the
// profile differs.
package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"tongban/drivers/serialport"
)

// Device is one device's entry.
type Device struct {
	Driver string          `json:"driver"`
	Path   string          `json:"path"`
	Line   serialport.Line `json:"line"`
	// Denominations (fen) the bill validator may accept; empty = every
	// denomination the device reports.
	Denominations []int64 `json:"denominations,omitempty"`
	// Paper width in mm for printers: 58 or 80.
	Paper int `json:"paper,omitempty"`
}

// Profile is the whole file.
type Profile struct {
	// Devices by role. Known roles: billValidator, printer.
	Devices map[string]Device `json:"devices"`
}

// Known drivers per role, with their default line settings.
var drivers = map[string]map[string]serialport.Line{
	"billValidator": {"id003": {Baud: 9600, DataBits: 8, Parity: "even", StopBits: 1}},
	"printer":       {"escpos": {Baud: 115200, DataBits: 8, Parity: "none", StopBits: 1}},
}

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
		known, ok := drivers[role]
		if !ok {
			return nil, fmt.Errorf("device %q: unknown role (known: billValidator, printer)", role)
		}
		def, ok := known[d.Driver]
		if !ok {
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			return nil, fmt.Errorf("device %q: unknown driver %q (known: %s)", role, d.Driver, strings.Join(names, ", "))
		}
		if d.Path == "" {
			return nil, fmt.Errorf("device %q: path missing", role)
		}
		if d.Line == (serialport.Line{}) {
			d.Line = def
		}
		if _, err := d.Line.Mode(); err != nil {
			return nil, fmt.Errorf("device %q: line: %w", role, err)
		}
		for _, v := range d.Denominations {
			if v <= 0 {
				return nil, fmt.Errorf("device %q: denomination %d: must be positive fen", role, v)
			}
		}
		if role == "printer" {
			if d.Paper == 0 {
				d.Paper = 80
			}
			if d.Paper != 58 && d.Paper != 80 {
				return nil, fmt.Errorf("device %q: paper %d mm: want 58 or 80", role, d.Paper)
			}
		}
		p.Devices[role] = d
	}
	return &p, nil
}

// Write saves a profile as indented JSON.
func Write(path string, p *Profile) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
