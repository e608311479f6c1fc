package uplink_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

// TestOpenAPIMatchesAppTypes extends TestOpenAPIMatchesTypes to the
// catalog, persons, applications, cases and ratings: every schema has
// exactly the Go type's JSON fields, required exactly when Go always
// sends them; every path is there; every new error code is documented as
// final.
func TestOpenAPIMatchesAppTypes(t *testing.T) {
	schemas, doc := readSchemas(t)
	types := map[string]any{
		"Text":                   uplink.Text{},
		"Material":               uplink.Material{},
		"FieldOption":            uplink.FieldOption{},
		"FormField":              uplink.FormField{},
		"ServicePoint":           uplink.ServicePoint{},
		"CounterInfo":            uplink.CounterInfo{},
		"Matter":                 uplink.Matter{},
		"Catalog":                uplink.Catalog{},
		"Applicant":              uplink.Applicant{},
		"ApplicationRequest":     uplink.ApplicationRequest{},
		"MissingItem":            uplink.MissingItem{},
		"ApplicationErrorBody":   uplink.ApplicationErrorBody{},
		"ApplicationErrorDetail": uplink.ApplicationErrorDetail{},
		"Licence":                uplink.Licence{},
		"History":                uplink.History{},
		"PersonLookup":           uplink.PersonLookup{},
		"Person":                 uplink.Person{},
		"PreviousApplication":    uplink.PreviousApplication{},
		"CaseEvent":              uplink.CaseEvent{},
		"Case":                   uplink.Case{},
		"CaseList":               uplink.CaseList{},
		"RatingRequest":          uplink.RatingRequest{},
		"Rating":                 uplink.Rating{},
		"TerminalBinding":        refplatform.TerminalBinding{},
		"TerminalBindRequest":    refplatform.TerminalBindRequest{},
		"ReceivedCase":           refplatform.ReceivedCase{},
		"CaseAdvanceRequest":     refplatform.CaseAdvanceRequest{},
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
		if !slices.Equal(slices.Sorted(slices.Values(always)), slices.Sorted(slices.Values(s.required))) {
			t.Errorf("%s: Go always sends %v, document requires %v", name, always, s.required)
		}
	}
	for _, want := range []string{
		"/v1/catalog:", "/v1/persons/lookup:", "/v1/applications:", "/v1/cases/{caseId}:", "/v1/cases/lookup:", "/v1/ratings:",
		"/ref/terminals:", "/ref/terminals/{terminalId}:", "/ref/cases:", "/ref/cases/{caseId}/advance:", "/ref/ratings:", "/track/{caseId}:",
		"name: If-None-Match", `"304":`, "ETag:",
		"enum: [entrustedHandling, entrustedAcceptance]", "enum: [apply, pay, counter]",
		"enum: [idCard, licence, form, inPerson]", "enum: [text, date, select, idNumber, phone]",
		"enum: [licensing, confirmation, benefit, publicService, other]",
		"enum: [accepted, reviewing, approved, rejected, ready]", "enum: [field, material, licence]",
		"enum: [missing, invalid, unknown, expired, notLinked]",
		`pattern: "^C[0-9A-Z]{16}$"`, `pattern: "^[0-9]{4}-[A-Z]{2}-[0-9]{6}$"`,
		"一次性告知", "委托办理", "委托受理", "一乡镇一清单", "有进有出", "好差评",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("openapi.yaml lacks %q", want)
		}
	}
	// The prefill sources listed are exactly the contract's.
	if !strings.Contains(doc, "enum: ["+strings.Join(uplink.PrefillSources(), ", ")+"]") {
		t.Errorf("openapi.yaml does not list the prefill sources %v", uplink.PrefillSources())
	}
	lines := strings.Split(doc, "\n")
	for _, code := range []string{
		uplink.CodeTownshipNotFound, uplink.CodeMatterNotFound, uplink.CodeMatterNotOffered, uplink.CodeCounterOnly,
		uplink.CodeApplicationIncomplete, uplink.CodeApplicationConflict, uplink.CodePersonNotFound, uplink.CodeCaseNotFound,
		uplink.CodeServiceNotFound, uplink.CodeAlreadyRated,
	} {
		if !slices.ContainsFunc(lines, func(l string) bool {
			return strings.Contains(l, "`"+code+"`") && strings.Contains(strings.ToLower(l), "final")
		}) {
			t.Errorf("error code %q has no line saying it is final", code)
		}
	}
}
