package refplatform

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	bolt "go.etcd.io/bbolt"

	"tongban/kiosk/uplink"
)

// Ratings (好差评): one rating per service, exactly once per
// Idempotency-Key. The service must be one this terminal delivered: a paid
// bill (its paymentId) or a case (its caseId).

type ratingRecord struct {
	Seq         uint64        `json:"seq"`
	Rating      uplink.Rating `json:"rating"`
	RequestHash string        `json:"requestHash"`
}

// rate records a rating; created is false for a replay, which returns the
// identical rating.
func (s *store) rate(key string, req uplink.RatingRequest, e reqEnv) (uplink.Rating, bool, error) {
	hash, err := hashJSON(req.Canonical())
	if err != nil {
		return uplink.Rating{}, false, err
	}
	var rec ratingRecord
	created := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		replay, err := lookupOp(tx, key, opRatingCreate, req.Service, hash)
		if err != nil {
			return err
		}
		prev := tx.Bucket(bucketRatingSvc).Get([]byte(req.Service))
		switch {
		case replay && prev == nil:
			return fmt.Errorf("rating of %s: dedupe record without rating", req.Service)
		case replay:
			_, err := getJSON(tx, bucketRatings, prev, &rec)
			return err
		}
		// Ownership first: another terminal learns nothing, not even "rated".
		if err := serviceOf(tx, req.Service, req.TerminalID); err != nil {
			return err
		}
		if prev != nil {
			return fmt.Errorf("%s: %w", req.Service, errAlreadyRated)
		}
		seq, err := nextSeq(tx, bucketRatings)
		if err != nil {
			return err
		}
		id := "R" + randomCode(12)
		rec = ratingRecord{
			Seq: seq,
			Rating: uplink.Rating{RatingID: id, TerminalID: req.TerminalID, Service: req.Service, Level: req.Level,
				Comment: req.Comment, RatedAt: req.RatedAt.UTC(), ReceivedAt: e.now, FollowUp: req.Level <= 2},
			RequestHash: hash,
		}
		created = true
		if err := putJSON(tx, bucketRatings, []byte(id), rec); err != nil {
			return err
		}
		if err := tx.Bucket(bucketRatingSvc).Put([]byte(req.Service), []byte(id)); err != nil {
			return fmt.Errorf("put rating service: %w", err)
		}
		return putOp(tx, key, opRatingCreate, req.Service, hash)
	})
	if err != nil {
		return uplink.Rating{}, false, err
	}
	return rec.Rating, created, nil
}

// serviceOf checks that service is a paid bill or a case of terminal.
func serviceOf(tx *bolt.Tx, service, terminal string) error {
	kind, id, _ := uplink.ParseService(service) // validated by the caller
	owner := ""
	switch kind {
	case uplink.ServiceBill:
		p, err := getPayment(tx, []byte(id))
		if errors.Is(err, errPaymentNotFound) {
			return fmt.Errorf("%s: %w", service, errServiceNotFound)
		} else if err != nil {
			return err
		}
		owner = p.Payment.TerminalID
	case uplink.ServiceCase:
		c, err := getCase(tx, id)
		if errors.Is(err, errCaseNotFound) {
			return fmt.Errorf("%s: %w", service, errServiceNotFound)
		} else if err != nil {
			return err
		}
		owner = c.Case.TerminalID
	}
	if owner != terminal {
		return fmt.Errorf("%s: %w", service, errServiceNotFound) // another terminal's service is none of this one's
	}
	return nil
}

func (s *store) ratings() ([]uplink.Rating, error) {
	var recs []ratingRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRatings).ForEach(func(k, v []byte) error {
			var rec ratingRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode rating %s: %w", k, err)
			}
			recs = append(recs, rec)
			return nil
		})
	})
	slices.SortFunc(recs, func(a, b ratingRecord) int { return cmp.Compare(a.Seq, b.Seq) })
	out := make([]uplink.Rating, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Rating)
	}
	return out, err
}

// Ratings lists every rating received, oldest first.
func (s *Server) Ratings() ([]uplink.Rating, error) {
	r, err := s.store.ratings()
	if err != nil {
		return nil, fmt.Errorf("refplatform: list ratings: %w", err)
	}
	return r, nil
}

func (s *Server) handleCreateRating(w http.ResponseWriter, r *http.Request) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var req uplink.RatingRequest
	if !decodeValid(w, r, &req, func() string { return req.TerminalID }) {
		return
	}
	rt, created, err := s.store.rate(key, req, s.env(r))
	if err != nil {
		s.log.Warn("refplatform: rating refused", "key", key, "service", req.Service, "err", err)
		s.appError(w, r, err)
		return
	}
	if !created {
		w.Header().Set(uplink.HeaderIdempotentReplayed, "true")
		writeJSON(w, http.StatusOK, rt)
		return
	}
	// The comment is the resident's free text: it is stored, never logged.
	s.log.Info("refplatform: rating received", "ratingId", rt.RatingID, "key", key, "terminal", rt.TerminalID,
		"service", rt.Service, "level", rt.Level, "followUp", rt.FollowUp)
	writeJSON(w, http.StatusCreated, rt)
}

func (s *Server) handleRefRatings(w http.ResponseWriter, r *http.Request) {
	rs, err := s.store.ratings()
	if err != nil {
		s.appError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rs)
}
