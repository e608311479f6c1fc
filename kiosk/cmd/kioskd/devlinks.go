package main

// Device links: when the daemon runs from a profile file a technician may
// change (kioskd run -profile), each serial device is opened through a
// link of the daemon's own, <data>/kiosk/dev/<role>, pointing at the
// profile's path. Saving a profile on the technician page re-points the
// link atomically; drivers/link ends the port's session when its link is
// re-pointed and opens the new path (a printer moved to another port, even
// if something else now sits on the old one): no restart, no
// re-enrollment, nothing lost.

import (
	"fmt"
	"os"
	"path/filepath"

	"tongban/provisioning/profile"
)

// serialDrivers are the drivers that open a serial port by path.
var serialDrivers = map[string]bool{"id003": true, "ssp": true, "escpos": true, "idcard": true, "scanner": true}

func linkDir(identityDir string) string { return filepath.Join(identityDir, "dev") }

// linkedProfile makes (or re-points) every serial device's link and
// returns a copy of p whose serial devices use them. Profile paths
// must be absolute (profile.Load makes them so).
func linkedProfile(identityDir string, p *profile.Profile) (*profile.Profile, error) {
	out := &profile.Profile{Devices: map[string]profile.Device{}}
	for role, d := range p.Devices {
		if serialDrivers[d.Driver] && d.Path != "" {
			link, err := relink(identityDir, role, d.Path)
			if err != nil {
				return nil, err
			}
			d.Path = link
		}
		out.Devices[role] = d
	}
	return out, nil
}

// relink points role's link at target, atomically (a new symlink renamed
// over the old one): a driver opening it sees the old target or the new.
func relink(identityDir, role, target string) (string, error) {
	dir := linkDir(identityDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("device links: %w", err)
	}
	abs, err := filepath.Abs(target)
	if err != nil {
		return "", fmt.Errorf("device link %s: %w", role, err)
	}
	link := filepath.Join(dir, role)
	if cur, err := os.Readlink(link); err == nil && cur == abs {
		return link, nil
	}
	tmp := link + ".new"
	os.Remove(tmp)
	if err := os.Symlink(abs, tmp); err != nil {
		return "", fmt.Errorf("device link %s: %w", role, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("device link %s: %w", role, err)
	}
	return link, nil
}

// linkTarget is where role's link points now ("" if none).
func linkTarget(identityDir, role string) string {
	t, err := os.Readlink(filepath.Join(linkDir(identityDir), role))
	if err != nil {
		return ""
	}
	return t
}
