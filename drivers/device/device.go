// Package device holds what every driver reports about itself: a state in
// the XFS4IoT vocabulary, counters and the last error. The core and the
// screen read these; drivers only write them.
package device

import (
	"sync"
	"time"
)

// State is a device's condition in the XFS4IoT "device" vocabulary.
type State string

const (
	Online        State = "online"
	Offline       State = "offline"
	NoDevice      State = "noDevice"
	HardwareError State = "hardwareError"
	UserError     State = "userError"
	Busy          State = "busy"
	Starting      State = "starting"
)

// Health is a snapshot of one device.
type Health struct {
	Name      string           `json:"name"`   // profile name, e.g. "billValidator"
	Driver    string           `json:"driver"` // e.g. "id003"
	Path      string           `json:"path"`
	State     State            `json:"state"`
	Detail    string           `json:"detail,omitempty"` // human-readable cause, e.g. "paper end"
	Counters  map[string]int64 `json:"counters,omitempty"`
	LastError string           `json:"lastError,omitempty"`
	ErrorAt   time.Time        `json:"errorAt,omitzero"`
	Since     time.Time        `json:"since"`
}

// Monitor is the thread-safe health record a driver keeps. It calls OnChange
// (if set) whenever the state or detail changes, so status is pushed, not polled.
type Monitor struct {
	mu       sync.Mutex
	h        Health
	onChange func(Health)
}

// NewMonitor starts a monitor in the Starting state.
func NewMonitor(name, driver, path string) *Monitor {
	return &Monitor{h: Health{Name: name, Driver: driver, Path: path, State: Starting, Since: time.Now(), Counters: map[string]int64{}}}
}

// OnChange registers a callback for state changes. It runs on the driver's
// goroutine and must not block.
func (m *Monitor) OnChange(f func(Health)) {
	m.mu.Lock()
	m.onChange = f
	m.mu.Unlock()
}

// Set records a new state and detail; it notifies only on a real change.
func (m *Monitor) Set(s State, detail string) {
	m.mu.Lock()
	if m.h.State == s && m.h.Detail == detail {
		m.mu.Unlock()
		return
	}
	m.h.State, m.h.Detail, m.h.Since = s, detail, time.Now()
	snap, f := m.snapshotLocked(), m.onChange
	m.mu.Unlock()
	if f != nil {
		f(snap)
	}
}

// Error records the last error without changing the state.
func (m *Monitor) Error(err error) {
	if err == nil {
		return
	}
	m.mu.Lock()
	m.h.LastError, m.h.ErrorAt = err.Error(), time.Now()
	m.mu.Unlock()
}

// Count adds delta to a named counter (notes, jams, receipts, cuts...).
func (m *Monitor) Count(name string, delta int64) {
	m.mu.Lock()
	m.h.Counters[name] += delta
	m.mu.Unlock()
}

// Health returns a copy of the current record.
func (m *Monitor) Health() Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snapshotLocked()
}

func (m *Monitor) snapshotLocked() Health {
	h := m.h
	h.Counters = make(map[string]int64, len(m.h.Counters))
	for k, v := range m.h.Counters {
		h.Counters[k] = v
	}
	return h
}
