package uplink_test

import (
	"testing"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

// TestOpenAPIEnrollment keeps the enrollment and signing part of
// openapi.yaml in step with the Go types and constants.
func TestOpenAPIEnrollment(t *testing.T) {
	schemas, doc := readSchemas(t)
	types := map[string]any{
		"Site":                   uplink.Site{},
		"Township":               uplink.Township{},
		"PublicKeys":             uplink.PublicKeys{},
		"HardwareSummary":        uplink.HardwareSummary{},
		"EnrollRequest":          uplink.EnrollRequest{},
		"CatalogRef":             uplink.CatalogRef{},
		"TerminalConfig":         uplink.TerminalConfig{},
		"Enrollment":             uplink.Enrollment{},
		"EnrollmentTokenRequest": refplatform.EnrollmentTokenRequest{},
		"EnrollmentToken":        refplatform.EnrollmentToken{},
		"EnrolledTerminal":       refplatform.EnrolledTerminal{},
	}
	checkSchemas(t, schemas, types, "EnrollmentTokenRequest")
	checkDocHas(t, doc,
		"/v1/enroll:", "/ref/enrollment-tokens:", "/ref/enrollments:", "/ref/enrollments/{terminalId}/revoke:",
		"securitySchemes:", "deviceSignature:", "enrollmentProof:", "RFC 9421", "RFC 9530",
		`"@method" "@path" "@query" "content-digest"`, `"x-terminal-id" "idempotency-key"`,
		uplink.SignatureTag, uplink.AlgEd25519, uplink.AlgSM2SM3, "1234567812345678", "within 5",
		"enum: [bank, post, hospital, government, community, other]",
	)
	if uplink.DefaultSignatureSkew.Minutes() != 5 {
		t.Error("the documented skew is 5 minutes")
	}
	checkCodesFinal(t, doc,
		uplink.CodeSignatureRequired, uplink.CodeSignatureInvalid, uplink.CodeSignatureExpired, uplink.CodeSignatureReplayed,
		uplink.CodeDigestMismatch, uplink.CodeTerminalUnknown, uplink.CodeTerminalRevoked,
		uplink.CodeTokenUnknown, uplink.CodeTokenExpired, uplink.CodeTokenUsed, uplink.CodeSM2Required,
	)
}
