package uplink_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

// TestOpenAPIStaff keeps the partner-site staff part of openapi.yaml in
// step with the Go types.
func TestOpenAPIStaff(t *testing.T) {
	schemas, doc := readSchemas(t)
	types := map[string]any{
		"StaffSignInRequest":  uplink.StaffSignInRequest{},
		"StaffMember":         uplink.StaffMember{},
		"CashBoxLine":         uplink.CashBoxLine{},
		"CashBoxReport":       uplink.CashBoxReport{},
		"ShiftTopUp":          uplink.ShiftTopUp{},
		"ShiftRefund":         uplink.ShiftRefund{},
		"ShiftReport":         uplink.ShiftReport{},
		"StaffReportAck":      uplink.StaffReportAck{},
		"ReceivedStaffReport": refplatform.ReceivedStaffReport{},
		"StaffBadgeIssued":    refplatform.StaffBadgeIssued{},
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
		"/v1/staff/sign-in:", "/v1/staff/cashbox-reports:", "/v1/staff/shift-reports:", "/ref/staff-reports:", "/ref/staff/{staffId}/badge:",
		"tongban-staff:v1?s=", `pattern: "^[0-9]{4,8}$"`, "enum: [signOut, idle, restart]", "- name: staff",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("openapi.yaml lacks %q", want)
		}
	}
	lines := strings.Split(doc, "\n")
	for _, code := range []string{uplink.CodeBadgeInvalid, uplink.CodeStaffPINWrong} {
		if !slices.ContainsFunc(lines, func(l string) bool {
			return strings.Contains(l, "`"+code+"`") && strings.Contains(strings.ToLower(l), "final")
		}) {
			t.Errorf("error code %q has no line saying it is final", code)
		}
	}
}
