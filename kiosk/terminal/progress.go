package terminal

import (
	"context"
	"time"

	"tongban/kiosk/uplink"
)

// Progress: the resident scans the tracking QR of an application receipt
// on the terminal's scanner, or places the ID card, and sees the case(s)
// and their timeline as the platform has them now.

func (t *Terminal) startProgress() error {
	if _, ok := t.appsPlatform(); !ok {
		return errf("unsupportedCommand", "the platform does not track cases")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ss, err := t.govSessionLocked(ScreenProgress)
	if err != nil {
		return err
	}
	t.forgetPersonLocked(ss)
	ss.gov.matter, ss.gov.app, ss.gov.rating = nil, nil, nil
	// The card is read whenever it is placed; a scan works at any time.
	t.readCardLocked(ss, "progress")
	t.publishLocked()
	return nil
}

// scannedCase takes a tracking URL read by the scanner. It reports false
// for anything else. A scan at the home screen opens the look-up by
// itself; during another service it is ignored.
func (t *Terminal) scannedCase(text string) bool {
	id, ok := uplink.CaseIDFromTrackURL(text)
	if !ok {
		return false
	}
	ap, ok := t.appsPlatform()
	if !ok {
		return true
	}
	t.mu.Lock()
	ss := t.sess
	if ss != nil && ss.screen != ScreenProgress && ss.screen != ScreenProgressResult && (ss.gov == nil || ss.screen == ScreenApplySubmitting) {
		t.mu.Unlock()
		t.log.Info("tracking code ignored: another service is in progress")
		return true
	}
	ss, err := t.govSessionLocked(ScreenProgress)
	if err != nil {
		t.mu.Unlock()
		t.log.Info("tracking code ignored", "err", err)
		return true
	}
	t.stopReadLocked(ss)
	t.forgetPersonLocked(ss)
	ss.gov.matter, ss.gov.app, ss.gov.rating = nil, nil, nil
	ss.busy = "caseLookup"
	t.publishLocked()
	ctx := t.runCtx
	t.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	cs, err := ap.Case(cctx, id)
	cancel()
	var list []uplink.Case
	if err == nil {
		list = []uplink.Case{cs}
	}
	t.showCases(ss, list, err)
	return true
}

func (t *Terminal) showCasesByPerson(ctx context.Context, ss *session, ap AppsPlatform, who uplink.PersonLookup) {
	t.mu.Lock()
	if t.sess != ss {
		t.mu.Unlock()
		return
	}
	ss.busy = "caseLookup"
	ss.gov.reading = false
	t.publishLocked()
	t.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	list, err := ap.CasesByPerson(cctx, who)
	cancel()
	t.showCases(ss, list, err)
}

func (t *Terminal) showCases(ss *session, list []uplink.Case, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sess != ss || ss.gov == nil {
		return
	}
	ss.busy = ""
	switch {
	case err != nil && uplink.IsRetryable(err):
		t.online = false
		ss.notice = &Notice{Code: "platformOffline", Message: "the county platform cannot be reached"}
	case err != nil && uplink.IsNotFound(err):
		ss.notice = &Notice{Code: "caseUnknown", Message: "no such case"}
	case err != nil:
		t.log.Warn("case look-up refused", "err", err)
		ss.notice = &Notice{Code: "lookupFailed", Message: "the case could not be looked up"}
	case len(list) == 0:
		ss.notice = &Notice{Code: "noCases", Message: "no applications on record for this person"}
	default:
		ss.notice = nil
		ss.gov.cases = nil
		for _, c := range list {
			ss.gov.cases = append(ss.gov.cases, caseView(c))
		}
		ss.gov.rating = &RatingView{Service: uplink.CaseService(list[0].CaseID)}
		ss.screen = ScreenProgressResult
	}
	if ss.screen == ScreenProgress && ss.gov.cancelRead == nil {
		// A scan that found nothing: the card may still be placed. (After
		// a card look-up the read is not re-armed: the card still lies on
		// the reader and would be looked up again and again.)
		t.readCardLocked(ss, "progress")
	}
	t.touchLocked()
	t.publishLocked()
}
