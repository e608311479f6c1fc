package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tongban/drivers/simulator"
	"tongban/kiosk/refplatform"
	"tongban/kiosk/terminal"
	"tongban/kiosk/uplink"
	"tongban/provisioning/identity"
	"tongban/provisioning/profile"
)

// unprovisionedStack is a stack whose daemon was never enrolled and whose
// platform requires signed requests: the daemon must start on the
// unprovisioned screen and work only once enrolled.
func unprovisionedStack(t *testing.T, withScanner bool) *stack {
	t.Helper()
	var profPath string
	return startStackOpts(t, stackOptions{
		profile: func(dir string, sim *simulator.Simulator) *profile.Profile {
			p := &profile.Profile{Devices: map[string]profile.Device{
				"billValidator": {Driver: "id003", Path: sim.Link(simulator.BillValidator), Denominations: []int64{1000, 2000, 5000, 10000}},
				"printer":       {Driver: "escpos", Path: sim.Link(simulator.Printer), Paper: 80},
			}}
			if withScanner {
				p.Devices["scanner"] = profile.Device{Driver: "scanner", Path: sim.Link(simulator.Scanner), Model: "newland", Mode: "auto"}
			}
			loaded, path := profileFile(t, dir, func(f string) error { return profile.Write(f, p) })
			profPath = path
			return loaded
		},
		platform: func(o *refplatform.Options) { o.RequireSignatures = true },
		// As `kioskd run` starts it: from a profile file, with a heartbeat.
		daemon: func(c *daemonConfig) {
			c.AllowUnenrolled, c.Heartbeat, c.ProfilePath, c.TechPIN = false, 200*time.Millisecond, profPath, testTechPIN
		},
	})
}

// lookupWorks pays nothing but proves the core talks to the platform that
// requires signatures: a bill lookup succeeds.
func lookupWorks(t *testing.T, s *stack) {
	t.Helper()
	c := s.dial()
	c.until("home", func(sn terminal.Snapshot) bool { return sn.Screen == terminal.ScreenHome })
	if code, desc := c.do("Session.Start", map[string]string{"utility": "water"}); code != "success" {
		t.Fatalf("Session.Start: %s %s", code, desc)
	}
	if code, desc := c.do("Bill.Lookup", map[string]string{"account": "100100100001"}); code != "success" {
		t.Fatalf("Bill.Lookup after enrollment (signed, platform requires signatures): %s %s", code, desc)
	}
	c.until("bill", func(sn terminal.Snapshot) bool { return sn.Screen == terminal.ScreenBill && sn.Bill != nil })
	c.do("Session.Cancel", nil)
}

// TestUnprovisionedEnrollsByScannedQRInChromium: a never-enrolled terminal
// shows its device id; the technician holds the platform's enrollment QR
// to the terminal's own scanner; the screen shows the site and township,
// then the home screen, without a restart; every request is then signed.
func TestUnprovisionedEnrollsByScannedQRInChromium(t *testing.T) {
	s := unprovisionedStack(t, true)
	id, err := identity.LoadOrCreate(identityDir(s.dir))
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	b.do("open the screen", chromedp.Navigate("http://"+s.uiAddr+"/"), chromedp.WaitVisible(chromedp.ID("prov-device")))
	if got := b.text("#prov-device"); got != id.DeviceID {
		t.Fatalf("unprovisioned screen shows device %q, want %q", got, id.DeviceID)
	}
	b.shot("tech-01-unprovisioned")
	if st := b.text("#status"); !strings.Contains(st, "未开通") {
		t.Errorf("status bar of an unprovisioned terminal says %q, want 平台: 未开通", st)
	}
	b.click("lang")
	b.waitJS("english", `document.getElementById('prov-title').textContent.includes('not provisioned')`)
	b.shot("tech-01-unprovisioned-en")
	b.click("lang")

	// A resident's intent is refused while unprovisioned.
	c := s.dial()
	if code, _ := c.do("Session.Start", map[string]string{"utility": "water"}); code == "success" {
		t.Fatal("a resident session started on an unprovisioned terminal")
	}

	tok, err := s.platform.IssueEnrollmentToken(refplatform.EnrollmentTokenRequest{
		Site: uplink.Site{Kind: "post", Name: "城关邮政支局"}, Township: uplink.Township{Code: "chengguan", Name: "城关镇"}}, s.platURL)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.sim.Scan(tok.QR); err != nil {
		t.Fatal(err)
	}
	b.waitJS("enrolled screen", `!!document.getElementById('prov-site')`)
	t.Logf("enrollment from the scan to the enrolled screen: %v (budget 5 s)", time.Since(start))
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("enrollment took %v, budget 5 s", el)
	}
	if site, town := b.text("#prov-site"), b.text("#prov-township"); site != "城关邮政支局" || town != "城关镇" {
		t.Fatalf("enrolled screen shows site %q township %q", site, town)
	}
	b.shot("tech-02-enrolled")
	b.click("prov-continue")
	b.waitJS("home screen", `document.getElementById('app').dataset.screen === 'home'`)
	b.shot("tech-03-home-after-enrollment")

	id, err = identity.LoadOrCreate(identityDir(s.dir))
	if err != nil || !id.Enrolled() {
		t.Fatalf("identity after enrollment: %+v %v", id, err)
	}
	if term := b.text("#terminal"); !strings.Contains(term, id.Enrollment.TerminalID) {
		t.Fatalf("footer shows %q, want the enrolled terminal id %s", term, id.Enrollment.TerminalID)
	}
	lookupWorks(t, s)

	// The platform's notice reaches the home screen through the heartbeat.
	if _, err := s.platform.SetTerminalConfig(id.Enrollment.TerminalID, uplink.ConfigUpdate{
		Banner: &uplink.ConfigBanner{Zh: "本周六 22:00 起系统维护一小时，届时暂停服务", En: "Maintenance on Saturday from 22:00 for an hour"}}); err != nil {
		t.Fatal(err)
	}
	b.waitJS("platform notice", `!!document.getElementById('platform-notice')`)
	b.shot("tech-04-platform-notice")
	// The technician's page and the platform's fleet page, for a person.
	b.do("technician page", chromedp.Navigate("http://"+s.svcAddr+"/tech"), chromedp.WaitVisible(chromedp.CSS("table")))
	b.shot("tech-05-technician-page")
	b.do("fleet page", chromedp.Navigate(s.platURL+"/ref/fleet"), chromedp.WaitVisible(chromedp.CSS("table")))
	b.shot("tech-06-platform-fleet")
}

// TestUnprovisionedEnrollsByTypedToken: the same by a typed token over the
// screen protocol, after a wrong token is refused with a clear reason.
func TestUnprovisionedEnrollsByTypedToken(t *testing.T) {
	s := unprovisionedStack(t, false)
	c := s.dial()
	sn := c.until("unprovisioned", func(sn terminal.Snapshot) bool { return sn.Screen == terminal.ScreenUnprovisioned })
	if sn.Provision == nil || sn.Provision.DeviceID == "" || sn.Provision.Platform != s.platURL {
		t.Fatalf("unprovisioned view %+v", sn.Provision)
	}
	// Not a token at all: refused at once.
	if code, _ := c.do("Provision.Enroll", map[string]string{"token": "short"}); code != "invalidData" {
		t.Fatalf("short token: %s", code)
	}
	// A well-formed token the platform never issued.
	c.do("Provision.Enroll", map[string]string{"token": "AAAAAAAAAAAAAAAAAAAAAAAA"})
	sn = c.until("unknown token refused", func(sn terminal.Snapshot) bool {
		return sn.Provision != nil && sn.Provision.Status == "failed" && sn.Provision.ErrorCode == "tokenUnknown"
	})
	if !strings.Contains(sn.Provision.Error, "unknown") {
		t.Fatalf("unknown token: %+v", sn.Provision)
	}
	tok, err := s.platform.IssueEnrollmentToken(refplatform.EnrollmentTokenRequest{}, s.platURL)
	if err != nil {
		t.Fatal(err)
	}
	if code, desc := c.do("Provision.Enroll", map[string]string{"token": tok.Token}); code != "success" {
		t.Fatalf("typed token: %s %s", code, desc)
	}
	sn = c.until("enrolled", func(sn terminal.Snapshot) bool { return sn.Provision != nil && sn.Provision.Status == "enrolled" })
	if sn.Provision.TerminalID == "" || sn.Provision.Site == "" || sn.Provision.Township == "" {
		t.Fatalf("enrolled view %+v", sn.Provision)
	}
	if code, _ := c.do("Provision.Continue", nil); code != "success" {
		t.Fatalf("continue: %s", code)
	}
	enrolledAs := sn.Provision.TerminalID
	sn = c.until("home", func(sn terminal.Snapshot) bool { return sn.Screen == terminal.ScreenHome })
	if sn.Terminal != enrolledAs {
		t.Fatalf("home under terminal %q, enrolled as %q", sn.Terminal, enrolledAs)
	}
	lookupWorks(t, s)
}
