package journal

// Kinds of government-service applications and ratings
// (kiosk/terminal/apply.go, rating.go). An application's record carries
// masked identifiers only; the full request waits encrypted in
// kiosk/sealed until the platform acknowledges it.
const (
	// ApplicationSubmitted: the resident confirmed (Key: the idempotency
	// key, fixed here; Ref: the application id; Detail: the matter id;
	// Data: a masked summary).
	ApplicationSubmitted Kind = "application.submitted"
	// ApplicationAcknowledged: the platform opened a case (Ref: the
	// application id; Detail: the case number; Data: case id and number).
	ApplicationAcknowledged Kind = "application.acknowledged"
	// ApplicationRefused: a final refusal (Ref: the application id;
	// Detail: the platform's error code).
	ApplicationRefused Kind = "application.refused"
	// RatingSubmitted: a resident's 好差评 (Key, Ref: the service rated,
	// Amount: the level, Data: the request, which holds no personal data).
	RatingSubmitted    Kind = "rating.submitted"
	RatingAcknowledged Kind = "rating.acknowledged"
	RatingRefused      Kind = "rating.refused"
)
