package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tongban/drivers/device"
	"tongban/drivers/scanner/codec"
	"tongban/kiosk/refplatform"
	"tongban/kiosk/terminal"
	"tongban/kiosk/uplink"
)

// residentStack is the demo's full terminal (notes, coins, printer,
// scanner, card reader) with the idle timeout given (0: the default).
func residentStack(t *testing.T, idle time.Duration) *stack {
	return startStackOpts(t, stackOptions{
		profile: withDemoProfile(t),
		daemon: func(c *daemonConfig) {
			if idle > 0 {
				c.IdleTimeout = idle
			}
		},
	})
}

func resReady(s *stack, c *client) {
	s.t.Helper()
	c.until("every device online", func(sn terminal.Snapshot) bool {
		return sn.Services.CashAvailable && sn.Services.PrinterReady && sn.Services.ScannerReady &&
			sn.Devices["billValidator"].State == device.Online && sn.Devices["coinAcceptor"].State == device.Online
	})
}

func resOpen(b *browser, s *stack) {
	b.t.Helper()
	b.do("open the screen", chromedp.Navigate("http://"+s.uiAddr+"/"), chromedp.WaitVisible(chromedp.ID("tile-water")))
}

func resScreen(b *browser, name string) {
	b.t.Helper()
	b.waitJS(name+" screen", `document.getElementById('app').dataset.screen === '`+name+`'`)
}

// resWait is waitJS with a longer patience, for what waits on a device
// reconnecting or on a payment retried in front of the resident (15 s).
func resWait(b *browser, what, expr string, d time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(d))); err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// resStart is how a resident test begins: the stack with every device
// online, a client watching its state, and the screen open in Chromium.
func resStart(t *testing.T, idle time.Duration) (*stack, *client, *browser) {
	t.Helper()
	s := residentStack(t, idle)
	watch := s.dial()
	resReady(s, watch)
	b := newBrowser(t)
	resOpen(b, s)
	return s, watch, b
}

// resTypeAccount types an account on the keypad and looks its bill up.
func resTypeAccount(b *browser, account string) {
	b.t.Helper()
	for _, d := range account {
		b.click("key-" + string(d))
	}
	b.click("btn-lookup")
	resScreen(b, "bill")
}

// resLookupWater goes from home to the water bill of a typed account.
func resLookupWater(b *browser, account string) {
	b.t.Helper()
	b.click("tile-water")
	resScreen(b, "account")
	resTypeAccount(b, account)
}

// resPayWithNote pays the bill on the cash screen with one note of fen,
// once the screen shows it as credit (yuan) and lets the resident confirm.
func resPayWithNote(s *stack, watch *client, b *browser, fen int64, credit string) {
	b.t.Helper()
	watch.until("acceptor enabled", func(sn terminal.Snapshot) bool { return sn.Devices["billValidator"].Detail == "accepting notes" })
	s.simPost("/insert", map[string]int64{"value": fen})
	b.waitJS("note", `document.getElementById('credit').textContent === '`+credit+`' && !document.getElementById('btn-confirm').disabled`)
	b.click("btn-confirm")
}

func resElder(b *browser) {
	b.t.Helper()
	b.click("elder")
	b.waitJS("elder mode", `document.documentElement.classList.contains('elder') && document.getElementById('elder').getAttribute('aria-pressed') === 'true'`)
}

// pageLeftovers is everything the page holds that could carry a person's
// data: the DOM's text and attributes (outerHTML), both storages, and the
// browser's record of the resources it loaded (QR URLs).
const pageLeftovers = `document.documentElement.outerHTML + document.body.innerText + JSON.stringify(sessionStorage) +
  JSON.stringify(localStorage) + JSON.stringify(performance.getEntriesByType('resource').map((e) => e.name))`

func assertPageWiped(t *testing.T, b *browser, secrets ...string) {
	t.Helper()
	left := b.eval(pageLeftovers)
	for _, s := range secrets {
		if s != "" && strings.Contains(left, s) {
			t.Errorf("after the session ended the page still holds %q", s)
		}
	}
	if b.eval(`String(sessionStorage.length + localStorage.length)`) != "0" {
		t.Error("storage not empty after the session ended")
	}
}

// TestResidentScannedBillCoinsReprintInChromium is flow 1 and the
// receipts in elder mode, checked for accessibility on every screen: the
// bill's barcode held to the scanner starts the session, notes and a coin
// count in the running total, the receipt is reprinted as a copy, and
// finishing wipes the page.
func TestResidentScannedBillCoinsReprintInChromium(t *testing.T) {
	s, watch, b := resStart(t, 0)
	b.shot("resident-home")
	checkA11y(b, "home")
	resElder(b)
	b.shot("resident-home-elder")
	checkA11y(b, "home-elder")

	code, err := codec.BillBarcode("water", "100100100001")
	if err != nil {
		t.Fatal(err)
	}
	s.simPost("/scan", map[string]string{"code": code})
	resScreen(b, "bill")
	if got := b.text("#amount-due"); !strings.Contains(got, "86.50") {
		t.Fatalf("amount due %q", got)
	}
	if !strings.Contains(b.text("h1"), "100100100001") {
		t.Fatalf("bill heading %q", b.text("h1"))
	}
	b.shot("resident-bill-scanned-elder")
	checkA11y(b, "bill-elder")

	b.click("btn-cash")
	resScreen(b, "cash")
	watch.until("acceptors enabled", func(sn terminal.Snapshot) bool {
		return sn.Devices["billValidator"].Detail == "accepting notes" && sn.Devices["coinAcceptor"].Detail == "accepting"
	})
	if b.eval(`String(!!document.getElementById('coins-accepted'))`) != "true" {
		t.Fatal("the cash screen does not say coins are taken")
	}
	for _, v := range []int64{5000, 2000, 1000, 500, 100} {
		s.simPost("/insert", map[string]int64{"value": v})
	}
	b.waitJS("notes counted", `document.getElementById('credit').textContent === '86.00'`)
	s.simPost("/coin", map[string]int64{"value": 50})
	b.waitJS("coin counted", `document.getElementById('credit').textContent === '86.50' && !document.getElementById('btn-confirm').disabled`)
	if notes := b.text("#notes"); !strings.Contains(notes, "0.5") {
		t.Fatalf("the coin is not in the running total: %q", notes)
	}
	b.shot("resident-cash-coins-elder")
	checkA11y(b, "cash-elder")

	b.click("btn-confirm")
	resScreen(b, "done")
	b.waitJS("receipt printed", `(document.getElementById('receipt-status')?.textContent || '').includes('凭证已打印')`)
	verify := b.text("#verify-code")
	b.shot("resident-done-elder")
	checkA11y(b, "done-elder")

	b.click("btn-reprint")
	b.waitJS("copy printed", `(document.getElementById('reprint-status')?.textContent || '').includes('重打')`)
	b.shot("resident-reprinted-elder")
	checkA11y(b, "reprinted-elder")
	rs := s.sim.Printer().Receipts()
	if len(rs) != 2 || strings.Contains(rs[0].Text, "重打") || !strings.Contains(rs[1].Text, "重打") || !strings.Contains(rs[1].Text, verify) {
		t.Fatalf("receipts: %d, the copy marked: %v", len(rs), len(rs) == 2 && strings.Contains(rs[1].Text, "重打"))
	}
	pays, _ := s.platform.Payments()
	if len(pays) != 1 || pays[0].Payment.Amount != 8650 {
		t.Fatalf("platform payments %+v", pays)
	}

	b.click("btn-finish")
	resScreen(b, "home")
	b.waitJS("elder mode ends with the session", `!document.documentElement.classList.contains('elder')`)
	assertPageWiped(t, b, "100100100001", "86.50", verify, pays[0].Payment.VerifyURL)
}

// TestResidentIdleCountdownAndWipeInChromium: the daemon's idle timer asks
// "need more time?" with a countdown, "yes" extends it, and when it runs
// out the session ends and the page keeps nothing of it.
func TestResidentIdleCountdownAndWipeInChromium(t *testing.T) {
	_, _, b := resStart(t, 6*time.Second) // the question comes 2 s before the end
	resElder(b)
	resLookupWater(b, "100100100001")
	b.eval(`sessionStorage.setItem('probe', '100100100001'); 'ok'`) // the wipe must clear what a page script could leave
	b.waitJS("need more time?", `!document.getElementById('idle-dialog').hidden && /^[0-9]+$/.test(document.getElementById('idle-seconds').textContent)`)
	first := b.text("#idle-seconds")
	if !strings.Contains(b.text("#idle-title"), "还需要更多时间吗") {
		t.Fatalf("idle title %q", b.text("#idle-title"))
	}
	b.shot("resident-idle-question-elder")
	checkA11y(b, "idle-elder")
	b.waitJS("countdown runs", `document.getElementById('idle-seconds').textContent !== '`+first+`'`)
	b.click("btn-idle-more")
	b.waitJS("question answered", `document.getElementById('idle-dialog').hidden`)
	resScreen(b, "bill")
	b.waitJS("asked again", `!document.getElementById('idle-dialog').hidden`)
	b.waitJS("session ended", `document.getElementById('app').dataset.screen === 'home' && document.getElementById('idle-dialog').hidden`)
	b.shot("resident-idle-ended")
	assertPageWiped(t, b, "100100100001", "86.50", "县自来水公司", "张*")
	if b.eval(`String(document.documentElement.classList.contains('elder'))`) != "false" {
		t.Error("elder mode outlived the session")
	}
}

// TestResidentPrinterOutBeforePaymentInChromium: paper out is said on the
// home screen and on the bill, and the on-screen receipt is offered and
// accepted before any money is taken; the receipt then is a QR.
func TestResidentPrinterOutBeforePaymentInChromium(t *testing.T) {
	s := residentStack(t, 0)
	watch := s.dial()
	resReady(s, watch)
	s.simPost("/fault", map[string]string{"device": "printer", "fault": "paperEnd"})
	watch.until("printer down", func(sn terminal.Snapshot) bool { return !sn.Services.PrinterReady })
	b := newBrowser(t)
	resOpen(b, s)
	resElder(b)
	b.waitJS("printer message", `!!document.getElementById('degraded-printer')`)
	b.shot("resident-degraded-printer-home-elder")
	checkA11y(b, "degraded-printer-home-elder")
	resLookupWater(b, "100100100001")
	b.waitJS("offer", `!!document.getElementById('printer-offer') && document.getElementById('btn-cash').disabled`)
	b.shot("resident-printer-offer-elder")
	checkA11y(b, "printer-offer-elder")
	b.click("btn-onscreen")
	b.waitJS("accepted", `!!document.getElementById('onscreen-chosen') && !document.getElementById('btn-cash').disabled`)
	b.click("btn-cash")
	resScreen(b, "cash")
	resPayWithNote(s, watch, b, 10000, "100.00")
	resScreen(b, "done")
	b.waitJS("receipt QR", `!!document.getElementById('receipt-qr') && document.getElementById('receipt-qr').complete`)
	if st := b.text("#receipt-status"); !strings.Contains(st, "电子凭证") {
		t.Fatalf("receipt status %q", st)
	}
	b.shot("resident-onscreen-receipt-elder")
	checkA11y(b, "onscreen-receipt-elder")
	if n := len(s.sim.Printer().Receipts()); n != 0 {
		t.Fatalf("%d receipts printed", n)
	}
	if pays, _ := s.platform.Payments(); len(pays) != 1 {
		t.Fatalf("%d payments", len(pays))
	}
}

// TestResidentBillPaidElsewhereInChromium: a bill paid at another terminal
// while the resident looks at it is said when they choose to pay, before
// any money is taken; a fresh look-up says it at once.
func TestResidentBillPaidElsewhereInChromium(t *testing.T) {
	s, _, b := resStart(t, 0)
	b.click("tile-water")
	resScreen(b, "account")
	checkA11y(b, "account-normal") // normal mode keeps the targets at 60 px too
	resTypeAccount(b, "100100100001")
	checkA11y(b, "bill-normal")
	resElder(b) // switched on in the middle of a visit
	resScreen(b, "bill")
	other := uplink.NewClient(s.platURL, "TB-OTHER")
	bill, err := other.Bill(context.Background(), uplink.Water, "100100100001")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Pay(context.Background(), uplink.NewIdempotencyKey(), uplink.PaymentRequest{TerminalID: "TB-OTHER", Utility: uplink.Water,
		Account: "100100100001", BillID: bill.BillID, Amount: bill.AmountDue, Method: uplink.MethodCash,
		Notes:       []uplink.Note{{Value: 5000, Count: 1}, {Value: 2000, Count: 1}, {Value: 1000, Count: 1}, {Value: 500, Count: 1}, {Value: 100, Count: 1}, {Value: 50, Count: 1}},
		JournaledAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	b.click("btn-cash")
	b.waitJS("said before money", `!!document.getElementById('recent-payment') && !!document.getElementById('bill-paid') && !!document.getElementById('notice')`)
	resScreen(b, "bill")
	if got := b.text("#recent-payment"); !strings.Contains(got, "其他终端") {
		t.Fatalf("recent payment says %q", got)
	}
	b.shot("resident-paid-elsewhere-elder")
	checkA11y(b, "paid-elsewhere-elder")
	if st := s.sim.State(); st.BillValidator.Total != 0 {
		t.Fatalf("cash taken: %d fen", st.BillValidator.Total)
	}
	if pays, _ := s.platform.Payments(); len(pays) != 1 {
		t.Fatalf("%d payments on the platform, want only the other terminal's", len(pays))
	}
}

// TestResidentDegradedDevicesInChromium pulls the bill validator's and
// the scanner's cables: each removes only what needs it, with a plain
// message, and the rest keeps working.
func TestResidentDegradedDevicesInChromium(t *testing.T) {
	s, _, b := resStart(t, 0)
	resElder(b)

	// No scanner: typed account only.
	s.simPost("/plug", map[string]any{"device": "scanner", "in": false})
	resWait(b, "scanner message", `!!document.getElementById('degraded-scanner')`, 20*time.Second)
	b.shot("resident-degraded-no-scanner-home-elder")
	checkA11y(b, "degraded-no-scanner-home-elder")
	b.click("tile-water")
	resScreen(b, "account")
	b.waitJS("type only", `!!document.getElementById('scan-down') && !document.getElementById('scan-hint')`)
	b.shot("resident-degraded-no-scanner-account-elder")
	checkA11y(b, "degraded-no-scanner-account-elder")
	resTypeAccount(b, "100100100001")
	b.click("btn-cancel")
	resScreen(b, "home")
	s.simPost("/plug", map[string]any{"device": "scanner", "in": true})

	resElder(b) // the cancelled session took elder mode with it
	// No bill acceptor: coins and the phone still pay.
	s.simPost("/plug", map[string]any{"device": "billValidator", "in": false})
	resWait(b, "cash message", `!!document.getElementById('degraded-cash') && document.getElementById('degraded-cash').textContent.includes('硬币')`, 20*time.Second)
	b.shot("resident-degraded-no-acceptor-home-elder")
	checkA11y(b, "degraded-no-acceptor-home-elder")
	resLookupWater(b, "100100100001")
	b.waitJS("mobile offered", `!!document.getElementById('btn-mobile')`)
	b.click("btn-cash")
	resScreen(b, "cash")
	if h := b.text("h1"); !strings.Contains(h, "硬币") {
		t.Fatalf("cash screen without the validator says %q", h)
	}
	b.shot("resident-degraded-coins-only-elder")
	checkA11y(b, "degraded-coins-only-elder")
	b.click("btn-cancel")
	resScreen(b, "home")
	// The cable goes back; the driver finds it on its own backoff.
	s.simPost("/plug", map[string]any{"device": "billValidator", "in": true})
}

// TestResidentPlatformOfflineInChromium: the platform goes away while a
// bill is on screen. Cash for it is still taken within the offline limit,
// the receipt says pending, and home is a plain offline screen that says
// what still works.
func TestResidentPlatformOfflineInChromium(t *testing.T) {
	s, watch, b := resStart(t, 0)
	resElder(b)
	resLookupWater(b, "100100100001")
	if err := s.platform.SetFaults(refplatform.Faults{Fail5xxRate: 1}); err != nil {
		t.Fatal(err)
	}
	b.click("btn-cash")
	resScreen(b, "cash")
	b.waitJS("offline limit said", `!!document.getElementById('offline-limit') && !document.getElementById('banner').hidden`)
	b.shot("resident-offline-cash-elder")
	checkA11y(b, "offline-cash-elder")
	resPayWithNote(s, watch, b, 10000, "100.00")
	// The payment is retried in front of the resident for 15 s, then left
	// to the forwarder with a "pending" receipt.
	resWait(b, "pending", `document.getElementById('app').dataset.screen === 'done' && document.getElementById('done-title').textContent.includes('待平台确认')`, 30*time.Second)
	b.shot("resident-offline-pending-elder")
	checkA11y(b, "offline-pending-elder")
	b.click("btn-finish")
	resScreen(b, "home")
	b.waitJS("offline screen", `!!document.getElementById('offline-panel') && document.getElementById('tile-water').disabled`)
	if got := b.text("#offline-still"); !strings.Contains(got, "200.00") {
		t.Fatalf("offline screen says %q", got)
	}
	resElder(b)
	b.shot("resident-offline-home-elder")
	checkA11y(b, "offline-home-elder")
	if err := s.platform.SetFaults(refplatform.Faults{}); err != nil {
		t.Fatal(err)
	}
	resWait(b, "back online", `!document.getElementById('offline-panel')`, 30*time.Second)
	pays, _ := s.platform.Payments()
	for deadline := time.Now().Add(20 * time.Second); len(pays) == 0 && time.Now().Before(deadline); pays, _ = s.platform.Payments() {
		time.Sleep(200 * time.Millisecond)
	}
	if len(pays) != 1 || pays[0].Payment.Amount != 10000 {
		t.Fatalf("the pending payment was not forwarded once: %+v", pays)
	}
}

// TestResidentMobileIdleVoucherScreensInChromium walks the remaining
// screens in elder mode, each checked for accessibility: the phone payment
// QR, the idle question with cash inside (no "finish" then: the cash
// becomes a voucher), the voucher screen and its reprint.
func TestResidentMobileIdleVoucherScreensInChromium(t *testing.T) {
	s, watch, b := resStart(t, 6*time.Second)
	resElder(b)
	resLookupWater(b, "100100100001")

	b.click("btn-mobile")
	resScreen(b, "mobile")
	b.waitJS("payment QR", `!!document.getElementById('mobile-qr') && document.getElementById('mobile-qr').complete`)
	b.shot("resident-mobile-qr-elder")
	checkA11y(b, "mobile-elder")
	b.click("btn-cancel")
	resWait(b, "back to the bill", `document.getElementById('app').dataset.screen === 'bill'`, 20*time.Second)

	b.click("btn-cash")
	resScreen(b, "cash")
	watch.until("acceptor enabled", func(sn terminal.Snapshot) bool { return sn.Devices["billValidator"].Detail == "accepting notes" })
	s.simPost("/insert", map[string]int64{"value": 2000})
	b.waitJS("note", `document.getElementById('credit').textContent === '20.00'`)
	// The resident walks away.
	b.waitJS("need more time, with cash inside", `!document.getElementById('idle-dialog').hidden && !document.getElementById('btn-idle-end') && document.getElementById('idle-left').textContent.includes('现金凭证')`)
	b.shot("resident-idle-with-cash-elder")
	checkA11y(b, "idle-credit-elder")
	resWait(b, "voucher printed", `document.getElementById('app').dataset.screen === 'voucher' && (document.getElementById('voucher-status')?.textContent || '').includes('已打印')`, 15*time.Second)
	b.shot("resident-voucher-elder")
	checkA11y(b, "voucher-elder")
	b.click("btn-reprint")
	b.waitJS("voucher copy", `(document.getElementById('reprint-status')?.textContent || '').includes('重打')`)
	checkA11y(b, "voucher-reprinted-elder")
	rs := s.sim.Printer().Receipts()
	if len(rs) != 2 || !strings.Contains(rs[1].Text, "重打") || !strings.Contains(rs[1].Text, "现金凭证") {
		t.Fatalf("%d receipts; the copy: %v", len(rs), len(rs) == 2 && strings.Contains(rs[1].Text, "重打"))
	}
	vid := b.text("#voucher-id")
	b.click("btn-finish")
	resScreen(b, "home")
	assertPageWiped(t, b, "100100100001", vid)
}
