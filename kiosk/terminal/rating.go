package terminal

import (
	"context"
	"time"

	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// Rating (好差评): after a bill is paid, an application submitted or a
// case looked up, the resident may give one of five levels. The rating
// goes through the outbox, journaled with its idempotency key: the
// resident is thanked at once and may walk away, and a rating given while
// the platform is away, or just before a restart, still arrives, exactly
// once. It holds no personal data, so the journal keeps it whole.

// RatingView offers the rating on a done screen.
type RatingView struct {
	Service string        `json:"service"`
	Level   int           `json:"level,omitempty"` // given; 0 while not yet
	Levels  []uplink.Text `json:"levels"`          // names of levels 1..5
}

func (r RatingView) filled() *RatingView {
	r.Levels = make([]uplink.Text, 0, uplink.RatingMax)
	for l := uplink.RatingMin; l <= uplink.RatingMax; l++ {
		r.Levels = append(r.Levels, uplink.RatingLevelName(l))
	}
	return &r
}

// pendingRating is a journaled rating the platform has not acknowledged.
type pendingRating struct {
	Key     string
	Request uplink.RatingRequest
}

func (t *Terminal) rate(level int) error {
	if level < uplink.RatingMin || level > uplink.RatingMax {
		return errf("invalidData", "level must be %d to %d", uplink.RatingMin, uplink.RatingMax)
	}
	if _, ok := t.appsPlatform(); !ok {
		return errf("unsupportedCommand", "the platform takes no ratings")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.sess
	if ss == nil {
		return errf("sequenceError", "nothing to rate")
	}
	v := t.govViewLocked(ss)
	if v == nil || v.Rating == nil {
		return errf("sequenceError", "nothing to rate")
	}
	if v.Rating.Level != 0 {
		return errf("sequenceError", "already rated")
	}
	req := uplink.RatingRequest{TerminalID: t.cfg.TerminalID, Service: v.Rating.Service, Level: level, RatedAt: t.cfg.Now().UTC()}
	if err := req.Validate(); err != nil {
		return errf("invalidData", "%v", err)
	}
	pr := pendingRating{Key: uplink.NewIdempotencyKey(), Request: req}
	if _, err := t.cfg.Journal.Append(journal.Record{Kind: journal.RatingSubmitted, Session: ss.id, Key: pr.Key, Ref: req.Service,
		Amount: int64(level), Data: mustJSON(req)}); err != nil {
		t.log.Error("journal rating", "err", err)
		return errf("internalError", "journal unavailable")
	}
	t.gov.ratings[pr.Key] = pr
	if ss.gov == nil {
		ss.gov = &govFlow{} // a bill session keeps its rating here
	}
	ss.gov.rating = &RatingView{Service: req.Service, Level: level}
	t.touchLocked()
	t.publishLocked()
	t.nudge()
	return nil
}

// sendRating makes one attempt; a final refusal (already rated, a service
// the platform does not know) is journaled and dropped.
func (t *Terminal) sendRating(ctx context.Context, pr pendingRating) error {
	ap, _ := t.appsPlatform()
	cctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	_, err := ap.Rate(cctx, pr.Key, pr.Request)
	cancel()
	if err != nil && uplink.IsRetryable(err) {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, still := t.gov.ratings[pr.Key]; !still {
		return nil
	}
	rec := journal.Record{Kind: journal.RatingAcknowledged, Key: pr.Key, Ref: pr.Request.Service, Amount: int64(pr.Request.Level)}
	if err != nil {
		rec.Kind, rec.Detail = journal.RatingRefused, refusalCode(err)
		t.log.Warn("rating refused", "service", pr.Request.Service, "code", rec.Detail)
	}
	t.appendLocked(rec)
	delete(t.gov.ratings, pr.Key)
	return nil
}
