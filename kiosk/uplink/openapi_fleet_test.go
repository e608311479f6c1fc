package uplink_test

import (
	"testing"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

// TestOpenAPIFleetMatchesTypes: the fleet's schemas match the Go types
// field for field, and required = always sent.
func TestOpenAPIFleetMatchesTypes(t *testing.T) {
	schemas, doc := readSchemas(t)
	checkSchemas(t, schemas, map[string]any{
		"Heartbeat":        uplink.Heartbeat{},
		"DeviceTelemetry":  uplink.DeviceTelemetry{},
		"CashBoxTelemetry": uplink.CashBoxTelemetry{},
		"HeartbeatAck":     uplink.HeartbeatAck{},
		"ConfigUpdate":     uplink.ConfigUpdate{},
		"ConfigBanner":     uplink.ConfigBanner{},
		"TerminalHealth":   refplatform.TerminalHealth{},
	})
	checkDocHas(t, doc, "/v1/heartbeat:", "/ref/terminals/{terminalId}/config:", "/ref/fleet:", "problems")
}
