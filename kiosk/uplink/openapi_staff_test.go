package uplink_test

import (
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
	checkSchemas(t, schemas, types)
	checkDocHas(t, doc,
		"/v1/staff/sign-in:", "/v1/staff/cashbox-reports:", "/v1/staff/shift-reports:", "/ref/staff-reports:", "/ref/staff/{staffId}/badge:",
		"tongban-staff:v1?s=", `pattern: "^[0-9]{4,8}$"`, "enum: [signOut, idle, restart]", "- name: staff",
	)
	checkCodesFinal(t, doc, uplink.CodeBadgeInvalid, uplink.CodeStaffPINWrong)
}
