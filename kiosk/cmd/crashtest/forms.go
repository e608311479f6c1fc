package main

// Forms: some runs apply for a matter instead of paying a bill. The
// resident walks the real intents (matter, begin, ID card through the
// simulator's control, the fields the card does not fill, submit), and the
// daemon is killed anywhere, right after the submit (before or after its
// journal write, before the platform's reply) or the moment the platform
// has committed the case (before the daemon heard). After the drain the
// journal, the platform's cases and the sealed store are held against each
// other: every application journaled as submitted is one case at the
// platform, under its journaled key and applicant, acknowledged, and no
// sealed record (personal data) is left.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"tongban/kiosk/journal"
	"tongban/kiosk/sealed"
)

// The matter applied for: the sample resident holds the business licence
// it needs, and two fields are not read off the card.
const (
	formMatter = "sole-trader-change"
	formSample = "resident"
)

// govState is the part of the snapshot's government services the script
// reads.
type govState struct {
	Available bool            `json:"available"`
	Township  json.RawMessage `json:"township"` // absent until the catalog is fetched
	Reading   bool            `json:"reading"`
	Apply     *struct {
		Missing []json.RawMessage `json:"missing"`
		App     *struct {
			ApplicationID string `json:"applicationId"`
			Status        string `json:"status"`
			Refusal       string `json:"refusal"`
		} `json:"app"`
	} `json:"apply"`
}

// formRun is one application run as the harness saw it, to tell at the end
// where its kill landed.
type formRun struct {
	start  time.Time
	killAt time.Time // zero: not killed
	phase  int
}

// killSwitch kills the daemon once: after a delay, or when the platform
// lists one more case than before.
type killSwitch struct {
	h      *harness
	once   sync.Once
	fired  chan struct{}
	at     time.Time
	timer  *time.Timer
	stop   chan struct{}
	polled chan struct{}
}

func newKillSwitch(h *harness) *killSwitch {
	return &killSwitch{h: h, fired: make(chan struct{})}
}

func (k *killSwitch) fire() {
	k.once.Do(func() {
		k.at = time.Now()
		k.h.kill()
		close(k.fired)
	})
}

func (k *killSwitch) after(d time.Duration) {
	if k.timer == nil && k.stop == nil {
		k.timer = time.AfterFunc(d, k.fire)
	}
}

// onCommit polls the platform's cases and kills the daemon as soon as a
// new one is there: the platform has committed, and unless its reply was
// quicker than the kill, the daemon has not heard.
func (k *killSwitch) onCommit(before int) {
	if k.timer != nil || k.stop != nil {
		return
	}
	k.stop, k.polled = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(k.polled)
		deadline := time.Now().Add(8 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-k.stop:
				return
			default:
			}
			if n, err := k.h.caseCount(); err == nil && n > before {
				k.fire()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
}

// end disarms the switch and reports whether (and when) it fired; a kill
// in progress is waited for.
func (k *killSwitch) end() (bool, time.Time) {
	if k.timer != nil && !k.timer.Stop() {
		<-k.fired
	}
	if k.stop != nil {
		close(k.stop)
		<-k.polled
	}
	select {
	case <-k.fired:
		return true, k.at
	default:
		return false, time.Time{}
	}
}

// applyScript is one resident applying for a matter with the ID card,
// the daemon killed as k says: phase 0 from the start, 1 from the submit,
// 2 when the platform commits the case; -1 never.
func (h *harness) applyScript(run int, k kill) (killed bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	fr := formRun{start: time.Now(), phase: k.phase}
	ks := newKillSwitch(h)
	defer func() {
		killed, fr.killAt = ks.end()
		h.forms = append(h.forms, fr)
		// The resident takes the card away, whatever happened.
		postJSON(h.simURL+"/card/remove", nil)
	}()
	if k.phase == 0 {
		ks.after(k.after)
	}
	if err := postJSON(h.simURL+"/card/remove", nil); err != nil {
		return false, err
	}
	s, err := dialScreen(ctx, h.uiAddr)
	if err != nil {
		time.Sleep(50 * time.Millisecond)
		return false, err
	}
	defer s.close()
	if err := s.settle(ctx); err != nil {
		return false, err
	}
	// A snapshot is pushed only when something changes: the one settle
	// ended on may already say so.
	ready := func(st state) bool { return st.Gov != nil && st.Gov.Available && len(st.Gov.Township) > 0 }
	if !ready(s.last) {
		if _, err := s.waitFor(ctx, ready); err != nil {
			return false, fmt.Errorf("applications not available: %w", err)
		}
	}
	if err := s.command("Gov.Matter", map[string]string{"matterId": formMatter}); err != nil {
		return false, err
	}
	if err := s.command("Apply.Begin", nil); err != nil {
		return false, err
	}
	if err := postJSON(h.simURL+"/card/place", map[string]string{"sample": formSample}); err != nil {
		return false, err
	}
	if _, err := s.waitFor(ctx, func(st state) bool { return st.Screen == "apply-form" }); err != nil {
		return false, err
	}
	for _, f := range [][2]string{{"changeItem", "scope"}, {"changeTo", fmt.Sprintf("零售 run %d", run)}} {
		if err := s.command("Apply.Set", map[string]string{"fieldId": f[0], "value": f[1]}); err != nil {
			return false, err
		}
	}
	switch k.phase {
	case 1:
		ks.after(k.after)
	case 2:
		n, err := h.caseCount()
		if err != nil {
			return false, err
		}
		ks.onCommit(n)
	}
	if err := s.command("Apply.Submit", nil); err != nil {
		return false, err
	}
	st, err := s.waitFor(ctx, func(st state) bool { return st.Screen == "apply-done" || st.Screen == "apply-refused" })
	if err != nil {
		return false, err
	}
	if st.Screen == "apply-refused" {
		ref := ""
		if st.Gov != nil && st.Gov.Apply != nil && st.Gov.Apply.App != nil {
			ref = st.Gov.Apply.App.Refusal
		}
		return false, fmt.Errorf("application refused: %s", ref)
	}
	return false, s.command("Gov.Back", nil)
}

// receivedCase is the part of the platform's GET /ref/cases the tally
// reads (refplatform.ReceivedCase).
type receivedCase struct {
	IdempotencyKey string `json:"idempotencyKey"`
	Case           struct {
		CaseID        string    `json:"caseId"`
		CaseNumber    string    `json:"caseNumber"`
		ApplicationID string    `json:"applicationId"`
		AcceptedAt    time.Time `json:"acceptedAt"`
	} `json:"case"`
	Request struct {
		Applicant struct {
			Name     string `json:"name"`
			IDNumber string `json:"idNumber"`
		} `json:"applicant"`
	} `json:"request"`
}

func (h *harness) platformCases() ([]receivedCase, error) {
	resp, err := http.Get(h.platURL + "/ref/cases")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var list []receivedCase
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("platform cases: %w", err)
	}
	return list, nil
}

func (h *harness) caseCount() (int, error) {
	l, err := h.platformCases()
	return len(l), err
}

// formResult is the forms' part of the tally.
type formResult struct {
	submitted, cases, lost, duplicated, sealedLeft int
	// Where the kills of application runs landed.
	beforeJournal, journaledUnsent, committedUnheard, afterAck int
}

// journaledApp is an application as the daemon's journal tells it.
type journaledApp struct {
	key, applicant string
	at, ackAt      time.Time
	refused        string
}

// tallyForms holds the journal, the platform's cases and the sealed store
// against each other. The daemon must be stopped.
func (h *harness) tallyForms() (formResult, error) {
	var fr formResult
	j, err := journal.Open(filepath.Join(h.dir, "kiosk", "journal.db"), nil)
	if err != nil {
		return fr, err
	}
	apps := map[string]*journaledApp{}
	err = j.Scan(1, func(r journal.Record) error {
		switch r.Kind {
		case journal.ApplicationSubmitted:
			var sum struct {
				Applicant string `json:"applicant"`
			}
			json.Unmarshal(r.Data, &sum)
			apps[r.Ref] = &journaledApp{key: r.Key, applicant: sum.Applicant, at: r.Time}
		case journal.ApplicationAcknowledged:
			if a := apps[r.Ref]; a != nil && a.ackAt.IsZero() {
				a.ackAt = r.Time
			}
		case journal.ApplicationRefused:
			if a := apps[r.Ref]; a != nil {
				a.refused = r.Detail
			}
		}
		return nil
	})
	j.Close()
	if err != nil {
		return fr, err
	}
	cases, err := h.platformCases()
	if err != nil {
		return fr, err
	}
	fr.submitted, fr.cases = len(apps), len(cases)
	byApp := map[string][]receivedCase{}
	for _, c := range cases {
		byApp[c.Case.ApplicationID] = append(byApp[c.Case.ApplicationID], c)
	}
	perApplicant := map[string]int{}
	for _, c := range cases {
		perApplicant[c.Request.Applicant.Name+" "+c.Request.Applicant.IDNumber]++
	}
	for id, a := range apps {
		perApplicant[a.applicant]--
		got := byApp[id]
		switch {
		case len(got) == 0:
			fr.lost++
			fmt.Printf("crashtest: application %s (key %s) journaled as submitted, no case at the platform (refused: %q)\n", id, a.key, a.refused)
			continue
		case len(got) > 1:
			fr.duplicated += len(got) - 1
			fmt.Printf("crashtest: application %s is %d cases at the platform\n", id, len(got))
		}
		c := got[0]
		if c.IdempotencyKey != a.key {
			fr.duplicated++
			fmt.Printf("crashtest: application %s journaled under key %s, the platform's case %s under %s\n", id, a.key, c.Case.CaseNumber, c.IdempotencyKey)
		}
		if a.ackAt.IsZero() {
			// At the platform, but the daemon never heard: the resident's
			// receipt stays "pending" and the sealed record stays.
			fr.lost++
			fmt.Printf("crashtest: application %s is case %s at the platform but the daemon never journaled the acknowledgement (refused: %q)\n", id, c.Case.CaseNumber, a.refused)
		}
	}
	for id, c := range byApp {
		if apps[id] == nil {
			// Sent without its journal record: the resident was never
			// told, and nothing would resend or purge it.
			fr.duplicated += len(c)
			fmt.Printf("crashtest: case %s at the platform for application %s the daemon never journaled\n", c[0].Case.CaseNumber, id)
		}
	}
	for who, d := range perApplicant {
		if d != 0 {
			fmt.Printf("crashtest: applicant %s: %+d cases at the platform against the journal\n", who, d)
		}
	}
	st, err := sealed.Open(filepath.Join(h.dir, "kiosk"))
	if err != nil {
		return fr, err
	}
	ids, err := st.IDs()
	st.Close()
	if err != nil {
		return fr, err
	}
	fr.sealedLeft = len(ids)
	for _, id := range ids {
		fmt.Printf("crashtest: sealed record %s left behind (journaled: %v)\n", id, apps[id] != nil)
	}

	// Where each kill of an application run landed.
	for _, r := range h.forms {
		if r.killAt.IsZero() {
			continue
		}
		var a *journaledApp
		var id string
		for aid, x := range apps {
			if !x.at.Before(r.start) && !x.at.After(r.killAt) {
				a, id = x, aid
			}
		}
		switch {
		case a == nil:
			fr.beforeJournal++
		case len(byApp[id]) == 0 || byApp[id][0].Case.AcceptedAt.After(r.killAt):
			fr.journaledUnsent++
		case a.ackAt.IsZero() || a.ackAt.After(r.killAt):
			fr.committedUnheard++
		default:
			fr.afterAck++
		}
	}
	return fr, nil
}
