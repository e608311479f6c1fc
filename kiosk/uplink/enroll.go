package uplink

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Enrollment: POST /v1/enroll trades a one-time enrollment token
// for a terminal id, the site, the township and the configuration. The
// request carries the device's new public keys and is signed with each of
// them (keyid = the device id, which is also X-Terminal-Id for this call),
// proving the device holds the private halves.

// Error codes of POST /v1/enroll (all final).
const (
	CodeTokenUnknown = "token_unknown" // 403 no such enrollment token
	CodeTokenExpired = "token_expired" // 403 the token's time is up
	CodeTokenUsed    = "token_used"    // 403 the token enrolled another device or other keys
	CodeSM2Required  = "sm2_required"  // 422 the platform requires national crypto: send an SM2 key too (the token is not spent)
)

// Site kinds.
const (
	SiteBank       = "bank"
	SitePost       = "post"
	SiteHospital   = "hospital"
	SiteGovernment = "government"
	SiteCommunity  = "community"
	SiteOther      = "other"
)

// ValidSiteKind reports whether k is one of the site kinds.
func ValidSiteKind(k string) bool {
	return slices.Contains([]string{SiteBank, SitePost, SiteHospital, SiteGovernment, SiteCommunity, SiteOther}, k)
}

// PublicKeys are the device's public keys (EncodePublicKey form).
type PublicKeys struct {
	Ed25519 string `json:"ed25519"`
	SM2     string `json:"sm2,omitempty"`
}

// HardwareSummary tells the platform what the terminal is built of.
type HardwareSummary struct {
	Software string            `json:"software,omitempty"` // e.g. "kioskd v1.4.0"
	Devices  map[string]string `json:"devices,omitempty"`  // role → driver, e.g. billValidator → id003
}

// EnrollRequest is the body of POST /v1/enroll.
type EnrollRequest struct {
	Token      string          `json:"token"`
	DeviceID   string          `json:"deviceId"`
	PublicKeys PublicKeys      `json:"publicKeys"`
	Hardware   HardwareSummary `json:"hardware"`
}

// Validate checks the request's shape.
func (r EnrollRequest) Validate() error {
	switch {
	case len(r.Token) < 16 || len(r.Token) > 128:
		return errors.New("token must be 16..128 characters")
	case !ValidTerminalID(r.DeviceID):
		return errors.New("deviceId is invalid")
	}
	if _, err := ParsePublicKey(AlgEd25519, r.PublicKeys.Ed25519); err != nil {
		return err
	}
	if r.PublicKeys.SM2 != "" {
		if _, err := ParsePublicKey(AlgSM2SM3, r.PublicKeys.SM2); err != nil {
			return err
		}
	}
	return nil
}

// Site is where a terminal stands.
type Site struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Township is the township whose catalog a terminal serves.
type Township struct {
	Code string `json:"code"` // 9- or 12-digit administrative division code
	Name string `json:"name"`
}

// CatalogRef names the catalog the terminal should load for its township.
type CatalogRef struct {
	Township string `json:"township"`          // the township parameter of GET /v1/catalog
	Version  string `json:"version,omitempty"` // the version in force at enrollment, if the platform says
}

// TerminalConfig is the configuration the platform hands an enrolled
// terminal.
type TerminalConfig struct {
	// SignatureAlg is the algorithm every later request is signed with:
	// AlgEd25519, or AlgSM2SM3 for a platform that requires national crypto.
	SignatureAlg       string    `json:"signatureAlg"`
	SignatureSkewSec   int       `json:"signatureSkewSeconds"` // the platform's tolerance for created
	IdleTimeoutSec     int       `json:"idleTimeoutSeconds"`
	Utilities          []Utility `json:"utilities"`
	Locale             string    `json:"locale"` // e.g. zh-CN
	HeartbeatSec       int       `json:"heartbeatSeconds"`
	SupportPhone       string    `json:"supportPhone,omitempty"`
	CashAcceptLimitFen int64     `json:"cashAcceptLimitFen,omitempty"` // per session; 0 = no platform limit
}

// Enrollment is the reply to POST /v1/enroll.
type Enrollment struct {
	TerminalID string         `json:"terminalId"`
	DeviceID   string         `json:"deviceId"`
	Site       Site           `json:"site"`
	Township   Township       `json:"township"`
	Catalog    CatalogRef     `json:"catalog"`
	Config     TerminalConfig `json:"config"`
	EnrolledAt time.Time      `json:"enrolledAt"`
}

// Validate checks a reply.
func (e Enrollment) Validate() error {
	switch {
	case !ValidTerminalID(e.TerminalID):
		return fmt.Errorf("terminalId %q is invalid", e.TerminalID)
	case !ValidSiteKind(e.Site.Kind):
		return fmt.Errorf("site kind %q is unknown", e.Site.Kind)
	case e.Site.Name == "":
		return errors.New("site name is empty")
	case e.Township.Code == "" || e.Township.Name == "":
		return errors.New("township code or name is empty")
	case e.Config.SignatureAlg != AlgEd25519 && e.Config.SignatureAlg != AlgSM2SM3:
		return fmt.Errorf("signatureAlg %q is unknown", e.Config.SignatureAlg)
	case e.EnrolledAt.IsZero():
		return errors.New("enrolledAt missing")
	}
	return nil
}

// Enroll sends POST /v1/enroll. The client's TerminalID must be the device
// id and its Signer must hold every key of req.PublicKeys (the platform
// checks a signature by each). A resend of the same request (same token,
// device and keys) after a lost reply gets the same enrollment back (200);
// the first success is 201. Final errors: 403 token_unknown, token_expired,
// token_used; 422 sm2_required (send an SM2 key too; the token is not
// spent); 401 signature errors; 400.
func (c *Client) Enroll(ctx context.Context, req EnrollRequest) (Enrollment, error) {
	if req.DeviceID == "" {
		req.DeviceID = c.TerminalID
	}
	if req.DeviceID != c.TerminalID {
		return Enrollment{}, invalidArg("enroll: deviceId %q differs from client terminal id %q", req.DeviceID, c.TerminalID)
	}
	if err := req.Validate(); err != nil {
		return Enrollment{}, invalidArg("enroll: %v", err)
	}
	if c.Signer == nil {
		return Enrollment{}, invalidArg("enroll: the request must be signed with the new keys (set Client.Signer)")
	}
	var e Enrollment
	if err := c.send(ctx, "/v1/enroll", "", req, &e); err != nil {
		return Enrollment{}, fmt.Errorf("enroll %s: %w", req.DeviceID, err)
	}
	if err := e.Validate(); err != nil {
		return Enrollment{}, fmt.Errorf("enroll %s: %w", req.DeviceID, badReply(http.StatusOK, err.Error()))
	}
	if e.DeviceID != req.DeviceID {
		return Enrollment{}, fmt.Errorf("enroll %s: %w", req.DeviceID, badReply(http.StatusOK, "reply is for device "+e.DeviceID))
	}
	if e.Config.SignatureAlg == AlgSM2SM3 && req.PublicKeys.SM2 == "" {
		return Enrollment{}, fmt.Errorf("enroll %s: %w", req.DeviceID, badReply(http.StatusOK, "platform asks for sm2 signatures but has no sm2 key of this device"))
	}
	return e, nil
}
