package terminal

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"tongban/kiosk/uplink"
	"tongban/kiosk/wallclock"
)

// The township catalog: the terminal offers exactly the list of matters in
// force in its township (一乡镇一清单). It keeps the whole catalog it
// fetched, refetches it now and then, and fetches ahead the list that
// takes effect at the catalog's ValidUntil, so a matter appears or
// disappears on its day even while the platform is unreachable. Each
// catalog is swapped in whole through one atomic pointer: a snapshot reads
// the pointer once and never mixes two lists.

// AppsPlatform is a platform that serves the township catalog, person
// look-ups, applications, cases and ratings (uplink API v1.1).
type AppsPlatform interface {
	Catalog(ctx context.Context, township string, at time.Time, known string) (uplink.Catalog, bool, error)
	LookupPerson(ctx context.Context, req uplink.PersonLookup) (uplink.Person, error)
	SubmitApplication(ctx context.Context, key string, req uplink.ApplicationRequest) (uplink.Case, error)
	Case(ctx context.Context, caseID string) (uplink.Case, error)
	CasesByPerson(ctx context.Context, req uplink.PersonLookup) ([]uplink.Case, error)
	Rate(ctx context.Context, key string, req uplink.RatingRequest) (uplink.Rating, error)
}

// govState is the terminal-wide state of government services. The catalog
// pointers are atomic; the maps are guarded by Terminal.mu.
type govState struct {
	cat     atomic.Pointer[uplink.Catalog] // the list in force
	next    atomic.Pointer[uplink.Catalog] // the list from cat.ValidUntil, fetched ahead
	apps    map[string]appStub             // journaled, not yet acknowledged, by application id
	ratings map[string]pendingRating       // journaled, not yet acknowledged, by key
	wake    chan struct{}                  // asks the catalog keeper to fetch now
}

func newGovState() *govState {
	return &govState{apps: map[string]appStub{}, ratings: map[string]pendingRating{}, wake: make(chan struct{}, 1)}
}

func (t *Terminal) appsPlatform() (AppsPlatform, bool) {
	ap, ok := t.cfg.Platform.(AppsPlatform)
	return ap, ok
}

// Catalog is the catalog in force as the terminal holds it (nil before the
// first fetch).
func (t *Terminal) Catalog() *uplink.Catalog { return t.gov.cat.Load() }

// RefreshCatalog asks the keeper to fetch the catalog now.
func (t *Terminal) RefreshCatalog() {
	select {
	case t.gov.wake <- struct{}{}:
	default:
	}
}

// keepCatalog runs until ctx ends. It sleeps until the next fetch or the
// catalog's effective date, whichever comes first, so an effective date
// takes hold on time without looking at the clock every second; a step of
// the wall clock (NTP after boot) wakes it to reckon its wait again.
func (t *Terminal) keepCatalog(ctx context.Context) {
	ap, ok := t.appsPlatform()
	if !ok {
		return
	}
	every := t.cfg.CatalogRefresh
	if every <= 0 {
		every = 10 * time.Minute
	}
	clockSet, err := wallclock.Watch(ctx) // nil if refused: then a step is caught at the next fetch
	if err != nil {
		t.log.Warn("catalog: clock steps will not be noticed before the next refresh", "err", err)
	}
	timer := time.NewTimer(time.Hour) // one timer, reset for each wait
	defer timer.Stop()
	var due time.Time    // next fetch; zero: now
	var turned time.Time // the effective date already acted on
	backoff := 2 * time.Second
	for {
		now := t.cfg.Now()
		if cur := t.gov.cat.Load(); cur != nil && cur.ValidUntil != nil && !now.Before(*cur.ValidUntil) && !cur.ValidUntil.Equal(turned) {
			turned = *cur.ValidUntil
			if nx := t.gov.next.Load(); nx != nil && nx.At.Equal(*cur.ValidUntil) {
				t.log.Info("catalog: effective date reached", "township", nx.Township, "version", nx.Version, "matters", len(nx.Matters))
				t.swapCatalog(nx)
				t.gov.next.Store(nil)
			}
			due = time.Time{} // and confirm with the platform
		}
		if !now.Before(due) {
			if err := t.fetchCatalog(ctx, ap, now); err != nil {
				if ctx.Err() != nil {
					return
				}
				t.log.Warn("catalog fetch failed", "err", err, "retryIn", backoff)
				due = now.Add(backoff)
				backoff = min(backoff*2, time.Minute)
			} else {
				due, backoff = now.Add(every), 2*time.Second
			}
		}
		wait := due.Sub(now)
		if cur := t.gov.cat.Load(); cur != nil && cur.ValidUntil != nil && !cur.ValidUntil.Equal(turned) {
			wait = min(wait, cur.ValidUntil.Sub(now))
		}
		timer.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			return
		case <-t.gov.wake:
			due = time.Time{}
		case <-clockSet:
		case <-timer.C:
		}
	}
}

// fetchCatalog asks for the list in force at now (304 when the terminal's
// version is still current) and the one that follows it.
func (t *Terminal) fetchCatalog(ctx context.Context, ap AppsPlatform, now time.Time) error {
	known := ""
	if cur := t.gov.cat.Load(); cur != nil {
		known = cur.Version
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cat, changed, err := ap.Catalog(cctx, t.cfg.Township, now, known)
	if err != nil {
		return err
	}
	if changed {
		t.log.Info("catalog fetched", "township", cat.Township, "version", cat.Version, "matters", len(cat.Matters))
		t.swapCatalog(&cat)
	}
	cur := t.gov.cat.Load()
	if cur == nil || cur.ValidUntil == nil {
		t.gov.next.Store(nil)
		return nil
	}
	if nx := t.gov.next.Load(); nx != nil && nx.At.Equal(*cur.ValidUntil) {
		return nil
	}
	nx, _, err := ap.Catalog(cctx, cur.Township, *cur.ValidUntil, "")
	if err != nil {
		// The list in force is fine; the next one is tried again later.
		t.log.Warn("next catalog not fetched", "at", cur.ValidUntil, "err", err)
		return nil
	}
	t.gov.next.Store(&nx)
	return nil
}

func (t *Terminal) swapCatalog(c *uplink.Catalog) {
	t.gov.cat.Store(c)
	t.mu.Lock()
	t.publishLocked()
	t.mu.Unlock()
}

// TownshipView is the township and its catalog's identity, for the screen.
type TownshipView struct {
	Code    string              `json:"code"`
	Name    uplink.Text         `json:"name"`
	Version string              `json:"version"`
	Sample  bool                `json:"sample"`
	Notice  uplink.Text         `json:"notice"`
	Centre  uplink.ServicePoint `json:"centre"`
	Matters int                 `json:"matters"`
}

// DeptView is one department (a category of the home screen).
type DeptView struct {
	Name    uplink.Text `json:"name"`
	Matters int         `json:"matters"`
}

// MatterItem is a matter in a list.
type MatterItem struct {
	MatterID string                `json:"matterId"`
	Name     uplink.Text           `json:"name"`
	Mode     uplink.DelegationMode `json:"mode"`
	ModeName uplink.Text           `json:"modeName"`
	Channel  uplink.Channel        `json:"channel"`
}

func matterItem(m uplink.Matter) MatterItem {
	return MatterItem{MatterID: m.MatterID, Name: m.Name, Mode: m.Mode, ModeName: uplink.DelegationModeName(m.Mode), Channel: m.Channel}
}

// departments lists the catalog's departments in the order they first
// appear (the directory's order), with their number of matters.
func departments(c *uplink.Catalog) []DeptView {
	var out []DeptView
	for _, m := range c.Matters {
		i := slices.IndexFunc(out, func(d DeptView) bool { return d.Name.Zh == m.Department.Zh })
		if i < 0 {
			out = append(out, DeptView{Name: m.Department})
			i = len(out) - 1
		}
		out[i].Matters++
	}
	return out
}

func townshipView(c *uplink.Catalog) *TownshipView {
	return &TownshipView{Code: c.Township, Name: c.TownshipName, Version: c.Version, Sample: c.Sample, Notice: c.Notice,
		Centre: c.ServiceCentre, Matters: len(c.Matters)}
}
