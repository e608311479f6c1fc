package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/terminal"
	"tongban/kiosk/uplink"
)

// Government services in Chromium, against the real daemon, the
// simulators (the ID card placed and the receipt QR scanned through the
// simulator's control API, as a person would) and the reference platform.
// Every screen is checked for accessibility in elder mode and
// photographed (apply-*.png).

// refRatings reads the platform's ratings as an operator would.
func refRatings(t *testing.T, s *stack) []uplink.Rating {
	t.Helper()
	resp, err := http.Get(s.platURL + "/ref/ratings")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []uplink.Rating
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatalf("/ref/ratings: %v", err)
	}
	return list
}

func waitRating(t *testing.T, s *stack, service string, level int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, r := range refRatings(t, s) {
			if r.Service == service && r.Level == level {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no level %d rating of %s on the platform: %+v", level, service, refRatings(t, s))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func govReady(c *client) terminal.Snapshot {
	return c.until("catalog and ID card reader", func(sn terminal.Snapshot) bool {
		return sn.Gov != nil && sn.Gov.Township != nil && sn.Gov.Available && sn.Services.ScannerReady
	})
}

// nowState waits until the newest state satisfies ok (client.until
// accepts any state ever received).
func nowState(t *testing.T, c *client, what string, ok func(terminal.Snapshot) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if h := c.history(); len(h) > 0 && ok(h[len(h)-1]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// page screens with a photo and the accessibility check.
func applyShot(b *browser, name string) {
	b.t.Helper()
	b.shot("apply-" + name)
	checkA11y(b, "apply-"+name)
}

// press scrolls a control to the middle of the screen first, clear of
// the demo panel fixed at the bottom, then clicks it.
func press(b *browser, id string) {
	b.t.Helper()
	b.waitJS(id, `!!document.getElementById('`+id+`')`)
	b.eval(`document.getElementById('` + id + `').scrollIntoView({block: 'center'}), ''`)
	b.click(id)
}

// clickDept opens the department whose name contains zh.
func clickDept(b *browser, zh string) {
	b.t.Helper()
	id := b.eval(`(([...document.querySelectorAll('#gov-depts button')].find((x) => x.textContent.includes('` + zh + `')) || {}).id || '')`)
	if id == "" {
		b.t.Fatalf("no department %s on the home screen", zh)
	}
	press(b, id)
	resScreen(b, "services")
}

func TestApplyWithIDCardInChromium(t *testing.T) {
	s := residentStack(t, 0)
	c := s.dial()
	home := govReady(c)
	if home.Gov.Township.Code != "chengguan" || !home.Gov.Township.Sample {
		t.Fatalf("township %+v", home.Gov.Township)
	}
	b := newBrowser(t)
	resOpen(b, s)
	b.waitJS("departments", `document.querySelectorAll('#gov-depts button').length > 3`)
	resElder(b)
	applyShot(b, "home")
	if !strings.Contains(b.text("#gov-sample"), "样例") {
		t.Fatal("sample catalog not marked as sample")
	}

	// A department's matters, then one that is not handled at a terminal.
	clickDept(b, "县行政审批服务局")
	applyShot(b, "services")
	if got := b.text("#page-of"); got != "第 1 / 2 页" {
		t.Fatalf("pager says %q (9 matters, 6 a page)", got)
	}
	press(b, "page-next")
	b.waitJS("second page", `document.getElementById('page-of').textContent === '第 2 / 2 页' && document.querySelectorAll('#matters button').length === 3`)
	press(b, "page-prev")
	b.waitJS("first page", `document.getElementById('page-of').textContent === '第 1 / 2 页'`)
	press(b, "matter-company-register")
	resScreen(b, "matter")
	applyShot(b, "counter")
	where := b.text("#counter-info")
	if !strings.Contains(where, "城关镇人民路88号") || !strings.Contains(where, "请前往") {
		t.Fatalf("counter matter says %q", where)
	}
	if b.eval(`String(!!document.getElementById('btn-apply'))`) != "false" {
		t.Fatal("a counter-only matter offers to apply")
	}
	press(b, "gov-back")
	resScreen(b, "services")

	// Apply: the matter, the card, the pre-filled form.
	press(b, "matter-sole-trader-deregister")
	resScreen(b, "matter")
	applyShot(b, "matter")
	if m := b.text("#matter-mode"); !strings.Contains(m, "委托办理") {
		t.Fatalf("mode %q", m)
	}
	press(b, "btn-apply")
	resScreen(b, "apply-card")
	applyShot(b, "card")
	placed := time.Now()
	s.simPost("/card/place", map[string]string{"sample": "resident"})
	resScreen(b, "apply-form")
	t.Logf("ID card placed to pre-filled form on screen: %v", time.Since(placed).Round(time.Millisecond))
	applyShot(b, "form")
	if v := b.text("#value-phone"); !strings.Contains(v, "13800138000") || !strings.Contains(v, "历史记录") {
		t.Fatalf("phone %q", v)
	}
	if b.eval(`document.getElementById('attach-EL-BL-0001').getAttribute('aria-pressed')`) != "true" {
		t.Fatal("business licence not attached")
	}
	if b.eval(`String(document.querySelectorAll('#missing li').length)`) != "2" {
		t.Fatalf("missing list %q", b.text("#missing"))
	}
	press(b, "edit-cancelReason")
	press(b, "opt-cancelReason-closed")
	b.waitJS("reason set", `document.getElementById('value-cancelReason').textContent.includes('停止经营')`)
	press(b, "edit-closedOn")
	// The empty date field's hint is Chinese in Chinese mode (it said "YYYYMMDD").
	if hint := b.text("#display-closedOn"); !strings.Contains(hint, "年月日") {
		t.Fatalf("date hint in Chinese mode: %q", hint)
	}
	for _, d := range "20261101" {
		press(b, "fkey-"+string(d))
	}
	b.waitJS("date typed", `document.getElementById('display-closedOn').textContent === '2026-11-01'`)
	applyShot(b, "form-keypad")
	press(b, "save-closedOn")
	b.waitJS("complete", `document.getElementById('missing').textContent.includes('材料齐全') && !document.getElementById('btn-submit').disabled`)
	applyShot(b, "form-complete")

	// A slow platform, so the submitting screen can be seen.
	if err := s.platform.SetFaults(refplatform.Faults{LatencyMs: 1500, Paths: []string{"/v1/applications"}}); err != nil {
		t.Fatal(err)
	}
	submitted := time.Now()
	press(b, "btn-submit")
	resScreen(b, "apply-submitting")
	applyShot(b, "submitting")
	resScreen(b, "apply-done")
	s.platform.SetFaults(refplatform.Faults{})
	b.waitJS("receipt printed", `document.getElementById('receipt-status').textContent.includes('已打印')`)
	t.Logf("submit to case number on screen with the receipt printed (1.5 s injected platform latency): %v", time.Since(submitted).Round(time.Millisecond))
	applyShot(b, "done")
	caseNo := b.text("#case-number")
	cases, err := s.platform.Cases()
	if err != nil || len(cases) != 1 || cases[0].Case.CaseNumber != caseNo {
		t.Fatalf("platform cases %+v (err %v), screen %q", cases, err, caseNo)
	}
	rs := s.sim.Printer().Receipts()
	last := rs[len(rs)-1]
	if len(last.QRPayloads) != 1 || last.QRPayloads[0] != cases[0].Case.TrackURL || !strings.Contains(last.Text, caseNo) {
		t.Fatalf("receipt %q with QR %v", last.Text, last.QRPayloads)
	}
	if strings.Contains(last.Text, "110101199001010015") || strings.Contains(last.Text, "张三") {
		t.Fatal("the receipt carries the applicant unmasked")
	}

	press(b, "rate-5")
	b.waitJS("rated", `!!document.getElementById('rating-done')`)
	applyShot(b, "rated")
	waitRating(t, s, uplink.CaseService(cases[0].Case.CaseID), 5)

	press(b, "gov-finish")
	b.waitJS("home again", `document.getElementById('app').dataset.screen === 'home'`)
	assertPageWiped(t, b, "110101199001010015", "1101**********0015", "13800138000", "张*")
	s.simPost("/card/remove", nil)
}

func TestProgressByReceiptQRAndIDCardAndBillRatingInChromium(t *testing.T) {
	s := residentStack(t, 0)
	c := s.dial()
	govReady(c)
	resReady(s, c)

	// A case made at this terminal (through the screen protocol), with the
	// printer out of paper: the page shows the tracking QR instead.
	b := newBrowser(t)
	resOpen(b, s)
	s.simPost("/fault", map[string]string{"device": "printer", "fault": "paperEnd"})
	c.until("printer out", func(sn terminal.Snapshot) bool { return !sn.Services.PrinterReady })
	for _, step := range []struct {
		name    string
		payload any
	}{{"Gov.Matter", map[string]string{"matterId": "sole-trader-change"}}, {"Apply.Begin", nil}} {
		if code, msg := c.do(step.name, step.payload); code != "success" {
			t.Fatalf("%s: %s %s", step.name, code, msg)
		}
	}
	s.simPost("/card/place", map[string]string{"sample": "resident"})
	c.until("form", func(sn terminal.Snapshot) bool { return sn.Screen == terminal.ScreenApplyForm })
	c.do("Apply.Set", map[string]string{"fieldId": "changeItem", "value": "scope"})
	// Free text goes through the terminal's input method into a text box.
	resScreen(b, "apply-form")
	press(b, "edit-changeTo")
	b.do("type the new entry", chromedp.SendKeys("#input-changeTo", "零售 retail"))
	press(b, "save-changeTo")
	b.waitJS("text saved", `document.getElementById('value-changeTo').textContent.includes('零售 retail')`)
	if code, msg := c.do("Apply.Submit", nil); code != "success" {
		t.Fatalf("submit: %s %s", code, msg)
	}
	done := c.until("case", func(sn terminal.Snapshot) bool { return sn.Screen == terminal.ScreenApplyDone })
	cs := done.Gov.Apply.App.Case
	resScreen(b, "apply-done")
	b.waitJS("tracking QR on screen", `!!document.getElementById('track-qr') && document.getElementById('track-qr').complete`)
	if src := b.eval(`document.getElementById('track-qr').getAttribute('src')`); !strings.Contains(src, "track%2F"+cs.CaseID) {
		t.Fatalf("on-screen QR %q", src)
	}
	resElder(b)
	applyShot(b, "done-qr")
	s.simPost("/fault", map[string]string{"device": "printer", "fault": "none"})
	c.do("Gov.Back", nil)
	s.simPost("/card/remove", nil)
	if _, err := s.platform.AdvanceCase(cs.CaseID, refplatform.CaseAdvanceRequest{}); err != nil {
		t.Fatal(err)
	}

	// Progress by the receipt's QR on the scanner, from the home screen.
	resScreen(b, "home")
	resElder(b)
	s.simPost("/scan", map[string]string{"code": cs.TrackURL})
	resScreen(b, "progress-result")
	b.waitJS("timeline", `document.querySelectorAll('.timeline li').length === 2`)
	applyShot(b, "progress-result")
	if got := b.text("#case-number-" + cs.CaseID); got != cs.CaseNumber {
		t.Fatalf("case number %q", got)
	}
	if st := b.text("#case-status-" + cs.CaseID); !strings.Contains(st, "审核中") {
		t.Fatalf("status %q", st)
	}
	press(b, "rate-4")
	b.waitJS("rated", `!!document.getElementById('rating-done')`)
	waitRating(t, s, uplink.CaseService(cs.CaseID), 4)
	press(b, "gov-finish")
	resScreen(b, "home")

	// Progress by the ID card.
	resElder(b)
	press(b, "tile-progress")
	resScreen(b, "progress")
	applyShot(b, "progress")
	s.simPost("/card/place", map[string]string{"sample": "resident"})
	resScreen(b, "progress-result")
	b.waitJS("the case", `!!document.getElementById('case-number-`+cs.CaseID+`')`)
	applyShot(b, "progress-by-card")
	press(b, "gov-finish")
	resScreen(b, "home")
	assertPageWiped(t, b, "110101199001010015", cs.CaseNumber)
	s.simPost("/card/remove", nil)

	// A bill paid, then rated on its done screen.
	nowState(t, c, "printer back from its paper fault", func(sn terminal.Snapshot) bool { return sn.Services.PrinterReady })
	for _, step := range []struct {
		name    string
		payload any
	}{{"Session.Start", map[string]string{"utility": "water"}}, {"Bill.Lookup", map[string]string{"account": "100100100001"}}, {"Cash.Start", nil}} {
		if code, msg := c.do(step.name, step.payload); code != "success" {
			t.Fatalf("%s: %s %s", step.name, code, msg)
		}
	}
	c.until("acceptor enabled", func(sn terminal.Snapshot) bool { return sn.Devices["billValidator"].Detail == "accepting notes" })
	s.simPost("/insert", map[string]int64{"value": 10000})
	c.until("credit", func(sn terminal.Snapshot) bool { return sn.Cash != nil && sn.Cash.Credit == 10000 })
	if code, msg := c.do("Payment.Confirm", nil); code != "success" {
		t.Fatalf("confirm: %s %s", code, msg)
	}
	paid := c.until("done", func(sn terminal.Snapshot) bool {
		return sn.Screen == terminal.ScreenDone && sn.Gov != nil && sn.Gov.Rating != nil
	})
	resScreen(b, "done")
	b.waitJS("rating offered", `!!document.getElementById('rate-3')`)
	b.shot("apply-bill-rating")
	press(b, "rate-3")
	b.waitJS("rated", `!!document.getElementById('rating-done')`)
	waitRating(t, s, uplink.BillService(paid.Payment.PaymentID), 3)
}
