package systemd

import "testing"

// The screen's unit starts Chromium once /var/lib/tongban/ui.addr exists.
// The file outlives a reboot (StateDirectory), so kioskd's unit removes it
// before kioskd starts; else at boot the browser opened before kioskd
// listened and stayed on Chromium's error page.
func TestStaleScreenAddressRemovedBeforeKioskdStarts(t *testing.T) {
	k := parseUnit(t, "kioskd.service")
	k.has(t, "kioskd.service", "Service", "ExecStartPre", "rm -f /var/lib/tongban/ui.addr")
}
