package uplink_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

// TestOpenAPIFleetMatchesTypes: the fleet's schemas match the Go types
// field for field, and required = always sent.
func TestOpenAPIFleetMatchesTypes(t *testing.T) {
	schemas, doc := readSchemas(t)
	for name, v := range map[string]any{
		"Heartbeat":        uplink.Heartbeat{},
		"DeviceTelemetry":  uplink.DeviceTelemetry{},
		"CashBoxTelemetry": uplink.CashBoxTelemetry{},
		"HeartbeatAck":     uplink.HeartbeatAck{},
		"ConfigUpdate":     uplink.ConfigUpdate{},
		"ConfigBanner":     uplink.ConfigBanner{},
		"TerminalHealth":   refplatform.TerminalHealth{},
	} {
		s, ok := schemas[name]
		if !ok {
			t.Errorf("schema %s missing", name)
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
	for _, want := range []string{"/v1/heartbeat:", "/ref/terminals/{terminalId}/config:", "/ref/fleet:", "problems"} {
		if !strings.Contains(doc, want) {
			t.Errorf("openapi.yaml lacks %q", want)
		}
	}
}
