package uplink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Client methods for the township catalog, person look-ups, applications,
// cases and ratings. They classify errors exactly like Pay: IsRetryable,
// IsFinal, and a 2xx reply that cannot be used is a retryable bad_reply.
// No method ever puts an ID number into a URL.

// Catalog fetches the list of matters in force in township at instant at.
// An empty township means the terminal's own (the platform binds each
// terminal to one); a zero at means now. known is the Version the terminal
// holds, "" for none: when the list in force still has that version the
// platform answers 304 and Catalog returns changed false and no catalog.
// Otherwise it returns the whole catalog, to be swapped in in one step.
func (c *Client) Catalog(ctx context.Context, township string, at time.Time, known string) (cat Catalog, changed bool, err error) {
	if township != "" && !ValidToken(township) {
		return Catalog{}, false, invalidArg("township %q is invalid", township)
	}
	if known != "" && !validVersion(known) {
		return Catalog{}, false, invalidArg("known version %q is invalid", known)
	}
	q := url.Values{}
	if township != "" {
		q.Set("township", township)
	}
	if !at.IsZero() {
		q.Set("at", at.UTC().Format(time.RFC3339Nano))
	}
	path := "/v1/catalog"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var hdr []string
	if known != "" {
		hdr = []string{"If-None-Match", `"` + known + `"`}
	}
	op := "catalog " + township
	if _, err := c.do(ctx, http.MethodGet, path, nil, "", &cat, hdr...); err != nil {
		if e, ok := errors.AsType[*Error](err); ok && e.Status == http.StatusNotModified && known != "" {
			return Catalog{}, false, nil
		}
		return Catalog{}, false, fmt.Errorf("%s: %w", op, err)
	}
	if err := cat.Validate(); err != nil {
		return Catalog{}, false, fmt.Errorf("%s: %w", op, badReply(http.StatusOK, err.Error()))
	}
	switch {
	case township != "" && cat.Township != township:
		return Catalog{}, false, fmt.Errorf("%s: %w", op, badReply(http.StatusOK, "reply is the catalog of "+cat.Township))
	case !at.IsZero() && !cat.At.Equal(at):
		return Catalog{}, false, fmt.Errorf("%s: %w", op, badReply(http.StatusOK, "reply is the catalog at "+cat.At.Format(time.RFC3339)))
	}
	return cat, true, nil
}

// LookupPerson asks the platform what it knows of the person whose ID
// card was read: history for pre-filling, linked electronic licences and
// earlier applications. The number travels in the body only. A 404
// (person_not_found, final) means no record of this name and number: fill
// the form from the card alone.
func (c *Client) LookupPerson(ctx context.Context, req PersonLookup) (Person, error) {
	if err := c.ownTerminal(&req.TerminalID); err != nil {
		return Person{}, err
	}
	if err := req.Validate(); err != nil {
		return Person{}, invalidArg("%v", err)
	}
	var p Person
	if err := c.send(ctx, "/v1/persons/lookup", "", req, &p); err != nil {
		return Person{}, fmt.Errorf("person lookup %s: %w", req, err)
	}
	if err := p.Validate(); err != nil {
		return Person{}, fmt.Errorf("person lookup %s: %w", req, badReply(http.StatusOK, err.Error()))
	}
	return p, nil
}

// SubmitApplication sends an application under the Idempotency-Key the
// outbox keeps with it. 201 (new) and 200 (replay) both return the case
// as it is now. Final errors with details come as *ApplicationError:
// 422 application_incomplete carries the complete list of what is
// missing, 409 counter_only where and when the matter is handled instead.
// Other final errors: 404 matter or township unknown, 409
// matter_not_offered, application_conflict, 422 idempotency_key_reused.
// On a retryable error resend the same key and request.
func (c *Client) SubmitApplication(ctx context.Context, key string, req ApplicationRequest) (Case, error) {
	if err := c.checkSend(key, &req.TerminalID, &req); err != nil {
		return Case{}, err
	}
	if req.Fields == nil {
		req.Fields = map[string]string{} // the contract wants {}, not null
	}
	if req.AttachedLicences == nil {
		req.AttachedLicences = []string{}
	}
	op := "submit application " + req.ApplicationID
	var cs Case
	if err := c.send(ctx, "/v1/applications", key, req, &cs); err != nil {
		return Case{}, fmt.Errorf("%s: %w", op, applicationError(err))
	}
	if err := cs.Validate(); err != nil {
		return Case{}, fmt.Errorf("%s: %w", op, badReply(http.StatusOK, err.Error()))
	}
	if cs.ApplicationID != req.ApplicationID || cs.MatterID != req.MatterID || cs.Township != req.Township || cs.TerminalID != req.TerminalID {
		return Case{}, fmt.Errorf("%s: %w", op, badReply(http.StatusOK,
			fmt.Sprintf("reply is case %s for application %s, matter %s in %s from %s", cs.CaseID, cs.ApplicationID, cs.MatterID, cs.Township, cs.TerminalID)))
	}
	return cs, nil
}

// applicationError turns a final reply that carries application details
// into an *ApplicationError wrapping the *Error; anything else is returned
// as it is.
func applicationError(err error) error {
	e, ok := errors.AsType[*Error](err)
	if !ok || e.Retryable || (e.Code != CodeApplicationIncomplete && e.Code != CodeCounterOnly) {
		return err
	}
	var body ApplicationErrorBody
	if json.Unmarshal(e.body, &body) != nil {
		return err
	}
	ae := &ApplicationError{Err: e}
	for _, m := range body.Error.Missing {
		if m.Validate() == nil {
			ae.Missing = append(ae.Missing, m)
		}
	}
	if ci := body.Error.Counter; ci != nil && ci.Validate() == nil {
		ae.Counter = ci
	}
	return ae
}

// Case fetches a case by its id (from the receipt's tracking QR:
// CaseIDFromTrackURL). Any terminal may ask: the id is the capability.
func (c *Client) Case(ctx context.Context, caseID string) (Case, error) {
	if !ValidCaseID(caseID) {
		return Case{}, invalidArg("caseId %q is not C and 16 of A-Z 0-9", caseID)
	}
	var cs Case
	if _, err := c.do(ctx, http.MethodGet, "/v1/cases/"+url.PathEscape(caseID), nil, "", &cs); err != nil {
		return Case{}, fmt.Errorf("case %s: %w", caseID, err)
	}
	if err := cs.Validate(); err != nil {
		return Case{}, fmt.Errorf("case %s: %w", caseID, badReply(http.StatusOK, err.Error()))
	}
	if cs.CaseID != caseID {
		return Case{}, fmt.Errorf("case %s: %w", caseID, badReply(http.StatusOK, "reply is case "+cs.CaseID))
	}
	return cs, nil
}

// CasesByPerson lists the cases of the person whose ID card was read,
// newest first (at most MaxCaseList); none is an empty list.
func (c *Client) CasesByPerson(ctx context.Context, req PersonLookup) ([]Case, error) {
	if err := c.ownTerminal(&req.TerminalID); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, invalidArg("%v", err)
	}
	var list CaseList
	if err := c.send(ctx, "/v1/cases/lookup", "", req, &list); err != nil {
		return nil, fmt.Errorf("case lookup %s: %w", req, err)
	}
	if list.Cases == nil || len(list.Cases) > MaxCaseList {
		return nil, fmt.Errorf("case lookup %s: %w", req, badReply(http.StatusOK, fmt.Sprintf("cases missing or more than %d", MaxCaseList)))
	}
	for _, cs := range list.Cases {
		if err := cs.Validate(); err != nil {
			return nil, fmt.Errorf("case lookup %s: %w", req, badReply(http.StatusOK, err.Error()))
		}
	}
	return list.Cases, nil
}

// Rate sends a resident's rating under the Idempotency-Key the outbox
// keeps with it; 201 (new) and 200 (replay) return the recorded rating.
// Send it after the service it rates was acknowledged: a rating of a
// service the platform does not know (yet) is 404 service_not_found.
// Final errors: 404 service_not_found, 409 already_rated, 422
// idempotency_key_reused.
func (c *Client) Rate(ctx context.Context, key string, req RatingRequest) (Rating, error) {
	if err := c.checkSend(key, &req.TerminalID, &req); err != nil {
		return Rating{}, err
	}
	op := "rate " + req.Service
	var r Rating
	if err := c.send(ctx, "/v1/ratings", key, req, &r); err != nil {
		return Rating{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := r.Validate(); err != nil {
		return Rating{}, fmt.Errorf("%s: %w", op, badReply(http.StatusOK, err.Error()))
	}
	if r.Service != req.Service || r.Level != req.Level || r.TerminalID != req.TerminalID {
		return Rating{}, fmt.Errorf("%s: %w", op, badReply(http.StatusOK,
			fmt.Sprintf("reply is a level %d rating of %s from %s", r.Level, r.Service, r.TerminalID)))
	}
	return r, nil
}
