package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// a11yScript measures the screen as drawn, in the browser: every visible
// text's font size (elder mode: at least 24 px, i.e. 18 pt) and its
// contrast against the background actually behind it (at least 4.5:1,
// WCAG 2 relative luminance, translucent layers composited up to the first
// opaque one, the element's opacity included), and every control's box
// (at least 60 x 60 px). Elements covered by another (an open dialog) are
// not what the resident sees, so they are skipped; disabled controls are
// exempt from contrast only outside elder mode, as WCAG 1.4.3 allows.
const a11yScript = `(() => {
  const elder = document.documentElement.classList.contains('elder');
  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c || '');
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under, a) => [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat(1);
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return null;
    for (let e = el; e; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.display === 'none' || cs.visibility === 'hidden' || Number(cs.opacity) === 0) return null;
    }
    const x = r.left + Math.min(r.width / 2, 8), y = r.top + Math.min(r.height / 2, 8);
    if (x >= 0 && y >= 0 && x < innerWidth && y < innerHeight) {
      const hit = document.elementFromPoint(x, y);
      if (hit && !el.contains(hit) && !hit.contains(el)) return null; // covered
    }
    return r;
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg, layers[i][3]);
    return bg;
  };
  const opacity = (el) => { let o = 1; for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity); return o; };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  const out = [];
  let texts = 0, controls = 0;
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const txt = n.textContent.trim();
    const el = n.parentElement;
    if (!txt || !el || seen.has(el)) continue;
    seen.add(el);
    if (!shown(el)) continue;
    texts++;
    const cs = getComputedStyle(el);
    const size = parseFloat(cs.fontSize);
    const label = name(el) + ' "' + txt.slice(0, 24) + '"';
    if (elder && size < 24) out.push('font ' + size.toFixed(1) + 'px < 24px: ' + label);
    const disabled = el.closest('button:disabled, input:disabled');
    if (disabled && !elder) continue;
    const fg = parse(cs.color);
    const bg = background(el);
    const c = ratio(over(fg, bg, fg[3] * opacity(el)), bg);
    if (c < 4.5) out.push('contrast ' + c.toFixed(2) + ':1 < 4.5:1: ' + label + ' (' + cs.color + ' on rgb(' + bg.slice(0, 3).map(Math.round).join(',') + '))');
  }
  for (const el of document.querySelectorAll('button, input, select, textarea, a[href], [role=button]')) {
    const r = shown(el);
    if (!r) continue;
    controls++;
    if (r.width < 60 || r.height < 60) out.push('target ' + Math.round(r.width) + 'x' + Math.round(r.height) + 'px < 60x60px: ' + name(el) + ' "' + el.textContent.trim().slice(0, 24) + '"');
  }
  return JSON.stringify({ elder, texts, controls, violations: out });
})()`

// a11yReport is what a11yScript measured.
type a11yReport struct {
	Elder      bool     `json:"elder"`
	Texts      int      `json:"texts"`
	Controls   int      `json:"controls"`
	Violations []string `json:"violations"`
}

func measureA11y(b *browser, name string) a11yReport {
	b.t.Helper()
	var r a11yReport
	if err := json.Unmarshal([]byte(b.eval(a11yScript)), &r); err != nil {
		b.t.Fatalf("a11y %s: %v", name, err)
	}
	if r.Texts == 0 {
		b.t.Fatalf("a11y %s: no visible text measured: the check saw nothing", name)
	}
	return r
}

// checkA11y fails the test with every accessibility violation on the
// screen now showing, measured in the browser (a11yScript). name says
// which screen, for the log and the screenshot of a failure.
func checkA11y(b *browser, name string) {
	b.t.Helper()
	r := measureA11y(b, name)
	mode := "normal"
	if r.Elder {
		mode = "elder"
	}
	b.t.Logf("a11y %s (%s mode): %d texts, %d controls, %d violations", name, mode, r.Texts, r.Controls, len(r.Violations))
	if len(r.Violations) > 0 {
		b.shot("a11y-failed-" + name)
		b.t.Errorf("a11y %s (%s mode): %d violations:\n  %s", name, mode, len(r.Violations), strings.Join(r.Violations, "\n  "))
	}
}

// TestA11yCheckFindsViolations proves the check can fail: small grey text
// on white, a 40 px button and a small link are each reported, while the
// real home screen passes.
func TestA11yCheckFindsViolations(t *testing.T) {
	s := startStack(t)
	b := newBrowser(t)
	b.do("open the screen", chromedp.Navigate("http://"+s.uiAddr+"/"), chromedp.WaitVisible(chromedp.ID("tile-water")))
	b.click("elder")
	b.waitJS("elder mode", `document.documentElement.classList.contains('elder')`)
	if r := measureA11y(b, "home"); len(r.Violations) != 0 {
		t.Fatalf("home in elder mode: %v", r.Violations)
	}
	// Styles set through the CSSOM, which the page's CSP allows for scripts.
	b.eval(`(() => {
	  const p = document.createElement('p'); p.id = 'bad-text'; p.textContent = 'faint small text';
	  p.style.fontSize = '14px'; p.style.color = '#bbbbbb'; p.style.background = '#ffffff';
	  const btn = document.createElement('button'); btn.id = 'bad-button'; btn.textContent = 'x';
	  btn.style.minHeight = '0'; btn.style.minWidth = '0'; btn.style.height = '40px'; btn.style.width = '40px'; btn.style.padding = '0';
	  const a = document.createElement('a'); a.id = 'bad-link'; a.href = '#'; a.textContent = 'link';
	  const app = document.getElementById('app'); app.prepend(p, btn, a); return 'ok';
	})()`)
	r := measureA11y(b, "planted")
	all := strings.Join(r.Violations, "\n")
	for _, want := range []string{"font 14.0px < 24px: p#bad-text", "contrast", "target 40x40px < 60x60px: button#bad-button", "a#bad-link"} {
		if !strings.Contains(all, want) {
			t.Errorf("violation %q not reported; got:\n%s", want, all)
		}
	}
}
