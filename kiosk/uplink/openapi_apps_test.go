package uplink_test

import (
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
	checkSchemas(t, schemas, types)
	checkDocHas(t, doc,
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
	)
	// The prefill sources listed are exactly the contract's.
	if !strings.Contains(doc, "enum: ["+strings.Join(uplink.PrefillSources(), ", ")+"]") {
		t.Errorf("openapi.yaml does not list the prefill sources %v", uplink.PrefillSources())
	}
	checkCodesFinal(t, doc,
		uplink.CodeTownshipNotFound, uplink.CodeMatterNotFound, uplink.CodeMatterNotOffered, uplink.CodeCounterOnly,
		uplink.CodeApplicationIncomplete, uplink.CodeApplicationConflict, uplink.CodePersonNotFound, uplink.CodeCaseNotFound,
		uplink.CodeServiceNotFound, uplink.CodeAlreadyRated,
	)
}
