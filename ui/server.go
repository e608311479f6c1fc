// Package ui serves the touch screen: the embedded front-end and the
// WebSocket that carries intents in and state out (protocol in PROTOCOL.md).
// It is an adapter: every decision stays in the core.
package ui

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/skip2/go-qrcode"

	"tongban/kiosk/terminal"
)

// Subprotocol names the protocol version; a client must ask for it.
const Subprotocol = "tongban.ui.v1"

//go:embed web
var webFS embed.FS

// Core is what the screen needs of the daemon's core.
type Core interface {
	Do(ctx context.Context, name string, payload json.RawMessage) (any, error)
	Subscribe() (<-chan terminal.Snapshot, func())
}

// Server is the screen's HTTP and WebSocket server.
type Server struct {
	core Core
	log  *slog.Logger
	// extraConnect lists origins the page may also fetch from (the demo
	// simulator's control), added to the Content-Security-Policy.
	extraConnect []string
	upgrader     websocket.Upgrader
	mux          *http.ServeMux
}

// Options configure a Server.
type Options struct {
	Logger *slog.Logger
	// DemoOrigins are extra origins the page may call (demo mode only).
	DemoOrigins []string
}

// New builds the server.
func New(core Core, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{core: core, log: opts.Logger, extraConnect: opts.DemoOrigins, mux: http.NewServeMux()}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 5 * time.Second,
		Subprotocols:     []string{Subprotocol},
		CheckOrigin:      sameOrigin,
	}
	static, _ := fs.Sub(webFS, "web")
	files := http.FileServerFS(static)
	s.mux.HandleFunc("GET /ws", s.serveWS)
	s.mux.HandleFunc("GET /qr.png", s.serveQR)
	s.mux.Handle("GET /", s.secure(files))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// ListenAndServe serves on addr, which must be a loopback address, until
// ctx ends. ready receives the bound address.
func (s *Server) ListenAndServe(ctx context.Context, addr string, ready func(string)) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("ui listen %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("ui listen %q: the screen is served on loopback only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("ui listen: %w", err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if ready != nil {
		ready(ln.Addr().String())
	}
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// sameOrigin accepts only a page served by this server: the Origin header
// must be present and name the host the request was sent to.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host)
}

func (s *Server) secure(h http.Handler) http.Handler {
	connect := "'self'"
	for _, o := range s.extraConnect {
		connect += " " + o
	}
	csp := "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src " + connect + "; frame-ancestors 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// serveQR draws a QR code for the screen (the receipt's verification link
// when the printer cannot print it).
func (s *Server) serveQR(w http.ResponseWriter, r *http.Request) {
	text := r.URL.Query().Get("text")
	if text == "" || len(text) > 512 {
		http.Error(w, "text: 1 to 512 bytes", http.StatusBadRequest)
		return
	}
	png, err := qrcode.Encode(text, qrcode.Medium, 320)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(png)
}

// Header is the message envelope's header (XFS4IoT style).
type Header struct {
	Type             string  `json:"type"` // command, acknowledge, event, completion, unsolicited
	Name             string  `json:"name"`
	RequestID        int64   `json:"requestId,omitempty"`
	Version          string  `json:"version,omitempty"`
	Status           *string `json:"status,omitempty"`
	CompletionCode   string  `json:"completionCode,omitempty"`
	ErrorDescription string  `json:"errorDescription,omitempty"`
}

// Message is one WebSocket text frame.
type Message struct {
	Header  Header          `json:"header"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

const (
	maxMessage  = 64 << 10
	maxInFlight = 8
	writeWait   = 2 * time.Second
	pingEvery   = 20 * time.Second
)

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "websocket only", http.StatusBadRequest)
		return
	}
	if !sameOrigin(r) {
		s.log.Warn("ui: websocket refused: foreign origin", "origin", r.Header.Get("Origin"))
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	if conn.Subprotocol() != Subprotocol {
		conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseProtocolError, "subprotocol "+Subprotocol+" required"), time.Now().Add(writeWait))
		conn.Close()
		return
	}
	c := &wsConn{s: s, conn: conn, out: make(chan Message, 32), inFlight: map[int64]bool{}}
	c.serve(r.Context())
}

type wsConn struct {
	s    *Server
	conn *websocket.Conn
	out  chan Message

	mu       sync.Mutex
	inFlight map[int64]bool
}

func (c *wsConn) serve(parent context.Context) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	defer cancel()
	snaps, unsub := c.s.core.Subscribe()
	defer unsub()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.writeLoop(ctx, snaps)
	}()
	c.conn.SetReadLimit(maxMessage)
	c.conn.SetReadDeadline(time.Now().Add(3 * pingEvery))
	c.conn.SetPongHandler(func(string) error {
		c.conn.SetReadDeadline(time.Now().Add(3 * pingEvery))
		return nil
	})
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			break
		}
		c.conn.SetReadDeadline(time.Now().Add(3 * pingEvery))
		if typ != websocket.TextMessage {
			c.reject(Header{Name: ""}, "invalidMessage", "text frames only")
			continue
		}
		c.handle(ctx, data)
	}
	cancel()
	<-done
	c.conn.Close()
}

func (c *wsConn) writeLoop(ctx context.Context, snaps <-chan terminal.Snapshot) {
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		var m Message
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.conn.Close()
				return
			}
			continue
		case s := <-snaps:
			b, _ := json.Marshal(s)
			m = Message{Header: Header{Type: "unsolicited", Name: "Terminal.StateChanged"}, Payload: b}
		case m = <-c.out:
		}
		b, err := json.Marshal(m)
		if err != nil {
			continue
		}
		c.conn.SetWriteDeadline(time.Now().Add(writeWait))
		if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
			c.conn.Close() // a conn is unusable after a write error; the reader sees it and ends
			return
		}
	}
}

func (c *wsConn) send(m Message) {
	select {
	case c.out <- m:
	case <-time.After(writeWait):
		c.conn.Close()
	}
}

func (c *wsConn) reject(h Header, status, desc string) {
	st := status
	c.send(Message{Header: Header{Type: "acknowledge", Name: h.Name, RequestID: h.RequestID, Status: &st, ErrorDescription: desc}})
}

func (c *wsConn) handle(ctx context.Context, data []byte) {
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		c.s.log.Warn("ui: malformed message", "err", err, "bytes", len(data))
		c.reject(Header{}, "invalidMessage", "not a JSON message: "+err.Error())
		return
	}
	h := m.Header
	if h.Type != "command" || h.Name == "" {
		c.reject(h, "invalidMessage", "header.type must be command and header.name set")
		return
	}
	if h.Version != "" && !strings.HasPrefix(h.Version, "1") {
		c.reject(h, "invalidMessage", "unsupported version "+h.Version)
		return
	}
	if h.RequestID <= 0 {
		c.reject(h, "invalidRequestID", "requestId must be a positive integer")
		return
	}
	c.mu.Lock()
	switch {
	case c.inFlight[h.RequestID]:
		c.mu.Unlock()
		c.reject(h, "invalidRequestID", "requestId already in use")
		return
	case len(c.inFlight) >= maxInFlight:
		c.mu.Unlock()
		c.reject(h, "tooManyRequests", "too many commands in flight")
		return
	}
	c.inFlight[h.RequestID] = true
	c.mu.Unlock()

	c.send(Message{Header: Header{Type: "acknowledge", Name: h.Name, RequestID: h.RequestID}})
	go func() {
		res, err := c.s.core.Do(ctx, h.Name, m.Payload)
		comp := Header{Type: "completion", Name: h.Name, RequestID: h.RequestID, CompletionCode: "success"}
		var payload json.RawMessage
		if err != nil {
			var te *terminal.Error
			if errors.As(err, &te) {
				comp.CompletionCode, comp.ErrorDescription = te.Code, te.Message
			} else {
				comp.CompletionCode, comp.ErrorDescription = "internalError", err.Error()
			}
		} else if res != nil {
			payload, _ = json.Marshal(res)
		}
		c.mu.Lock()
		delete(c.inFlight, h.RequestID)
		c.mu.Unlock()
		c.send(Message{Header: comp, Payload: payload})
	}()
}
