package ui

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tongban/kiosk/terminal"
)

// fakeCore records intents and answers from a table.
type fakeCore struct {
	mu    sync.Mutex
	calls []string
	snaps chan terminal.Snapshot
	block chan struct{}
}

func (f *fakeCore) Do(ctx context.Context, name string, payload json.RawMessage) (any, error) {
	f.mu.Lock()
	f.calls = append(f.calls, name+" "+string(payload))
	f.mu.Unlock()
	switch name {
	case "Slow.Thing":
		<-f.block
		return nil, nil
	case "Bad.Step":
		return nil, &terminal.Error{Code: "sequenceError", Message: "not now"}
	}
	return map[string]string{"ok": name}, nil
}

func (f *fakeCore) Subscribe() (<-chan terminal.Snapshot, func()) {
	return f.snaps, func() {}
}

func newTestServer(t *testing.T) (*fakeCore, *httptest.Server) {
	t.Helper()
	fc := &fakeCore{snaps: make(chan terminal.Snapshot, 1), block: make(chan struct{})}
	fc.snaps <- terminal.Snapshot{Version: 1, Screen: terminal.ScreenHome, Terminal: "TB-TEST"}
	srv := httptest.NewServer(New(fc, Options{}))
	t.Cleanup(func() { close(fc.block); srv.Close() })
	return fc, srv
}

func dial(t *testing.T, srv *httptest.Server, origin string, protos ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: protos, HandshakeTimeout: 2 * time.Second}
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", h)
}

func read(t *testing.T, c *websocket.Conn) Message {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	var m Message
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

// readFor skips state broadcasts until a message for requestId arrives.
func readFor(t *testing.T, c *websocket.Conn, id int64) Message {
	t.Helper()
	for {
		m := read(t, c)
		if m.Header.Type != "unsolicited" && m.Header.RequestID == id {
			return m
		}
	}
}

func TestOriginAndSubprotocolAreChecked(t *testing.T) {
	_, srv := newTestServer(t)
	if _, resp, err := dial(t, srv, "http://evil.example", Subprotocol); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err %v resp %v, want 403", err, resp)
	}
	if _, resp, err := dial(t, srv, "", Subprotocol); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("missing origin: err %v, want 403", err)
	}
	c, _, err := dial(t, srv, srv.URL) // right origin, no subprotocol
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseProtocolError {
		t.Fatalf("no subprotocol: %v, want close 1002", err)
	}
}

func TestCommandAckCompletionAndState(t *testing.T) {
	fc, srv := newTestServer(t)
	c, _, err := dial(t, srv, srv.URL, Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := read(t, c)
	if m.Header.Type != "unsolicited" || m.Header.Name != "Terminal.StateChanged" || !strings.Contains(string(m.Payload), `"TB-TEST"`) {
		t.Fatalf("first message %+v %s", m.Header, m.Payload)
	}
	c.WriteJSON(Message{Header: Header{Type: "command", Name: "Session.Start", RequestID: 5, Version: "1.0"}, Payload: json.RawMessage(`{"utility":"water"}`)})
	ack := readFor(t, c, 5)
	if ack.Header.Type != "acknowledge" || ack.Header.Status != nil {
		t.Fatalf("ack %+v", ack.Header)
	}
	comp := readFor(t, c, 5)
	if comp.Header.Type != "completion" || comp.Header.CompletionCode != "success" || comp.Header.Name != "Session.Start" {
		t.Fatalf("completion %+v", comp.Header)
	}
	c.WriteJSON(Message{Header: Header{Type: "command", Name: "Bad.Step", RequestID: 6}})
	readFor(t, c, 6)
	if comp := readFor(t, c, 6); comp.Header.CompletionCode != "sequenceError" || comp.Header.ErrorDescription != "not now" {
		t.Fatalf("refusal %+v", comp.Header)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if len(fc.calls) != 2 || fc.calls[0] != `Session.Start {"utility":"water"}` {
		t.Fatalf("calls %q", fc.calls)
	}
}

func TestMalformedMessagesAreRefusedAndTheConnectionLives(t *testing.T) {
	fc, srv := newTestServer(t)
	c, _, err := dial(t, srv, srv.URL, Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	read(t, c) // state
	for _, bad := range []string{`not json`, `{"header":{"type":"event","name":"X","requestId":1}}`, `{"header":{"type":"command","name":"X","requestId":0}}`,
		`{"header":{"type":"command","name":"X","requestId":2,"version":"2.0"}}`} {
		c.WriteMessage(websocket.TextMessage, []byte(bad))
		m := read(t, c)
		if m.Header.Type != "acknowledge" || m.Header.Status == nil {
			t.Fatalf("%s: got %+v, want a refusing acknowledge", bad, m.Header)
		}
	}
	c.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	if m := read(t, c); m.Header.Status == nil || *m.Header.Status != "invalidMessage" {
		t.Fatalf("binary frame: %+v", m.Header)
	}
	// A duplicate requestId while the first is still running is refused.
	c.WriteJSON(Message{Header: Header{Type: "command", Name: "Slow.Thing", RequestID: 9}})
	readFor(t, c, 9)
	c.WriteJSON(Message{Header: Header{Type: "command", Name: "Slow.Thing", RequestID: 9}})
	if m := readFor(t, c, 9); m.Header.Status == nil || *m.Header.Status != "invalidRequestID" {
		t.Fatalf("duplicate id: %+v", m.Header)
	}
	// Still alive: a good command goes through.
	c.WriteJSON(Message{Header: Header{Type: "command", Name: "Session.Touch", RequestID: 10}})
	readFor(t, c, 10)
	if m := readFor(t, c, 10); m.Header.CompletionCode != "success" {
		t.Fatalf("after garbage: %+v", m.Header)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, call := range fc.calls {
		if strings.HasPrefix(call, "X ") {
			t.Fatalf("a refused message reached the core: %q", call)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	s := New(&fakeCore{snaps: make(chan terminal.Snapshot, 1)}, Options{})
	if err := s.ListenAndServe(context.Background(), "0.0.0.0:0", nil); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("listen on all interfaces: %v", err)
	}
}

func TestPageIsEmbeddedWithStrictPolicy(t *testing.T) {
	_, srv := newTestServer(t)
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.Contains(csp, "default-src 'self'") {
		t.Fatalf("status %d csp %q", resp.StatusCode, csp)
	}
}
