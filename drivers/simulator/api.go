package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Handler is the control API:
//
//	GET  /state                                 every device
//	GET  /faults                                every device's faults, with help
//	POST /insert     {"value": fen}             a note into the bill validator
//	POST /coin       {"value": fen, "cutAfter": pulses}  a coin (cutAfter optional)
//	POST /card/place {"sample": "resident"}     an ID card on the reader
//	POST /card/remove
//	POST /scan       {"code": "..."}            a code held up to the scanner
//	POST /gpio       {"input": "door", "active": true}  move a switch
//	POST /fault      {"device": "printer", "fault": "paperEnd"}
//	POST /plug       {"device": "scanner", "in": false}  pull or put back a cable
func (s *Simulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.State()) })
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.Faults()) })
	mux.HandleFunc("POST /insert", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Value int64 `json:"value"` // fen
		}
		if err := decode(r, &req); err != nil || req.Value <= 0 {
			httpError(w, http.StatusBadRequest, "want {\"value\": fen > 0}")
			return
		}
		if err := s.InsertNote(req.Value); err != nil {
			httpError(w, statusOf(err), err.Error())
			return
		}
		writeJSON(w, map[string]any{"inserted": req.Value})
	})
	mux.HandleFunc("POST /coin", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Value    int64 `json:"value"` // fen
			CutAfter int   `json:"cutAfter"`
		}
		if err := decode(r, &req); err != nil || req.Value <= 0 || req.CutAfter < 0 {
			httpError(w, http.StatusBadRequest, "want {\"value\": fen > 0, \"cutAfter\": pulses (optional)}")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		if err := s.InsertCoin(ctx, req.Value, req.CutAfter); err != nil {
			httpError(w, statusOf(err), err.Error())
			return
		}
		writeJSON(w, map[string]any{"inserted": req.Value})
	})
	mux.HandleFunc("POST /card/place", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Sample string `json:"sample"`
		}
		if err := decode(r, &req); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := s.PlaceCard(req.Sample); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, map[string]any{"card": req.Sample})
	})
	mux.HandleFunc("POST /card/remove", func(w http.ResponseWriter, r *http.Request) {
		s.RemoveCard()
		writeJSON(w, map[string]any{"card": nil})
	})
	mux.HandleFunc("POST /scan", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Code string `json:"code"`
		}
		if err := decode(r, &req); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := s.Scan(req.Code); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		// The code itself is not echoed: it may be a payment code.
		writeJSON(w, map[string]any{"presented": len(req.Code)})
	})
	mux.HandleFunc("POST /gpio", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Input  string `json:"input"`
			Active bool   `json:"active"`
		}
		if err := decode(r, &req); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := s.SetInput(r.Context(), req.Input, req.Active); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, map[string]any{"input": req.Input, "active": req.Active})
	})
	mux.HandleFunc("POST /fault", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Device, Fault string }
		if err := decode(r, &req); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := s.SetFault(req.Device, req.Fault); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, map[string]any{"device": req.Device, "fault": req.Fault})
	})
	mux.HandleFunc("POST /plug", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Device string
			In     bool
		}
		if err := decode(r, &req); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := s.Plug(req.Device, req.In); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, map[string]any{"device": req.Device, "in": req.In})
	})
	return cors(mux)
}

func statusOf(err error) int {
	if errors.Is(err, ErrNotAccepting) {
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// cors lets the demo page (served by the daemon on another loopback port)
// call the control API; any non-loopback origin is refused.
func cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			host := ""
			if err == nil {
				host = u.Hostname()
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				httpError(w, http.StatusForbidden, "origin not allowed")
				return
			}
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
			w.Header().Set("Vary", "Origin")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// ListenAndServe serves the control API on a loopback address until ctx
// ends; ready receives the bound address.
func (s *Simulator) ListenAndServe(ctx context.Context, addr string, ready func(string)) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("simulator control %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("simulator control %q: loopback only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("simulator control: %w", err)
	}
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	if ready != nil {
		ready(ln.Addr().String())
	}
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
