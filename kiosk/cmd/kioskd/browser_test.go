package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tongban/kiosk/terminal"
)

// chromiumPath finds Debian's chromium. In CI a missing browser fails the
// test: `make test` installs it.
func chromiumPath(t *testing.T) string {
	for _, p := range []string{"/usr/lib/chromium/chromium", "/usr/bin/chromium"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (make test installs it with apt-get)")
	}
	t.Skip("chromium is not installed; run make test-deps")
	return ""
}

// screenshotDir is where the tests leave pictures of every screen for a
// person to look at.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "bin", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

type browser struct {
	t   *testing.T
	ctx context.Context
	dir string
}

func newBrowser(t *testing.T) *browser {
	opts := append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...)
	opts = append(opts, chromedp.ExecPath(chromiumPath(t)), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1024, 1280))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser; no timeout on this first call
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, dir: screenshotDir(t)}
}

func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// waitJS waits until a JavaScript expression is true.
func (b *browser) waitJS(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("waiting for %s: %v", what, err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return s
}

func (b *browser) shot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644)
}

func (b *browser) click(id string) {
	b.t.Helper()
	// The page redraws on every snapshot (a device status, a countdown),
	// so the node found by the wait may be replaced before the click
	// resolves it: find it again, as a person's eye would.
	for try := 0; ; try++ {
		ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
		err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID(id)), chromedp.Click(chromedp.ID(id)))
		cancel()
		if err == nil {
			return
		}
		if try < 3 && strings.Contains(err.Error(), "Could not find node") {
			continue
		}
		b.shot("failed-click-" + id)
		b.t.Fatalf("click %s: %v", id, err)
	}
}

// TestWaterBillPaidInCashInChromium is the same payment as the WebSocket
// test, by a person's hands: real page, real clicks, notes inserted from the
// demo panel (which calls the simulator, not the daemon).
func TestWaterBillPaidInCashInChromium(t *testing.T) {
	s := startStack(t)
	watch := s.dial() // a second screen, to see the device state the page does not show
	watch.until("devices ready", func(sn terminal.Snapshot) bool { return sn.Services.CashAvailable && sn.Services.PrinterReady })

	b := newBrowser(t)
	start := time.Now()
	b.do("open the screen", chromedp.Navigate("http://"+s.uiAddr+"/"), chromedp.WaitVisible(chromedp.ID("tile-water")))
	t.Logf("first screen usable after %v", time.Since(start))
	b.shot("01-home")

	// English switch and back.
	b.click("lang")
	b.waitJS("english", `document.getElementById('tile-water').textContent.includes('Water')`)
	b.shot("01-home-en")
	b.click("lang")
	b.waitJS("chinese", `document.getElementById('tile-water').textContent.includes('水费')`)

	b.click("tile-water")
	b.waitJS("account screen", `document.getElementById('app').dataset.screen === 'account'`)
	for _, d := range "100100100001" {
		b.click("key-" + string(d))
	}
	if got := b.text("#account-display"); got != "100100100001" {
		t.Fatalf("keypad shows %q", got)
	}
	b.shot("02-account")
	b.click("btn-lookup")
	b.waitJS("bill screen", `document.getElementById('app').dataset.screen === 'bill'`)
	if due := b.text("#amount-due"); !strings.Contains(due, "86.50") {
		t.Fatalf("amount due shows %q", due)
	}
	b.shot("03-bill")

	b.click("btn-cash")
	b.waitJS("cash screen", `document.getElementById('app').dataset.screen === 'cash'`)
	watch.until("acceptor enabled", func(sn terminal.Snapshot) bool { return sn.Devices["billValidator"].Detail == "accepting notes" })
	b.click("demo-insert-50")
	b.waitJS("first note", `document.getElementById('credit').textContent === '50.00'`)
	b.shot("04-cash-one-note")
	b.click("demo-insert-50")
	b.waitJS("second note", `document.getElementById('credit').textContent === '100.00' && !document.getElementById('btn-confirm').disabled`)
	b.shot("05-cash-two-notes")
	b.click("btn-confirm")
	b.waitJS("done screen", `document.getElementById('app').dataset.screen === 'done'`)
	b.shot("06-done")
	if title := b.text("#done-title"); !strings.Contains(title, "缴费成功") {
		t.Fatalf("done title %q", title)
	}
	if st := b.text("#receipt-status"); !strings.Contains(st, "凭证已打印") {
		t.Fatalf("receipt status %q", st)
	}
	code := b.text("#verify-code")
	pays, err := s.platform.Payments()
	if err != nil || len(pays) != 1 || pays[0].Payment.VerifyCode != code || pays[0].Payment.Amount != 10000 {
		t.Fatalf("platform payments %+v (err %v), screen code %q", pays, err, code)
	}
	if rs := s.sim.Printer().Receipts(); len(rs) != 1 || len(rs[0].QRPayloads) != 1 || rs[0].QRPayloads[0] != pays[0].Payment.VerifyURL {
		t.Fatalf("receipts %+v", rs)
	}

	b.click("btn-finish")
	b.waitJS("home again", `document.getElementById('app').dataset.screen === 'home'`)
	// Nothing of the resident is left on the page.
	left := b.eval(`document.body.innerText + JSON.stringify(sessionStorage) + JSON.stringify(localStorage)`)
	for _, secret := range []string{"100100100001", "86.50", code} {
		if strings.Contains(left, secret) {
			t.Fatalf("after finishing, the page still shows %q", secret)
		}
	}
	fmt.Fprintf(os.Stderr, "screenshots in %s\n", b.dir)
}
