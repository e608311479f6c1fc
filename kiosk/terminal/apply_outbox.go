package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// Applications in the outbox. In memory the outbox keeps only each
// application's id, key and session (appStub); the request itself, with
// the resident's ID card data, is read from the sealed store for each
// attempt, so nothing personal stays in the daemon's memory once the
// resident's session has ended.

// pendingApp is what kiosk/sealed holds for a journaled application
// (encrypted): the request as it will be resent, unchanged, under its key.
type pendingApp struct {
	Key        string                    `json:"key"`
	Session    string                    `json:"session"`
	MatterName uplink.Text               `json:"matterName"`
	Request    uplink.ApplicationRequest `json:"request"`
}

// appStub is an application the platform has not acknowledged, as the
// outbox remembers it.
type appStub struct {
	ID      string
	Key     string
	Session string
}

// refusalCode is the platform's error code of a final refusal.
func refusalCode(err error) string {
	var ue *uplink.Error
	if errors.As(err, &ue) && ue.Code != "" {
		return ue.Code
	}
	return "refused"
}

// loadApp reads an application's full record back from the sealed store.
func (t *Terminal) loadApp(st appStub) (pendingApp, error) {
	plain, err := t.cfg.Sealed.Get(st.ID)
	if err != nil {
		return pendingApp{}, err
	}
	var pa pendingApp
	if err := json.Unmarshal(plain, &pa); err != nil {
		return pendingApp{}, err
	}
	if pa.Key != st.Key || pa.Request.ApplicationID != st.ID {
		return pendingApp{}, errors.New("sealed record does not match the journal")
	}
	return pa, nil
}

// sendApp makes one attempt and journals the outcome: acknowledged or
// refused for good, the sealed record is purged.
func (t *Terminal) sendApp(ctx context.Context, st appStub) (uplink.Case, error) {
	pa, lerr := t.loadApp(st)
	var cs uplink.Case
	var err error
	if lerr == nil {
		ap, _ := t.appsPlatform()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cs, err = ap.SubmitApplication(cctx, pa.Key, pa.Request)
		cancel()
		pa = pendingApp{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, still := t.gov.apps[st.ID]; !still {
		return cs, err // the other sender finished it; the platform deduplicated by key
	}
	switch {
	case lerr != nil:
		// Without its record it cannot be sent: staff see it in the journal.
		t.log.Error("pending application lost its sealed record", "application", st.ID, "err", lerr)
		t.appendLocked(journal.Record{Kind: journal.ApplicationRefused, Session: st.Session, Key: st.Key, Ref: st.ID,
			Detail: "sealed record unreadable"})
		err = lerr
	case err == nil:
		t.online = true
		t.appendLocked(journal.Record{Kind: journal.ApplicationAcknowledged, Session: st.Session, Key: st.Key, Ref: st.ID,
			Detail: cs.CaseNumber, Data: mustJSON(map[string]string{"caseId": cs.CaseID, "caseNumber": cs.CaseNumber})})
		t.log.Info("application acknowledged", "application", st.ID, "case", cs.CaseNumber)
	case uplink.IsRetryable(err):
		t.online = false
		return cs, err
	default:
		t.online = true
		t.appendLocked(journal.Record{Kind: journal.ApplicationRefused, Session: st.Session, Key: st.Key, Ref: st.ID, Detail: refusalCode(err)})
		t.log.Warn("application refused", "application", st.ID, "code", refusalCode(err))
	}
	delete(t.gov.apps, st.ID)
	if perr := t.cfg.Sealed.Purge(st.ID); perr != nil {
		t.log.Error("purge sealed application", "application", st.ID, "err", perr)
	}
	return cs, err
}

// govJobsLocked are the outbox's application and rating deliveries.
func (t *Terminal) govJobsLocked(ctx context.Context) []func() error {
	var jobs []func() error
	for _, st := range t.gov.apps {
		if ss := t.sess; ss != nil && ss.gov != nil && ss.gov.app != nil && ss.gov.app.ApplicationID == st.ID && ss.gov.app.Status == "submitting" {
			continue // being submitted in front of the resident
		}
		jobs = append(jobs, func() error {
			_, err := t.sendApp(ctx, st)
			if err == nil {
				t.appDelivered(st.ID)
			}
			return err
		})
	}
	for _, pr := range t.gov.ratings {
		jobs = append(jobs, func() error { return t.sendRating(ctx, pr) })
	}
	return jobs
}

// appDelivered updates a resident still looking at a pending application.
func (t *Terminal) appDelivered(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ss := t.sess; ss != nil && ss.gov != nil && ss.gov.app != nil && ss.gov.app.ApplicationID == id {
		ss.gov.app.Status = "acknowledged"
		t.publishLocked()
	}
}

func (t *Terminal) govQueuedLocked() int { return len(t.gov.apps) + len(t.gov.ratings) }

// replayGov rebuilds the pending applications and ratings from one
// journal record (called by recover for every record).
func (t *Terminal) replayGov(r journal.Record) {
	switch r.Kind {
	case journal.ApplicationSubmitted:
		t.gov.apps[r.Ref] = appStub{ID: r.Ref, Key: r.Key, Session: r.Session}
	case journal.ApplicationAcknowledged, journal.ApplicationRefused:
		delete(t.gov.apps, r.Ref)
	case journal.RatingSubmitted:
		var pr pendingRating
		if json.Unmarshal(r.Data, &pr.Request) == nil {
			pr.Key = r.Key
			t.gov.ratings[r.Key] = pr
		}
	case journal.RatingAcknowledged, journal.RatingRefused:
		delete(t.gov.ratings, r.Key)
	}
}

// recoverGov checks that every pending application still has its sealed
// record, and purges sealed records the journal does not hold as pending
// (acknowledged before a purge finished, or sealed by a crash before they
// were journaled: the resident was never told those were sent).
func (t *Terminal) recoverGov() error {
	if t.cfg.Sealed == nil {
		if len(t.gov.apps) > 0 {
			t.log.Error("applications pending but no sealed store configured", "pending", len(t.gov.apps))
		}
		return nil
	}
	for id, st := range t.gov.apps {
		if _, err := t.loadApp(st); err != nil {
			t.log.Error("pending application lost its sealed record", "application", id, "err", err)
			t.appendLocked(journal.Record{Kind: journal.ApplicationRefused, Session: st.Session, Key: st.Key, Ref: id,
				Detail: "sealed record missing"})
			delete(t.gov.apps, id)
		}
	}
	ids, err := t.cfg.Sealed.IDs()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, ok := t.gov.apps[id]; !ok {
			if err := t.cfg.Sealed.Purge(id); err != nil {
				return err
			}
		}
	}
	if n := t.govQueuedLocked(); n > 0 {
		t.log.Info("recovered government-service work to forward", "applications", len(t.gov.apps), "ratings", len(t.gov.ratings))
		t.nudge()
	}
	return nil
}
