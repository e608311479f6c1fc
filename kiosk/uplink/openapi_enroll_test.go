package uplink_test

import (
	"reflect"
	"slices"
	"strings"
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
	for name, v := range types {
		s, ok := schemas[name]
		if !ok {
			t.Errorf("schema %s missing from openapi.yaml", name)
			continue
		}
		all, always := jsonFields(reflect.TypeOf(v))
		if !slices.Equal(slices.Sorted(slices.Values(all)), slices.Sorted(slices.Values(s.props))) {
			t.Errorf("%s: Go fields %v, document properties %v", name, all, s.props)
		}
		if name == "EnrollmentTokenRequest" {
			continue // every field optional (demo defaults)
		}
		if !slices.Equal(slices.Sorted(slices.Values(always)), slices.Sorted(slices.Values(s.required))) {
			t.Errorf("%s: Go always sends %v, document requires %v", name, always, s.required)
		}
	}
	for _, want := range []string{
		"/v1/enroll:", "/ref/enrollment-tokens:", "/ref/enrollments:", "/ref/enrollments/{terminalId}/revoke:",
		"securitySchemes:", "deviceSignature:", "enrollmentProof:", "RFC 9421", "RFC 9530",
		`"@method" "@path" "@query" "content-digest"`, `"x-terminal-id" "idempotency-key"`,
		uplink.SignatureTag, uplink.AlgEd25519, uplink.AlgSM2SM3, "1234567812345678", "within 5",
		"enum: [bank, post, hospital, government, community, other]",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("openapi.yaml lacks %q", want)
		}
	}
	if uplink.DefaultSignatureSkew.Minutes() != 5 {
		t.Error("the documented skew is 5 minutes")
	}
	lines := strings.Split(doc, "\n")
	for _, code := range []string{
		uplink.CodeSignatureRequired, uplink.CodeSignatureInvalid, uplink.CodeSignatureExpired, uplink.CodeSignatureReplayed,
		uplink.CodeDigestMismatch, uplink.CodeTerminalUnknown, uplink.CodeTerminalRevoked,
		uplink.CodeTokenUnknown, uplink.CodeTokenExpired, uplink.CodeTokenUsed, uplink.CodeSM2Required,
	} {
		if !slices.ContainsFunc(lines, func(l string) bool {
			return strings.Contains(l, "`"+code+"`") && strings.Contains(strings.ToLower(l), "final")
		}) {
			t.Errorf("error code %q has no line saying it is final", code)
		}
	}
}
