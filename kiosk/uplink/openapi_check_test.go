package uplink_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// checkSchemas holds each named schema of openapi.yaml to its Go type:
// the properties are exactly the type's JSON fields, and the required ones
// exactly those Go always sends (no omitempty). The schemas in optional
// have every field optional, so only their properties are compared.
func checkSchemas(t *testing.T, schemas map[string]*schemaInfo, types map[string]any, optional ...string) {
	t.Helper()
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
		if slices.Contains(optional, name) {
			continue
		}
		if !slices.Equal(slices.Sorted(slices.Values(always)), slices.Sorted(slices.Values(s.required))) {
			t.Errorf("%s: Go always sends %v, document requires %v", name, always, s.required)
		}
	}
}

// checkDocHas fails for each text the document lacks.
func checkDocHas(t *testing.T, doc string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(doc, want) {
			t.Errorf("openapi.yaml lacks %q", want)
		}
	}
}

// checkCodesFinal fails for each error code not documented on a line that
// says it is final (the terminal never retries it).
func checkCodesFinal(t *testing.T, doc string, codes ...string) {
	t.Helper()
	lines := strings.Split(doc, "\n")
	for _, code := range codes {
		if !slices.ContainsFunc(lines, func(l string) bool {
			return strings.Contains(l, "`"+code+"`") && strings.Contains(strings.ToLower(l), "final")
		}) {
			t.Errorf("error code %q has no line saying it is final", code)
		}
	}
}
