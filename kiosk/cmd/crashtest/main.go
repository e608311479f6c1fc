// Command crashtest proves the money guarantee under crashes. It runs the
// reference platform and the simulators as separate processes and the
// daemon under test as a third, drives scripted cash payments through the
// real WebSocket, kills the daemon with SIGKILL at random moments (and now
// and then cuts the simulated bill validator's power mid-stack), restarts
// it, lets it drain, and then checks three independent sources against
// each other: the simulator's cash box, the platform's records and the
// daemon's vouchers. Every yuan stacked must be in exactly one payment the
// platform holds or in a voucher. Some runs apply for a matter with the ID
// card instead (forms.go): every application journaled must be one case at
// the platform, and no sealed personal record may be left. It prints
//
//	crashtest: forms submitted=N cases=M lost=0 duplicated=0 sealed-left=0
//	crashtest: runs=N kills=K stacked=X paid=Y vouchers=Z lost=0 duplicated=0
//
// last (lost and duplicated count yuan and forms), and exits non-zero when
// lost, duplicated or sealed-left is not zero.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"tongban/kiosk/journal"
)

func main() {
	kills := flag.Int("kills", 20, "SIGKILLs to deliver before draining")
	bin := flag.String("kioskd", "bin/kioskd", "the kioskd binary under test")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "random seed (printed, to replay a run)")
	keep := flag.Bool("keep", false, "keep the data folder")
	verbose := flag.Bool("v", false, "log every step")
	flag.Parse()
	h, err := newHarness(*bin, *seed, *verbose)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		os.Exit(2)
	}
	if !*keep {
		defer os.RemoveAll(h.dir)
	} else {
		fmt.Println("data in", h.dir)
	}
	defer h.stopAll()
	res, err := h.run(*kills)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err, "(logs in", h.dir+")")
		*keep = true
		os.Exit(2)
	}
	f := res.forms
	fmt.Printf("crashtest: form kills before-journal=%d journaled-not-committed=%d committed-unheard=%d after-ack=%d\n",
		f.beforeJournal, f.journaledUnsent, f.committedUnheard, f.afterAck)
	fmt.Printf("crashtest: forms submitted=%d cases=%d lost=%d duplicated=%d sealed-left=%d\n",
		f.submitted, f.cases, f.lost, f.duplicated, f.sealedLeft)
	fmt.Printf("crashtest: runs=%d kills=%d stacked=%d paid=%d vouchers=%d lost=%d duplicated=%d\n",
		res.runs, res.kills, res.stacked, res.paid, res.vouchers, res.lost+int64(f.lost), res.duplicated+int64(f.duplicated))
	if res.lost != 0 || res.duplicated != 0 || f.lost != 0 || f.duplicated != 0 || f.sealedLeft != 0 {
		*keep = true
		os.Exit(1)
	}
}

type harness struct {
	bin     string
	dir     string
	rng     *rand.Rand
	verbose bool
	plat    *exec.Cmd
	sim     *exec.Cmd
	daemon  *exec.Cmd
	platURL string
	simURL  string
	uiAddr  string
	exits   map[*exec.Cmd]chan struct{}
	forms   []formRun // the application runs (forms.go)
}

type result struct {
	runs, kills, powerCuts    int
	stacked, paid, vouchers   int64
	lost, duplicated, pending int64
	forms                     formResult
}

func newHarness(bin string, seed uint64, verbose bool) (*harness, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("kioskd binary: %w (run make build)", err)
	}
	dir, err := os.MkdirTemp("", "crashtest-")
	if err != nil {
		return nil, err
	}
	fmt.Printf("crashtest: seed=%d data=%s\n", seed, dir)
	return &harness{bin: abs, dir: dir, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), verbose: verbose,
		exits: map[*exec.Cmd]chan struct{}{}}, nil
}

func (h *harness) logf(format string, a ...any) {
	if h.verbose {
		fmt.Printf("  "+format+"\n", a...)
	}
}

func (h *harness) spawn(name string, args ...string) (*exec.Cmd, error) {
	lf, err := os.OpenFile(filepath.Join(h.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	c := exec.Command(h.bin, args...)
	c.Stdout, c.Stderr = lf, lf
	if err := c.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	done := make(chan struct{})
	h.exits[c] = done
	go func() { c.Wait(); lf.Close(); close(done) }()
	return c, nil
}

func (h *harness) waitAddr(name string) (string, error) {
	path := filepath.Join(h.dir, name+".addr")
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil {
			return strings.TrimSpace(string(b)), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "", fmt.Errorf("%s did not start; see %s.log", name, name)
}

func (h *harness) startDaemon() error {
	os.Remove(filepath.Join(h.dir, "ui.addr"))
	c, err := h.spawn("kioskd", "run", "-profile", filepath.Join(h.dir, "profile.json"), "-data", h.dir,
		"-platform", h.platURL, "-listen", "127.0.0.1:0", "-idle-timeout", "4s", "-log-level", "debug", "-allow-unenrolled",
		"-service", "127.0.0.1:0") // not the fixed technician port: a demo may be running beside the test
	if err != nil {
		return err
	}
	h.daemon = c
	a, err := h.waitAddr("ui")
	h.uiAddr = a
	return err
}

func (h *harness) kill() {
	if h.daemon != nil {
		h.daemon.Process.Signal(syscall.SIGKILL)
		<-h.exits[h.daemon]
		h.daemon = nil
	}
}

func (h *harness) stopAll() {
	for _, c := range []*exec.Cmd{h.daemon, h.sim, h.plat} {
		if c != nil && c.Process != nil {
			c.Process.Signal(syscall.SIGTERM)
		}
	}
	time.Sleep(300 * time.Millisecond)
}

func (h *harness) run(kills int) (result, error) {
	var res result
	var err error
	if h.plat, err = h.spawn("platform", "platform", "-data", h.dir, "-listen", "127.0.0.1:0"); err != nil {
		return res, err
	}
	if h.sim, err = h.spawn("sim", "sim", "-data", h.dir, "-control", "127.0.0.1:0", "-fast"); err != nil {
		return res, err
	}
	pa, err := h.waitAddr("platform")
	if err != nil {
		return res, err
	}
	sa, err := h.waitAddr("sim")
	if err != nil {
		return res, err
	}
	h.platURL, h.simURL = "http://"+pa, "http://"+sa
	profile := `{"devices":{"billValidator":{"driver":"id003","path":"sim/dev/bill-validator","denominations":[1000,2000,5000,10000]},
		"printer":{"driver":"escpos","path":"sim/dev/printer","paper":80},
		"idCardReader":{"driver":"idcard","path":"sim/dev/id-card-reader"}}}`
	if err := os.WriteFile(filepath.Join(h.dir, "profile.json"), []byte(profile), 0o644); err != nil {
		return res, err
	}
	// A slow platform that sometimes commits and drops the reply: the
	// window between its commit and the daemon's receipt gets kills too.
	if err := h.faults(0.1); err != nil {
		return res, err
	}
	if err := h.startDaemon(); err != nil {
		return res, err
	}
	accounts := []string{"100100100001", "100100100002", "200200200001", "300300300001", "400400400001"}
	utilities := map[byte]string{'1': "water", '2': "electricity", '3': "gas", '4': "heating"}
	for res.kills < kills {
		res.runs++
		if h.daemon == nil {
			if err := h.startDaemon(); err != nil {
				return res, err
			}
		}
		if h.rng.IntN(3) == 0 {
			// An application instead of a payment (forms.go), killed
			// anywhere, right after the submit (before or after its
			// journal write, before the platform's reply), or the moment
			// the platform commits; replies are dropped after the commit
			// more often meanwhile, so the daemon often has not heard.
			k := kill{phase: -1}
			if h.rng.IntN(5) > 0 {
				k.phase = h.rng.IntN(3)
				k.after = time.Duration(h.rng.IntN([]int{800, 60, 0}[k.phase]+1)) * time.Millisecond
			}
			began := time.Now()
			if err := h.faults(0.3); err != nil {
				return res, err
			}
			killed, err := h.applyScript(res.runs, k)
			if ferr := h.faults(0.1); ferr != nil {
				return res, ferr
			}
			h.logf("run %d (form): %v kill=%+v killed=%v err=%v", res.runs, time.Since(began).Round(time.Millisecond), k, killed, err)
			if killed {
				res.kills++
			}
			continue
		}
		acct := accounts[h.rng.IntN(len(accounts))]
		// Most runs end in a kill, aimed at one of the moments that
		// matter: anywhere, while notes go in (between a device event and
		// its journal write), or right after confirming (between the
		// platform's commit and the daemon's receipt of its reply).
		k := kill{phase: -1}
		if h.rng.IntN(4) < 3 {
			k.phase = h.rng.IntN(3)
			k.after = time.Duration(h.rng.IntN([]int{1500, 400, 150}[k.phase])) * time.Millisecond
		}
		powerCut := h.rng.IntN(10) == 0
		began := time.Now()
		killed, cut, err := h.script(utilities[acct[0]], acct, k, powerCut)
		h.logf("run %d: %v kill=%+v killed=%v err=%v", res.runs, time.Since(began).Round(time.Millisecond), k, killed, err)
		if cut {
			res.powerCuts++
		}
		if killed {
			res.kills++
			h.logf("run %d: killed", res.runs)
		}
	}
	// Drain: the platform is healthy again; the daemon comes back,
	// finishes whatever it restored, and forwards everything it owes the
	// platform. A reply lost after the platform's commit leaves the
	// platform's records unchanged while the daemon waits out its backoff,
	// so when the journal still owes something the daemon is restarted
	// (its recovery forwards at once) rather than waited on for a minute.
	if err := postJSON(h.platURL+"/ref/faults", map[string]any{}); err != nil {
		return res, err
	}
	// One more resident applies and the daemon is left running: recovery
	// at start purges sealed records acknowledged in an earlier life, so
	// only a life that ends without a crash shows whether an
	// acknowledgement purges its record at once.
	if h.daemon == nil {
		if err := h.startDaemon(); err != nil {
			return res, err
		}
	}
	for try := 1; ; try++ {
		res.runs++
		_, err := h.applyScript(res.runs, kill{phase: -1})
		if err == nil {
			break
		}
		if try == 3 {
			return res, fmt.Errorf("last application: %w", err)
		}
		h.logf("run %d (last form): %v", res.runs, err)
	}
	for round := 1; ; round++ {
		if h.daemon == nil {
			if err := h.startDaemon(); err != nil {
				return res, err
			}
		}
		if err := h.drain(); err != nil {
			return res, err
		}
		h.daemon.Process.Signal(syscall.SIGTERM)
		<-h.exits[h.daemon]
		h.daemon = nil
		owed, err := h.owed()
		if err != nil {
			return res, err
		}
		if owed == 0 || round == 3 {
			if round > 1 {
				fmt.Printf("crashtest: drained in %d rounds\n", round)
			}
			break
		}
		h.logf("drain round %d: the journal still owes the platform %d records", round, owed)
	}
	var err2 error
	if res.forms, err2 = h.tallyForms(); err2 != nil {
		return res, err2
	}
	return h.tally(res)
}

// owed counts the payments and applications the journal holds as
// submitted and neither acknowledged nor refused.
func (h *harness) owed() (int, error) {
	j, err := journal.Open(filepath.Join(h.dir, "kiosk", "journal.db"), nil)
	if err != nil {
		return 0, err
	}
	defer j.Close()
	open := map[string]bool{}
	err = j.Scan(1, func(r journal.Record) error {
		switch r.Kind {
		case journal.PaymentSubmitted, journal.ApplicationSubmitted:
			open[string(r.Kind)+r.Key] = true
		case journal.PaymentAcknowledged, journal.PaymentRefused:
			delete(open, string(journal.PaymentSubmitted)+r.Key)
		case journal.ApplicationAcknowledged, journal.ApplicationRefused:
			delete(open, string(journal.ApplicationSubmitted)+r.Key)
		}
		return nil
	})
	return len(open), err
}

// faults sets the platform's: slow, and dropping the reply after the
// commit at rate drop.
func (h *harness) faults(drop float64) error {
	return postJSON(h.platURL+"/ref/faults", map[string]any{"latencyMs": 30, "dropAfterCommitRate": drop,
		"paths": []string{"/v1/payments", "/v1/applications"}})
}

// kill says when a run kills the daemon: phase 0 from the start, 1 from
// the first note, 2 from the confirmation; -1 never.
type kill struct {
	phase int
	after time.Duration
}

// script is one resident paying a bill in cash, with the daemon killed as k
// says.
func (h *harness) script(utility, account string, k kill, powerCut bool) (killed, cut bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
	defer cancel()
	var timer *time.Timer
	killedCh := make(chan struct{})
	arm := func(phase int) {
		if k.phase == phase && timer == nil {
			timer = time.AfterFunc(k.after, func() { h.kill(); close(killedCh) })
		}
	}
	arm(0)
	// However the script ends, a kill that fired is waited for and counted.
	defer func() {
		if timer != nil && !timer.Stop() {
			<-killedCh
			killed = true
		}
	}()
	s, err := dialScreen(ctx, h.uiAddr)
	if err != nil {
		time.Sleep(50 * time.Millisecond)
		return false, false, err
	}
	defer s.close()
	if err := s.settle(ctx); err != nil {
		return false, false, err
	}
	steps := []func() error{
		func() error { return s.command("Session.Start", map[string]string{"utility": utility}) },
		func() error { return s.command("Bill.Lookup", map[string]string{"account": account}) },
		func() error { return s.command("Cash.Start", nil) },
		func() error {
			_, err := s.waitFor(ctx, func(st state) bool { return st.Devices.BillValidator.Detail == "accepting notes" })
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return false, false, err
		}
	}
	notes := 1 + h.rng.IntN(3)
	var want int64
	arm(1)
	for i := 0; i < notes; i++ {
		v := []int64{1000, 2000, 5000}[h.rng.IntN(3)]
		if err := postJSON(h.simURL+"/insert", map[string]any{"value": v}); err != nil {
			return false, false, err
		}
		if powerCut && i == notes-1 {
			time.Sleep(time.Duration(h.rng.IntN(25)) * time.Millisecond)
			postJSON(h.simURL+"/fault", map[string]any{"device": "billValidator", "fault": "powerCut"})
			cut = true
		}
		want += v
		// A note offered in the moment the acceptor is still switching on
		// is rejected and handed back, as a real one would be: the
		// resident inserts it again.
		for tries := 0; ; tries++ {
			wctx, wcancel := ctx, context.CancelFunc(func() {})
			if cut && i == notes-1 {
				// A power cut can leave the note in the acceptor, which
				// hands it back after its reset without a word to the
				// screen: the resident inserts it again, before the idle
				// timeout ends the session.
				wctx, wcancel = context.WithTimeout(ctx, 2500*time.Millisecond)
			}
			st, err := s.waitFor(wctx, func(st state) bool {
				return st.Cash != nil && !st.Cash.InFlight && st.Cash.Credit >= want ||
					st.Notice != nil && st.Notice.Code == "noteRejected"
			})
			wcancel()
			if err != nil && ctx.Err() == nil && wctx.Err() != nil {
				st, err = state{}, nil // handed back: insert it again
			}
			if err != nil {
				return false, cut, err
			}
			if st.Cash != nil && st.Cash.Credit >= want {
				break
			}
			if tries == 3 {
				return false, cut, fmt.Errorf("note %d rejected %d times", v, tries+1)
			}
			time.Sleep(200 * time.Millisecond)
			if err := postJSON(h.simURL+"/insert", map[string]any{"value": v}); err != nil {
				return false, cut, err
			}
		}
	}
	arm(2)
	if err := s.command("Payment.Confirm", nil); err != nil {
		return false, cut, err
	}
	if _, err := s.waitFor(ctx, func(st state) bool { return st.Screen == "done" || st.Screen == "voucher" }); err != nil {
		return false, cut, err
	}
	err = s.command("Session.Finish", nil)
	return false, cut, err
}

// drain brings the terminal home and waits until the platform's records
// stop changing.
func (h *harness) drain() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := dialScreen(ctx, h.uiAddr)
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.settle(ctx); err != nil {
		return err
	}
	last, stable := -1, 0
	for stable < 6 {
		n, _, err := h.platformPayments()
		if err != nil {
			return err
		}
		c, err := h.caseCount()
		if err != nil {
			return err
		}
		n = n<<20 | c
		if n == last {
			stable++
		} else {
			last, stable = n, 0
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drain: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}

func (h *harness) platformPayments() (int, int64, error) {
	resp, err := http.Get(h.platURL + "/ref/payments")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var list []struct {
		Payment struct {
			IdempotencyKey string `json:"idempotencyKey"`
			Amount         int64  `json:"amount"`
		} `json:"payment"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return 0, 0, fmt.Errorf("platform payments: %w", err)
	}
	keys := map[string]bool{}
	var sum int64
	for _, p := range list {
		if keys[p.Payment.IdempotencyKey] {
			return 0, 0, fmt.Errorf("platform holds key %s twice", p.Payment.IdempotencyKey)
		}
		keys[p.Payment.IdempotencyKey] = true
		sum += p.Payment.Amount
	}
	return len(list), sum, nil
}

// tally reads the three sources and compares them.
func (h *harness) tally(res result) (result, error) {
	resp, err := http.Get(h.simURL + "/state")
	if err != nil {
		return res, err
	}
	var st struct {
		BillValidator struct {
			Total int64 `json:"total"`
		} `json:"billValidator"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		return res, err
	}
	res.stacked = st.BillValidator.Total
	_, res.paid, err = h.platformPayments()
	if err != nil {
		return res, err
	}
	j, err := journal.Open(filepath.Join(h.dir, "kiosk", "journal.db"), nil)
	if err != nil {
		return res, err
	}
	defer j.Close()
	submitted := map[string]int64{}
	err = j.Scan(1, func(r journal.Record) error {
		switch r.Kind {
		case journal.VoucherIssued:
			res.vouchers += r.Amount
		case journal.PaymentSubmitted:
			submitted[r.Key] = r.Amount
		case journal.PaymentAcknowledged, journal.PaymentRefused:
			delete(submitted, r.Key)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	for _, a := range submitted {
		res.pending += a // journaled, never acknowledged: not delivered
	}
	if d := res.stacked - res.paid - res.vouchers; d > 0 {
		res.lost = d
	} else {
		res.duplicated = -d
	}
	if res.pending != 0 {
		fmt.Printf("crashtest: %d fen journaled but not delivered to the platform\n", res.pending)
		res.lost += res.pending
	}
	fmt.Printf("crashtest: power cuts=%d\n", res.powerCuts)
	return res, nil
}

func postJSON(url string, body any) error {
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", strings.NewReader(string(b)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s %s", url, resp.Status, msg)
	}
	return nil
}

// state is the part of the daemon's snapshot the script reads.
type state struct {
	Version uint64 `json:"version"`
	Screen  string `json:"screen"`
	Notice  *struct {
		Code string `json:"code"`
	} `json:"notice"`
	Cash *struct {
		Credit   int64 `json:"credit"`
		InFlight bool  `json:"inFlight"`
	} `json:"cash"`
	Devices struct {
		BillValidator struct {
			Detail string `json:"detail"`
		} `json:"billValidator"`
	} `json:"devices"`
	Gov *govState `json:"gov"`
}

type screen struct {
	conn   *websocket.Conn
	states chan state
	comps  chan completion
	closed chan struct{} // the daemon went away: no completion will come
	last   state         // the newest state waitFor has seen
	next   int64
}

type completion struct {
	id   int64
	code string
}

func dialScreen(ctx context.Context, addr string) (*screen, error) {
	d := websocket.Dialer{Subprotocols: []string{"tongban.ui.v1"}, HandshakeTimeout: 2 * time.Second}
	conn, _, err := d.DialContext(ctx, "ws://"+addr+"/ws", http.Header{"Origin": {"http://" + addr}})
	if err != nil {
		return nil, err
	}
	s := &screen{conn: conn, states: make(chan state, 64), comps: make(chan completion, 16), closed: make(chan struct{})}
	go func() {
		defer close(s.states)
		defer close(s.closed)
		for {
			var m struct {
				Header struct {
					Type, Name, CompletionCode string
					RequestID                  int64
					Status                     *string
				} `json:"header"`
				Payload json.RawMessage `json:"payload"`
			}
			if err := conn.ReadJSON(&m); err != nil {
				return
			}
			switch {
			case m.Header.Type == "unsolicited":
				var st state
				if json.Unmarshal(m.Payload, &st) == nil {
					select {
					case s.states <- st:
					default:
						<-s.states
						s.states <- st
					}
				}
			case m.Header.Type == "completion":
				s.comps <- completion{m.Header.RequestID, m.Header.CompletionCode}
			case m.Header.Type == "acknowledge" && m.Header.Status != nil:
				s.comps <- completion{m.Header.RequestID, *m.Header.Status}
			}
		}
	}()
	return s, nil
}

func (s *screen) close() { s.conn.Close() }

func (s *screen) command(name string, payload any) error {
	s.next++
	b, _ := json.Marshal(payload)
	msg := map[string]any{"header": map[string]any{"type": "command", "name": name, "requestId": s.next, "version": "1.0"}, "payload": json.RawMessage(b)}
	if err := s.conn.WriteJSON(msg); err != nil {
		return err
	}
	timeout := time.After(20 * time.Second)
	for {
		select {
		case c := <-s.comps:
			if c.id != s.next {
				continue
			}
			if c.code != "success" {
				return fmt.Errorf("%s: %s", name, c.code)
			}
			return nil
		case <-s.closed:
			return fmt.Errorf("%s: connection closed", name)
		case <-timeout:
			return fmt.Errorf("%s: no completion", name)
		}
	}
}

func (s *screen) waitFor(ctx context.Context, ok func(state) bool) (state, error) {
	var last state
	for {
		select {
		case st, open := <-s.states:
			if !open {
				return st, fmt.Errorf("connection closed")
			}
			last, s.last = st, st
			if ok(st) {
				return st, nil
			}
		case <-ctx.Done():
			b, _ := json.Marshal(last)
			return state{}, fmt.Errorf("%w; last state %s", ctx.Err(), b)
		}
	}
}

// settle brings whatever the daemon shows back home: a restored session
// with credit is paid (the resident came back) or left to become a voucher
// (they walked away), at random.
func (s *screen) settle(ctx context.Context) error {
	for {
		st, err := s.waitFor(ctx, func(state) bool { return true })
		if err != nil {
			return err
		}
		switch st.Screen {
		case "home":
			return nil
		case "done", "voucher":
			s.command("Session.Finish", nil)
		case "cash":
			if st.Cash != nil && st.Cash.Credit > 0 && !st.Cash.InFlight && rand.IntN(2) == 0 {
				s.command("Payment.Confirm", nil)
			} else if st.Cash == nil || st.Cash.Credit == 0 {
				s.command("Session.Cancel", nil)
			}
		case "account", "bill":
			s.command("Session.Cancel", nil)
		case "services", "matter", "apply-card", "apply-form", "apply-done", "apply-refused", "progress", "progress-result":
			s.command("Gov.Back", nil) // a resident's form is dropped; a submitted one is the outbox's
		}
	}
}
