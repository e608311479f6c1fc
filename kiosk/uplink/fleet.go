package uplink

// Fleet: the terminal's heartbeat with its telemetry, and the versioned
// configuration the platform hands back in the heartbeat's reply
// (openapi.yaml, "Fleet: heartbeat and configuration").

import (
	"context"
	"fmt"
	"time"
)

// Heartbeat is what a terminal reports every heartbeat interval.
type Heartbeat struct {
	SentAt   time.Time `json:"sentAt"`
	Software string    `json:"software"`
	// ConfigVersion is the configuration version in force (0: none yet).
	ConfigVersion int64 `json:"configVersion"`
	UptimeSeconds int64 `json:"uptimeSeconds"`
	// OutboxDepth counts journaled payments and vouchers the platform has
	// not acknowledged.
	OutboxDepth int               `json:"outboxDepth"`
	Devices     []DeviceTelemetry `json:"devices"`
	// Paper is the receipt printer's paper: ok, low, out or unknown.
	Paper   string           `json:"paper"`
	CashBox CashBoxTelemetry `json:"cashBox"`
}

// DeviceTelemetry is one device's state.
type DeviceTelemetry struct {
	Role        string           `json:"role"`
	Driver      string           `json:"driver"`
	State       string           `json:"state"` // XFS4IoT: online, offline, noDevice, hardwareError, userError, busy, starting
	Detail      string           `json:"detail,omitempty"`
	Counters    map[string]int64 `json:"counters,omitempty"`
	LastError   string           `json:"lastError,omitempty"`
	LastErrorAt *time.Time       `json:"lastErrorAt,omitempty"`
}

// CashBoxTelemetry is the bill validator's cash box as the journal counts it.
type CashBoxTelemetry struct {
	Notes  int   `json:"notes"`
	Amount int64 `json:"amount"` // fen
	// Capacity is the box's capacity in notes (0: unknown); Level is
	// Notes/Capacity in percent, -1 when unknown.
	Capacity int `json:"capacity"`
	Level    int `json:"level"`
}

// HeartbeatAck is the platform's reply: configurations newer than the
// terminal's, oldest first, each to apply at its effectiveAt.
type HeartbeatAck struct {
	ReceivedAt time.Time      `json:"receivedAt"`
	Configs    []ConfigUpdate `json:"configs"`
}

// ConfigUpdate is a version of a terminal's configuration, which the
// platform may change while the terminal runs (TerminalConfig is what
// enrollment hands over). Zero fields
// keep the terminal's current value; Banner nil removes the notice.
type ConfigUpdate struct {
	Version     int64     `json:"version"`
	EffectiveAt time.Time `json:"effectiveAt"`
	// IdleTimeoutSeconds: an untouched session ends after this.
	IdleTimeoutSeconds int `json:"idleTimeoutSeconds,omitempty"`
	// OfflinePerPayment and OfflineTotal cap cash taken while the platform
	// is unreachable (fen).
	OfflinePerPayment int64 `json:"offlinePerPayment,omitempty"`
	OfflineTotal      int64 `json:"offlineTotal,omitempty"`
	HeartbeatSeconds  int   `json:"heartbeatSeconds,omitempty"`
	// Banner is a notice on the home screen.
	Banner *ConfigBanner `json:"banner,omitempty"`
}

// ConfigBanner is the notice's text, Chinese and (optionally) English.
type ConfigBanner struct {
	Zh string `json:"zh"`
	En string `json:"en,omitempty"`
}

// SendHeartbeat posts a heartbeat (signed like every request of an
// enrolled terminal) and returns the platform's reply.
func (c *Client) SendHeartbeat(ctx context.Context, hb Heartbeat) (HeartbeatAck, error) {
	var ack HeartbeatAck
	if err := c.send(ctx, "/v1/heartbeat", "", hb, &ack); err != nil {
		return HeartbeatAck{}, fmt.Errorf("heartbeat: %w", err)
	}
	return ack, nil
}
