package uplink_test

import (
	"bufio"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

// schemaInfo is what the test reads from one schema of openapi.yaml.
type schemaInfo struct {
	props    []string
	required []string
}

// readSchemas is a minimal reader for the layout of openapi.yaml (2-space
// indents, "required: [a, b]" on one line). It is no YAML parser, but it
// fails loudly if the layout it relies on changes.
func readSchemas(t *testing.T) (map[string]*schemaInfo, string) {
	t.Helper()
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatalf("read openapi.yaml: %v", err)
	}
	doc := string(raw)
	if !strings.HasPrefix(doc, "openapi: 3.1.") {
		t.Fatal("openapi.yaml is not OpenAPI 3.1")
	}
	out := map[string]*schemaInfo{}
	var cur *schemaInfo
	inSchemas, inProps := false, false
	sc := bufio.NewScanner(strings.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "\t") {
			t.Fatalf("tab in openapi.yaml: %q", line)
		}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case indent == 2 && trimmed == "schemas:":
			inSchemas = true
			continue
		case indent <= 2:
			inSchemas = false
		}
		if !inSchemas {
			continue
		}
		switch {
		case indent == 4 && strings.HasSuffix(trimmed, ":"):
			cur = &schemaInfo{}
			out[strings.TrimSuffix(trimmed, ":")] = cur
			inProps = false
		case indent == 6 && cur != nil:
			inProps = trimmed == "properties:"
			if rest, ok := strings.CutPrefix(trimmed, "required: "); ok {
				rest = strings.Trim(rest, "[]")
				for _, f := range strings.Split(rest, ",") {
					cur.required = append(cur.required, strings.TrimSpace(f))
				}
			}
		case indent == 8 && inProps && strings.HasSuffix(trimmed, ":"):
			cur.props = append(cur.props, strings.TrimSuffix(trimmed, ":"))
		}
	}
	return out, doc
}

// jsonFields lists a struct's JSON names; the ones without omitempty are
// the ones the Go side always sends.
func jsonFields(typ reflect.Type) (all, always []string) {
	for f := range typ.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") {
			always = append(always, name)
		}
	}
	return all, always
}

func TestOpenAPIMatchesTypes(t *testing.T) {
	schemas, doc := readSchemas(t)
	types := map[string]any{
		"Bill":            uplink.Bill{},
		"Note":            uplink.Note{},
		"PaymentRequest":  uplink.PaymentRequest{},
		"Payment":         uplink.Payment{},
		"Health":          uplink.Health{},
		"ErrorBody":       uplink.ErrorBody{},
		"ErrorDetail":     uplink.ErrorDetail{},
		"Faults":          refplatform.Faults{},
		"ReceivedPayment": refplatform.ReceivedPayment{},
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
		if name == "Faults" {
			continue // every setting is optional
		}
		// Required in the document = always sent by Go (no omitempty).
		if !slices.Equal(slices.Sorted(slices.Values(always)), slices.Sorted(slices.Values(s.required))) {
			t.Errorf("%s: Go always sends %v, document requires %v", name, always, s.required)
		}
	}
	for _, want := range []string{
		"/v1/bills/{utility}/{account}:", "/v1/payments:", "/v1/payments/{paymentId}:", "/v1/health:",
		"/ref/payments:", "/ref/accounts:", "/ref/faults:", "/verify/{paymentId}:",
		"Idempotency-Key", "Idempotent-Replayed", "X-Terminal-Id", "name: idempotencyKey",
		"enum: [water, electricity, gas, heating]", `pattern: "^[0-9]{6,20}$"`,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("openapi.yaml lacks %q", want)
		}
	}
	// Every error code the platform may send is documented.
	for _, code := range []string{
		uplink.CodeBadRequest, uplink.CodeMissingTerminalID, uplink.CodeBadIdempotencyKey,
		uplink.CodeAccountNotFound, uplink.CodePaymentNotFound, uplink.CodeNotFound, uplink.CodeBillMismatch,
		uplink.CodeIdempotencyReused, uplink.CodeRateLimited, uplink.CodeInternal, uplink.CodeUnavailable, uplink.CodeTimeout,
	} {
		if !strings.Contains(doc, code) {
			t.Errorf("error code %q not documented", code)
		}
	}
}
