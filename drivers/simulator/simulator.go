// Package simulator runs every simulated device of a terminal in one
// process, each on its own pseudo terminal, with a small loopback HTTP
// control API (insert a note, inject a fault, pull a cable). It is a
// separate process from the daemon, so a killed daemon leaves the devices,
// and the cash in them, where they are.
package simulator

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	escpossim "tongban/drivers/escpos/sim"
	"tongban/drivers/id003"
	id003sim "tongban/drivers/id003/sim"
	"tongban/drivers/serialport"
	"tongban/drivers/simport"
)

// Device roles, as named in hardware profiles and the control API.
const (
	BillValidator = "billValidator"
	Printer       = "printer"
)

// Options configure the simulators.
type Options struct {
	Dir    string // dev/ links, receipts/ and sim.db live here
	Logger *slog.Logger
	// Fast makes the bill validator's mechanics take milliseconds (tests).
	Fast bool
}

// Simulator is the running set of devices.
type Simulator struct {
	opts Options
	log  *slog.Logger
	db   *bolt.DB

	bvPort *simport.Endpoint
	bv     *id003sim.Sim
	prPort *simport.Endpoint
	pr     *escpossim.Printer

	mu     sync.Mutex
	faults map[string]string
}

var cashBucket = []byte("cashbox")

// New opens the devices' pseudo terminals and restores the cash box.
func New(opts Options) (*Simulator, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	db, err := bolt.Open(filepath.Join(opts.Dir, "sim.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("simulator: open sim.db (is another simulator running on %s?): %w", opts.Dir, err)
	}
	s := &Simulator{opts: opts, log: opts.Logger, db: db, faults: map[string]string{}}
	box, err := s.loadCashBox()
	if err != nil {
		db.Close()
		return nil, err
	}
	delays := id003sim.RealisticDelays()
	if opts.Fast {
		delays = id003sim.FastDelays()
	}
	s.bv = id003sim.New(id003sim.Config{Delays: delays, CashBox: box, OnStacked: s.saveNote, Logger: s.log.With("device", BillValidator)})
	s.bvPort, err = simport.Open(s.Link(BillValidator), id003.DefaultLine())
	if err != nil {
		db.Close()
		return nil, err
	}
	s.prPort, err = simport.Open(s.Link(Printer), serialport.Line{Baud: 115200, DataBits: 8, Parity: "none", StopBits: 1})
	if err != nil {
		s.bvPort.Close()
		db.Close()
		return nil, err
	}
	s.pr = escpossim.New(s.prPort, escpossim.Config{Dir: filepath.Join(opts.Dir, "receipts"), Logger: s.log.With("device", Printer),
		OnReceipt: func(r escpossim.Receipt) { s.log.Info("receipt printed", "file", r.TextPath, "qr", r.QRPayloads) }})
	return s, nil
}

// Link is the stable path a hardware profile names for a device.
func (s *Simulator) Link(role string) string {
	return filepath.Join(s.opts.Dir, "dev", map[string]string{BillValidator: "bill-validator", Printer: "printer"}[role])
}

// BillValidator is the simulated ID003 acceptor (for tests).
func (s *Simulator) BillValidator() *id003sim.Sim { return s.bv }

// Printer is the simulated receipt printer (for tests).
func (s *Simulator) Printer() *escpossim.Printer { return s.pr }

// Run serves the devices until ctx ends.
func (s *Simulator) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := s.bv.Serve(ctx, s.bvPort); err != nil && ctx.Err() == nil {
			s.log.Error("bill validator simulator stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := s.pr.Run(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("printer simulator stopped", "err", err)
		}
	}()
	<-ctx.Done()
	s.bvPort.Close()
	s.prPort.Close()
	wg.Wait()
	return s.db.Close()
}

func (s *Simulator) loadCashBox() (map[int64]int, error) {
	box := map[int64]int{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(cashBucket)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) == 8 && len(v) == 8 {
				box[int64(binary.BigEndian.Uint64(k))] = int(binary.BigEndian.Uint64(v))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("simulator: cash box: %w", err)
	}
	return box, nil
}

// saveNote persists the cash box count: the simulator's cash is one of the
// independent sources the money checks compare against.
func (s *Simulator) saveNote(value int64) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(cashBucket)
		var k, v [8]byte
		binary.BigEndian.PutUint64(k[:], uint64(value))
		n := uint64(0)
		if old := b.Get(k[:]); len(old) == 8 {
			n = binary.BigEndian.Uint64(old)
		}
		binary.BigEndian.PutUint64(v[:], n+1)
		return b.Put(k[:], v[:])
	})
	if err != nil {
		s.log.Error("cash box not saved", "err", err, "value", value)
	}
}

// State is what GET /state returns.
type State struct {
	BillValidator struct {
		Path    string         `json:"path"`
		Status  string         `json:"status"`
		Fault   string         `json:"fault,omitempty"`
		CashBox map[string]int `json:"cashBox"` // value in fen → count
		Total   int64          `json:"total"`   // fen
	} `json:"billValidator"`
	Printer struct {
		Path     string `json:"path"`
		Status   string `json:"status"`
		Receipts int    `json:"receipts"`
		Last     string `json:"lastReceipt,omitempty"` // readable rendering
		LastFile string `json:"lastReceiptFile,omitempty"`
	} `json:"printer"`
}

// State reports both devices.
func (s *Simulator) State() State {
	var st State
	st.BillValidator.Path = s.bvPort.Path()
	st.BillValidator.Status = s.bv.Status().String()
	st.BillValidator.CashBox = map[string]int{}
	for v, n := range s.bv.CashBox() {
		st.BillValidator.CashBox[fmt.Sprint(v)] = n
		st.BillValidator.Total += v * int64(n)
	}
	st.Printer.Path = s.prPort.Path()
	st.Printer.Status = s.pr.Status().String()
	rs := s.pr.Receipts()
	st.Printer.Receipts = len(rs)
	if len(rs) > 0 {
		st.Printer.Last, st.Printer.LastFile = rs[len(rs)-1].Text, rs[len(rs)-1].TextPath
	}
	s.mu.Lock()
	st.BillValidator.Fault = s.faults[BillValidator]
	s.mu.Unlock()
	return st
}

var bvFaults = map[string]id003sim.Fault{
	"none": id003sim.FaultNone, "stackerFull": id003sim.FaultStackerFull, "stackerOpen": id003sim.FaultStackerOpen,
	"jamInAcceptor": id003sim.FaultJamInAcceptor, "jamInStacker": id003sim.FaultJamInStacker, "powerCut": id003sim.FaultPowerCut,
}

// SetFault injects a named fault ("none" clears) into a device.
func (s *Simulator) SetFault(role, fault string) error {
	switch role {
	case BillValidator:
		f, ok := bvFaults[fault]
		if !ok {
			return fmt.Errorf("bill validator fault %q: want one of %s", fault, keys(bvFaults))
		}
		s.bv.SetFault(f)
	case Printer:
		set := map[string]func(bool){"paperEnd": s.pr.SetPaperEnd, "nearEnd": s.pr.SetNearEnd, "coverOpen": s.pr.SetCoverOpen,
			"cutterError": s.pr.SetCutterError, "offline": s.pr.SetOffline}
		if fault == "none" {
			for _, f := range set {
				f(false)
			}
			break
		}
		name, on := strings.CutSuffix(fault, ":off")
		f, ok := set[name]
		if !ok {
			return fmt.Errorf("printer fault %q: want none or one of %s (add :off to clear one)", fault, keys(set))
		}
		f(!on)
	default:
		return fmt.Errorf("unknown device %q (billValidator, printer)", role)
	}
	s.mu.Lock()
	s.faults[role] = fault
	s.mu.Unlock()
	return nil
}

// Plug pulls (false) or puts back (true) a device's cable.
func (s *Simulator) Plug(role string, in bool) error {
	var e *simport.Endpoint
	switch role {
	case BillValidator:
		e = s.bvPort
	case Printer:
		e = s.prPort
	default:
		return fmt.Errorf("unknown device %q", role)
	}
	if !in {
		e.Unplug()
		return nil
	}
	return e.Replug()
}

func keys[V any](m map[string]V) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// Handler is the control API.
func (s *Simulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /insert", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Value int64 `json:"value"` // fen
		}
		if err := decode(r, &req); err != nil || req.Value <= 0 {
			httpError(w, http.StatusBadRequest, "want {\"value\": fen > 0}")
			return
		}
		if err := s.bv.Insert(req.Value); err != nil {
			httpError(w, http.StatusConflict, err.Error())
			return
		}
		writeJSON(w, map[string]any{"inserted": req.Value})
	})
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.State()) })
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
	return dec.Decode(v)
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
