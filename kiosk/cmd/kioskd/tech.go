package main

// The technician's pages on the service listener (loopback only, apart
// from the resident's screen): probe the serial ports (as `kioskd probe`,
// plus paths given) and get a proposed profile; save it after confirming
// (atomically, the previous kept as .bak) and apply it without a restart
// (a device on a new path is picked up through its link, devlinks.go);
// per-device self-tests (test page, test card read, bill validator cycle,
// blinking lights); the fleet's heartbeat and configuration state.
//
// Reading (GET) is open on loopback like /status; every action needs the
// technician PIN from the daemon's configuration (kioskd run
// -tech-pin-file), sent as the X-Tech-PIN header or a form field "pin".
// Five wrong PINs lock the actions for a minute.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"tongban/drivers/device"
	escposcodec "tongban/drivers/escpos/codec"
	"tongban/drivers/gpiolines"
	"tongban/drivers/idcard"
	"tongban/kiosk/terminal"
	"tongban/provisioning/probe"
	"tongban/provisioning/profile"
)

const (
	techMaxFailures = 5
	techLockout     = time.Minute
)

// techService serves the technician's pages and actions.
type techService struct {
	log         *slog.Logger
	identityDir string
	profilePath string // "" when the profile cannot be saved
	pinHash     []byte // SHA-256 of the PIN; nil: actions refused
	devs        *daemonDevices
	fleet       *fleet
	terminalID  string

	mu          sync.Mutex
	live        *profile.Profile // the profile in force, absolute paths
	core        *terminal.Terminal
	failures    int
	lockedUntil time.Time
	busy        bool
}

func newTechService(c daemonConfig, identityDir string, devs *daemonDevices, fl *fleet, terminalID string) *techService {
	t := &techService{log: c.Log.With("component", "tech"), identityDir: identityDir, profilePath: c.ProfilePath,
		devs: devs, fleet: fl, terminalID: terminalID, live: c.Profile}
	if c.TechPIN != "" {
		h := sha256.Sum256([]byte(c.TechPIN))
		t.pinHash = h[:]
	}
	return t
}

func (t *techService) setCore(core *terminal.Terminal) {
	id := core.Snapshot().Terminal // the enrolled id once enrolled
	t.mu.Lock()
	t.core = core
	t.terminalID = id
	t.mu.Unlock()
}

func (t *techService) mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /tech", t.page)
	mux.HandleFunc("GET /api/fleet", func(w http.ResponseWriter, r *http.Request) {
		if !t.fleet.active() {
			techJSON(w, http.StatusNotFound, map[string]string{"error": "the heartbeat is off (kioskd run -heartbeat negative) or the terminal is not provisioned yet"})
			return
		}
		techJSON(w, http.StatusOK, t.fleet.status())
	})
	mux.HandleFunc("GET /api/tech/profile", t.getProfile)
	mux.HandleFunc("POST /api/tech/probe", t.guard(t.probe))
	mux.HandleFunc("POST /api/tech/profile", t.guard(t.saveProfile))
	mux.HandleFunc("POST /api/tech/selftest/{role}", t.guard(t.selfTest))
}

// techError is an action's refusal, with its HTTP status.
type techError struct {
	status int
	msg    string
}

func (e *techError) Error() string { return e.msg }

func techErrorf(status int, format string, a ...any) error {
	return &techError{status: status, msg: fmt.Sprintf(format, a...)}
}

// guard checks the PIN, runs one action at a time, and answers JSON (or
// an HTML page to a form).
func (t *techService) guard(action func(ctx context.Context, in techInput) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, err := readTechInput(w, r)
		if err == nil {
			err = t.checkPIN(in.PIN)
		}
		if err == nil {
			t.mu.Lock()
			if t.busy {
				err = techErrorf(http.StatusConflict, "another technician action is running; try again when it ends")
			} else {
				t.busy = true
			}
			t.mu.Unlock()
			if err == nil {
				var out any
				out, err = action(r.Context(), in)
				t.mu.Lock()
				t.busy = false
				t.mu.Unlock()
				if err == nil {
					t.answer(w, in.form, http.StatusOK, out)
					return
				}
			}
		}
		status := http.StatusInternalServerError
		if te, ok := errors.AsType[*techError](err); ok {
			status = te.status
		}
		t.log.Warn("technician action refused or failed", "path", r.URL.Path, "err", err)
		t.answer(w, in.form, status, map[string]string{"error": err.Error()})
	}
}

func (t *techService) checkPIN(pin string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	switch {
	case t.pinHash == nil:
		return techErrorf(http.StatusForbidden, "no technician PIN is configured (kioskd run -tech-pin-file): technician actions are off")
	case now.Before(t.lockedUntil):
		return techErrorf(http.StatusTooManyRequests, "too many wrong PINs: locked until %s", t.lockedUntil.Format("15:04:05"))
	}
	h := sha256.Sum256([]byte(pin))
	if subtle.ConstantTimeCompare(h[:], t.pinHash) != 1 {
		t.failures++
		if t.failures >= techMaxFailures {
			t.failures, t.lockedUntil = 0, now.Add(techLockout)
			t.log.Warn("technician PIN locked after repeated wrong PINs", "until", t.lockedUntil)
		}
		return techErrorf(http.StatusUnauthorized, "wrong or missing technician PIN (X-Tech-PIN header or pin field)")
	}
	t.failures = 0
	return nil
}

// techInput is an action's input, from JSON or a form.
type techInput struct {
	PIN     string           `json:"pin"`
	Paths   []string         `json:"paths"`
	Profile *profile.Profile `json:"profile"`
	Confirm bool             `json:"confirm"`
	role    string
	form    bool
}

func readTechInput(w http.ResponseWriter, r *http.Request) (techInput, error) {
	var in techInput
	in.role = r.PathValue("role")
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
	switch mt {
	case "application/x-www-form-urlencoded":
		in.form = true
		if err := r.ParseForm(); err != nil {
			return in, techErrorf(http.StatusBadRequest, "form: %v", err)
		}
		in.PIN = r.PostForm.Get("pin")
		for _, p := range strings.Fields(r.PostForm.Get("paths")) {
			in.Paths = append(in.Paths, p)
		}
		in.Confirm = r.PostForm.Get("confirm") != ""
		if s := strings.TrimSpace(r.PostForm.Get("profile")); s != "" {
			p, err := profile.Parse([]byte(s))
			if err != nil {
				return in, techErrorf(http.StatusBadRequest, "profile: %v", err)
			}
			in.Profile = p
		}
	case "application/json", "":
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return in, techErrorf(http.StatusBadRequest, "read body: %v", err)
		}
		if len(bytes.TrimSpace(b)) > 0 {
			var raw struct {
				PIN     string          `json:"pin"`
				Paths   []string        `json:"paths"`
				Profile json.RawMessage `json:"profile"`
				Confirm bool            `json:"confirm"`
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&raw); err != nil {
				return in, techErrorf(http.StatusBadRequest, "body: %v", err)
			}
			in.PIN, in.Paths, in.Confirm = raw.PIN, raw.Paths, raw.Confirm
			if len(raw.Profile) > 0 && string(raw.Profile) != "null" {
				p, err := profile.Parse(raw.Profile)
				if err != nil {
					return in, techErrorf(http.StatusBadRequest, "profile: %v", err)
				}
				in.Profile = p
			}
		}
	default:
		return in, techErrorf(http.StatusUnsupportedMediaType, "send JSON or a form")
	}
	if h := r.Header.Get("X-Tech-PIN"); h != "" {
		in.PIN = h
	}
	return in, nil
}

func techJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

var techResult = template.Must(template.New("r").Parse(`<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>技术员 Technician</title></head>
<body><p><a href="/tech">← 返回 Back</a></p><h1>{{if .OK}}完成 Done{{else}}失败 Failed{{end}}</h1>
{{if .Profile}}<form method="post" action="/api/tech/profile"><p>确认后保存并应用 Save and apply after confirming:</p>
<textarea name="profile" rows="20" cols="100">{{.Profile}}</textarea><br>
<label>PIN <input name="pin" type="password" autocomplete="off"></label>
<label><input type="checkbox" name="confirm" value="1"> 确认 Confirm</label> <button type="submit">保存 Save</button></form>{{end}}
<pre>{{.JSON}}</pre></body></html>`))

// answer writes JSON, or a small HTML page for a form post.
func (t *techService) answer(w http.ResponseWriter, form bool, status int, v any) {
	if !form {
		techJSON(w, status, v)
		return
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	data := struct {
		OK            bool
		JSON, Profile string
	}{OK: status < 300, JSON: string(b)}
	if pr, ok := v.(probeResult); ok && pr.Proposed != nil {
		pb, _ := json.MarshalIndent(pr.Proposed, "", "  ")
		data.Profile = string(pb)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'")
	w.WriteHeader(status)
	_ = techResult.Execute(w, data)
}

// probeResult is what probing returns.
type probeResult struct {
	Findings []probe.Finding  `json:"findings"`
	Skipped  []string         `json:"skipped"` // ports the running daemon has open
	Proposed *profile.Profile `json:"proposed,omitempty"`
	Changes  []profileChange  `json:"changes"`
	Warnings []string         `json:"warnings,omitempty"`
	Took     string           `json:"took"`
}

// profileChange is one role a proposed profile changes.
type profileChange struct {
	Role   string `json:"role"`
	Driver string `json:"driver"`
	From   string `json:"from,omitempty"`
	To     string `json:"to"`
	// Live: applied without a restart (a serial device's path); else the
	// change takes effect at the daemon's next start.
	Live bool `json:"live"`
}

// inUse lists the real paths of the serial ports the daemon has open.
func (t *techService) inUse() map[string]string {
	out := map[string]string{}
	for _, src := range t.devs.Health {
		h := src.Health()
		if h.State == device.NoDevice || h.Path == "" {
			continue
		}
		if real, err := filepath.EvalSymlinks(h.Path); err == nil {
			out[real] = h.Name
		}
	}
	return out
}

func (t *techService) probe(ctx context.Context, in techInput) (any, error) {
	start := time.Now()
	ports, lerr := probe.ListPorts(in.Paths...)
	if len(ports) == 0 {
		if lerr != nil {
			return nil, techErrorf(http.StatusInternalServerError, "list serial ports: %v", lerr)
		}
		return nil, techErrorf(http.StatusBadRequest, "no serial ports found; give paths to probe")
	}
	busy := t.inUse()
	res := probeResult{Skipped: []string{}, Changes: []profileChange{}}
	var todo []probe.Port
	for _, p := range ports {
		real, err := filepath.EvalSymlinks(p.Path)
		if err == nil {
			if role, ok := busy[real]; ok {
				// Probing a port in use would garble the running driver's
				// conversation; its device is known anyway.
				res.Skipped = append(res.Skipped, p.Path+" ("+role+", in use)")
				continue
			}
		}
		todo = append(todo, p)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res.Findings = probe.Probe(cctx, todo, probe.Options{Logger: t.log})
	t.mu.Lock()
	live := t.live
	t.mu.Unlock()
	prop, changes, warns := proposeFrom(live, res.Findings)
	res.Proposed, res.Changes, res.Warnings = prop, changes, warns
	if lerr != nil {
		res.Warnings = append(res.Warnings, "listing ports: "+lerr.Error())
	}
	res.Took = time.Since(start).Round(time.Millisecond).String()
	return res, nil
}

// proposeFrom is the live profile with what probing found: a device found
// on a new path moves there (keeping its options when the driver is the
// same); a new role is added as found.
func proposeFrom(live *profile.Profile, findings []probe.Finding) (*profile.Profile, []profileChange, []string) {
	prop := &profile.Profile{Devices: maps.Clone(live.Devices)}
	var changes []profileChange
	var warns []string
	seen := map[string]string{}
	for _, f := range findings {
		if !f.Found() || f.Device == nil || f.Role == "" {
			continue
		}
		if other, dup := seen[f.Role]; dup {
			warns = append(warns, fmt.Sprintf("%s found on %s and %s: keeping the first", f.Role, other, f.Port.Path))
			continue
		}
		seen[f.Role] = f.Port.Path
		cur, had := live.Devices[f.Role]
		nd := *f.Device
		if had && cur.Driver == nd.Driver {
			kept := cur
			kept.Path, kept.Line = nd.Path, nd.Line
			nd = kept
		}
		if had && cur.Path == nd.Path && cur.Driver == nd.Driver {
			continue
		}
		prop.Devices[f.Role] = nd
		changes = append(changes, profileChange{Role: f.Role, Driver: nd.Driver, From: cur.Path, To: nd.Path,
			Live: had && cur.Driver == nd.Driver && serialDrivers[nd.Driver] && cur.Line == nd.Line})
	}
	slices.SortFunc(changes, func(a, b profileChange) int { return strings.Compare(a.Role, b.Role) })
	return prop, changes, warns
}

func (t *techService) getProfile(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	live := t.live
	t.mu.Unlock()
	links := map[string]string{}
	for role := range live.Devices {
		if tg := linkTarget(t.identityDir, role); tg != "" {
			links[role] = tg
		}
	}
	techJSON(w, http.StatusOK, map[string]any{"path": t.profilePath, "profile": live, "links": links})
}

// saveResult is what saving returns.
type saveResult struct {
	Saved   string          `json:"saved"`
	Backup  string          `json:"backup,omitempty"`
	Changes []profileChange `json:"changes"`
	// Restart lists roles whose change needs the daemon restarted (a new
	// role, another driver or line settings).
	Restart []string `json:"restart"`
}

func (t *techService) saveProfile(_ context.Context, in techInput) (any, error) {
	switch {
	case t.profilePath == "":
		return nil, techErrorf(http.StatusConflict, "this daemon was not started from a profile file; nothing to save to")
	case in.Profile == nil:
		return nil, techErrorf(http.StatusBadRequest, "no profile given (probe first: its proposed profile)")
	case !in.Confirm:
		return nil, techErrorf(http.StatusBadRequest, "not confirmed: send confirm true after checking the changes")
	}
	prop := in.Profile
	for role, d := range prop.Devices {
		if d.Path != "" && !filepath.IsAbs(d.Path) {
			return nil, techErrorf(http.StatusBadRequest, "device %s: path %q must be absolute", role, d.Path)
		}
	}
	// The new profile must build, as the daemon would at its next start.
	if _, err := buildDevices(prop, slog.New(slog.DiscardHandler)); err != nil {
		return nil, techErrorf(http.StatusBadRequest, "profile refused: %v", err)
	}
	t.mu.Lock()
	live := t.live
	t.mu.Unlock()
	res := saveResult{Saved: t.profilePath, Changes: []profileChange{}, Restart: []string{}}
	roles := slices.Sorted(maps.Keys(prop.Devices))
	for role := range live.Devices {
		if _, ok := prop.Devices[role]; !ok {
			roles = append(roles, role)
		}
	}
	for _, role := range roles {
		nd, has := prop.Devices[role]
		cd, had := live.Devices[role]
		if has && had && deviceEqual(nd, cd) {
			continue
		}
		ch := profileChange{Role: role, Driver: nd.Driver, From: cd.Path, To: nd.Path}
		ch.Live = has && had && nd.Driver == cd.Driver && serialDrivers[nd.Driver] && nd.Line == cd.Line && onlyPathDiffers(nd, cd)
		if !ch.Live {
			res.Restart = append(res.Restart, role)
		}
		res.Changes = append(res.Changes, ch)
	}
	// Save first (the previous file kept as .bak), then re-point links:
	// a crash in between leaves a file the next start applies anyway.
	if old, err := os.ReadFile(t.profilePath); err == nil {
		res.Backup = t.profilePath + ".bak"
		if err := writeFileAtomic(res.Backup, old, 0o644); err != nil {
			return nil, fmt.Errorf("keep the previous profile: %w", err)
		}
	}
	b, err := json.MarshalIndent(prop, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(t.profilePath, append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("save profile: %w", err)
	}
	for _, ch := range res.Changes {
		if ch.Live {
			if _, err := relink(t.identityDir, ch.Role, ch.To); err != nil {
				return nil, fmt.Errorf("saved, but applying %s failed (restart the daemon): %w", ch.Role, err)
			}
		}
	}
	t.mu.Lock()
	merged := &profile.Profile{Devices: maps.Clone(live.Devices)}
	for _, ch := range res.Changes {
		if ch.Live {
			merged.Devices[ch.Role] = prop.Devices[ch.Role]
		}
	}
	t.live = merged
	t.mu.Unlock()
	t.log.Info("technician saved the hardware profile", "file", t.profilePath, "changes", len(res.Changes), "restart", res.Restart)
	return res, nil
}

func deviceEqual(a, b profile.Device) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func onlyPathDiffers(a, b profile.Device) bool {
	a.Path = b.Path
	return deviceEqual(a, b)
}

// selfTestResult is one self-test's outcome.
type selfTestResult struct {
	Role   string        `json:"role"`
	Test   string        `json:"test"`
	OK     bool          `json:"ok"`
	Detail string        `json:"detail"`
	Steps  []string      `json:"steps,omitempty"`
	Health device.Health `json:"health"`
	Took   string        `json:"took"`
}

func (t *techService) selfTest(ctx context.Context, in techInput) (any, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res := selfTestResult{Role: in.role}
	var err error
	switch in.role {
	case "printer":
		res.Test = "test page"
		err = t.testPage(ctx, &res)
	case "idCardReader":
		res.Test = "read a test card"
		err = t.testCard(ctx, &res)
	case "billValidator":
		res.Test = "cycle (enable, disable, status)"
		err = t.cycleValidator(ctx, &res)
	case "gpio":
		res.Test = "blink the lights"
		err = t.blinkLights(ctx, &res)
	default:
		return nil, techErrorf(http.StatusNotFound, "no self-test for %q (printer, idCardReader, billValidator, gpio)", in.role)
	}
	res.OK = err == nil
	if err != nil {
		if te, ok := errors.AsType[*techError](err); ok {
			return nil, te
		}
		res.Detail = err.Error()
	}
	for _, src := range t.devs.Health {
		if h := src.Health(); h.Name == in.role {
			res.Health = h
		}
	}
	res.Took = time.Since(start).Round(time.Millisecond).String()
	t.log.Info("technician self-test", "role", in.role, "ok", res.OK, "detail", res.Detail)
	return res, nil
}

// idleOrRefuse refuses a self-test on a device a resident's flow uses
// while someone uses the terminal: a test page would be cut into their
// receipt, a test read would take the ID card they placed for an
// application (and show it here), a validator cycle would inhibit their
// cash screen.
func (t *techService) idleOrRefuse() error {
	t.mu.Lock()
	core := t.core
	t.mu.Unlock()
	if core != nil {
		if s := core.Snapshot(); s.Screen != terminal.ScreenHome || s.Session != "" {
			return techErrorf(http.StatusConflict, "a resident is using the terminal (screen %s); try when it is idle", s.Screen)
		}
	}
	return nil
}

func (t *techService) testPage(ctx context.Context, res *selfTestResult) error {
	p := t.devs.Printer
	if p == nil {
		return techErrorf(http.StatusNotFound, "no printer in the profile")
	}
	if err := t.idleOrRefuse(); err != nil {
		return err
	}
	b := p.Builder().Init().Align(escposcodec.AlignCenter).Bold(true).Line("通办自助终端 测试页").Bold(false).
		Line("TEST PAGE").Align(escposcodec.AlignLeft).
		Line("终端 Terminal: " + t.currentID()).
		Line("时间 Time: " + time.Now().Format("2006-01-02 15:04:05")).
		Line("软件 Software: kioskd " + version).
		Line(strings.Repeat("-", p.Builder().Columns("-"))).
		Line("中文 ABC abc 0123456789").Feed(3).Cut()
	job, err := b.Bytes()
	if err != nil {
		return fmt.Errorf("build test page: %w", err)
	}
	if err := p.Print(ctx, job); err != nil {
		return fmt.Errorf("print: %w", err)
	}
	res.Detail = fmt.Sprintf("printed %d bytes", len(job))
	return nil
}

func (t *techService) testCard(ctx context.Context, res *selfTestResult) error {
	r := t.devs.IDCard
	if r == nil {
		return techErrorf(http.StatusNotFound, "no ID card reader in the profile")
	}
	if err := t.idleOrRefuse(); err != nil {
		return err
	}
	card, err := r.Read(ctx, idcard.ReadOptions{})
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	res.Detail = "read: " + card.String() // masked
	return nil
}

func (t *techService) cycleValidator(ctx context.Context, res *selfTestResult) error {
	bv := t.devs.Cash
	if bv == nil {
		return techErrorf(http.StatusNotFound, "no bill validator in the profile")
	}
	if err := t.idleOrRefuse(); err != nil {
		return err
	}
	wait := func(what string, ok func(device.Health) bool) bool {
		deadline := time.Now().Add(4 * time.Second)
		for {
			h := bv.Health()
			if ok(h) {
				res.Steps = append(res.Steps, fmt.Sprintf("%s: %s %s", what, h.State, h.Detail))
				return true
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				res.Steps = append(res.Steps, fmt.Sprintf("%s: not reached (now %s %s)", what, h.State, h.Detail))
				return false
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	res.Steps = append(res.Steps, "before: "+string(bv.Health().State)+" "+bv.Health().Detail)
	bv.Enable(t.devs.AcceptValues)
	enabled := wait("enabled", func(h device.Health) bool { return strings.Contains(h.Detail, "accepting") })
	// Hand the acceptor back to the core: inhibited on an idle terminal,
	// or enabled for a resident who reached the cash screen meanwhile.
	t.mu.Lock()
	core := t.core
	t.mu.Unlock()
	if core != nil && core.ReassertCash() {
		if !enabled {
			return errors.New("the validator did not follow enable")
		}
		res.Detail = "enabled; then handed back to a resident's cash screen"
		return nil
	}
	if core == nil {
		bv.Enable(nil)
	}
	disabled := wait("disabled", func(h device.Health) bool { return !strings.Contains(h.Detail, "accepting") })
	if !enabled || !disabled {
		return errors.New("the validator did not follow enable and disable")
	}
	res.Detail = "enabled and inhibited again"
	return nil
}

func (t *techService) blinkLights(ctx context.Context, res *selfTestResult) error {
	g := t.devs.GPIO
	if g == nil {
		return techErrorf(http.StatusNotFound, "no GPIO lights in the profile")
	}
	_, names := g.Names()
	if len(names) == 0 {
		return techErrorf(http.StatusNotFound, "the GPIO device has no lights")
	}
	for _, n := range names {
		l := g.Light(n)
		st, period := l.State()
		if err := l.Blink(300 * time.Millisecond); err != nil {
			return fmt.Errorf("light %s: %w", n, err)
		}
		res.Steps = append(res.Steps, "blinking "+n)
		defer restoreLight(l, st, period)
	}
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
	}
	res.Detail = fmt.Sprintf("%d lights blinked for 3 s, then put back as they were", len(names))
	return nil
}

func restoreLight(l *gpiolines.Light, st gpiolines.LightState, period time.Duration) {
	switch st {
	case gpiolines.LightOn:
		l.On()
	case gpiolines.LightBlink:
		l.Blink(period)
	default:
		l.Off()
	}
}

var techPage = template.Must(template.New("tech").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>技术员维护 Technician</title></head>
<body>
<h1>技术员维护 Technician — {{.Terminal}}</h1>
<p><a href="/status">设备状态 Device status</a> · <a href="/api/devices">/api/devices</a> · <a href="/api/fleet">心跳与配置 Heartbeat and configuration</a> · <a href="/metrics">/metrics</a></p>
{{if not .PIN}}<p><strong>未配置技术员 PIN，维护操作已关闭。No technician PIN configured: actions are off (kioskd run -tech-pin-file).</strong></p>{{end}}
<h2>自检 Self-tests</h2>
<table border="1" cellpadding="4"><tr><th>设备 Device</th><th>状态 State</th><th>计数 Counters</th><th>最近错误 Last error</th><th></th></tr>
{{range .Devices}}<tr><td>{{.Name}} ({{.Driver}})<br><small>{{.Path}}{{with index $.Links .Name}} → {{.}}{{end}}</small></td><td>{{.State}} {{.Detail}}</td>
<td>{{range $k, $v := .Counters}}{{$k}}={{$v}} {{end}}</td><td>{{.LastError}}{{if .LastError}} ({{.ErrorAt.Format "01-02 15:04:05"}}){{end}}</td>
<td>{{$role := .Name}}{{with index $.Tests .Name}}<form method="post" action="/api/tech/selftest/{{$role}}"><input name="pin" type="password" size="6" placeholder="PIN" autocomplete="off"> <button type="submit">{{.}}</button></form>{{end}}</td></tr>
{{end}}</table>
<h2>探测串口 Probe serial ports</h2>
<form method="post" action="/api/tech/probe">
<p>另加路径 Extra paths (space separated): <input name="paths" size="60"></p>
<p><input name="pin" type="password" size="6" placeholder="PIN" autocomplete="off"> <button type="submit">探测 Probe</button></p>
<p><small>正在使用的串口不会被探测。Ports the daemon has open are skipped. The result proposes a profile to save.</small></p>
</form>
<p>硬件配置文件 Profile: {{if .ProfilePath}}{{.ProfilePath}} (<a href="/api/tech/profile">JSON</a>){{else}}none (cannot be saved){{end}}</p>
</body></html>`))

func (t *techService) page(w http.ResponseWriter, r *http.Request) {
	var devs []device.Health
	for _, s := range t.devs.Health {
		devs = append(devs, s.Health())
	}
	links := map[string]string{}
	for _, d := range devs {
		if tg := linkTarget(t.identityDir, d.Name); tg != "" {
			links[d.Name] = tg
		}
	}
	tests := map[string]string{"printer": "打印测试页 Test page", "idCardReader": "读测试卡 Read card",
		"billValidator": "纸币器循环 Cycle", "gpio": "指示灯闪烁 Blink"}
	data := struct {
		Terminal, ProfilePath string
		PIN                   bool
		Devices               []device.Health
		Links, Tests          map[string]string
	}{t.currentID(), t.profilePath, t.pinHash != nil, devs, links, tests}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'")
	if err := techPage.Execute(w, data); err != nil {
		t.log.Debug("technician page", "err", err)
	}
}

// readTechPIN reads the technician PIN from a file (first line), so it is
// not on the command line for ps to show; "" reads nothing.
func readTechPIN(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("technician PIN: %w", err)
	}
	pin, _, _ := strings.Cut(string(b), "\n")
	pin = strings.TrimSpace(pin)
	if len(pin) < 6 {
		return "", fmt.Errorf("technician PIN in %s: at least 6 characters", path)
	}
	return pin, nil
}

func (t *techService) currentID() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.terminalID
}
