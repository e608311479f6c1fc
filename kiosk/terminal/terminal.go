// Package terminal is the daemon's core: it owns the resident's session,
// decides what the devices do, journals every money event before acting on
// it, and talks to the county platform. Screens are adapters: they read
// Snapshots and send intents through Do; nothing they send can create
// credit or skip a step.
package terminal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"tongban/drivers/cash"
	"tongban/drivers/device"
	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// Printer is what the core needs of a receipt printer.
type Printer interface {
	Print(ctx context.Context, job []byte) error
	Health() device.Health
	OnHealth(func(device.Health))
}

// Platform is the county platform as the core uses it.
type Platform interface {
	Bill(ctx context.Context, utility uplink.Utility, account string) (uplink.Bill, error)
	Pay(ctx context.Context, key string, req uplink.PaymentRequest) (uplink.Payment, error)
	Health(ctx context.Context) error
}

// ReceiptFunc turns a finished payment into a printer job.
type ReceiptFunc func(r Receipt) ([]byte, error)

// Config wires a Terminal.
type Config struct {
	TerminalID string
	Journal    *journal.Journal
	Platform   Platform
	Cash       cash.Acceptor // nil when the profile has no bill validator
	Coins      cash.Acceptor // nil when the profile has no coin acceptor
	Printer    Printer       // nil when the profile has no printer
	Receipt    ReceiptFunc
	// AcceptValues limits the notes (fen) taken; empty means all the
	// device reports.
	AcceptValues []int64
	Logger       *slog.Logger
	// IdleTimeout returns an untouched session without credit to the home
	// screen. Zero means 90 s.
	IdleTimeout time.Duration
	// IdleWarning is how long before IdleTimeout ends a session the screen
	// asks "need more time?". Zero means a third of IdleTimeout, at most 30 s.
	IdleWarning time.Duration
	// SubmitPatience is how long a confirmed payment is retried in front of
	// the resident before it is left to the background forwarder. Zero
	// means 15 s.
	SubmitPatience time.Duration
	// DemoSimControl is the simulator's control URL, shown on the screen
	// only in demo mode so a person can insert simulated notes.
	DemoSimControl string
	// OfflinePerPayment and OfflineTotal cap the cash taken while the
	// platform is unreachable (fen): per payment, and all unconfirmed
	// payments together. Zero means 200 and 1000 yuan.
	OfflinePerPayment int64
	OfflineTotal      int64
	// OrderQueryInterval and OrderUnpaidTimeout pace mobile orders; zero
	// means the uplink API's 5 s and 30 s.
	OrderQueryInterval time.Duration
	OrderUnpaidTimeout time.Duration
	Now                func() time.Time
	// Government services (apply.go): the township whose catalog the
	// terminal offers ("" lets the platform decide), the ID card reader
	// (nil: none), the encrypted store for applications in the outbox
	// (nil: no applications) and how often the catalog is refetched
	// (zero: 10 minutes).
	Township       string
	IDCard         IDCardReader
	Sealed         SealedStore
	CatalogRefresh time.Duration
	// Staff tunes partner-site staff mode (staff.go).
	Staff StaffConfig
}

// Terminal is the core. Create it with New and start it with Run.
type Terminal struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	sess     *session
	devices  map[string]device.Health
	online   bool // last platform call reached the platform
	pending  map[string]pendingPayment
	version  uint64
	subs     map[int]chan Snapshot
	nextSub  int
	idle     *time.Timer
	wake     chan struct{} // nudges the forwarder
	runCtx   context.Context
	lastSnap Snapshot
	// ackRepeat: the last note event journaled was a credit, whose ACK may
	// not have reached the acceptor before a crash.
	ackRepeat bool
	hmu       sync.Mutex // guards hq only, never held with mu
	hq        map[string]device.Health
	hwake     chan struct{}
	vouchers  map[string]*Voucher
	unsent    map[string]bool // vouchers the platform has not acknowledged
	redeemed  map[string]bool // vouchers used towards a payment (or refunded)
	orders    map[string]openOrder
	gov       *govState // government services (catalog.go, apply.go)
	banner    *Banner   // the platform's notice (fleet.go)

	staff staffState // partner-site staff mode (staff.go), guarded by mu
	box   boxCount   // the cash box as the journal tells it (cash.go), its own lock
}

// New builds a Terminal and recovers state from the journal.
func New(cfg Config) (*Terminal, error) {
	if cfg.Journal == nil || cfg.Platform == nil {
		return nil, fmt.Errorf("terminal: journal and platform are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 90 * time.Second
	}
	if cfg.IdleWarning <= 0 || cfg.IdleWarning >= cfg.IdleTimeout {
		cfg.IdleWarning = min(30*time.Second, cfg.IdleTimeout/3)
	}
	if cfg.SubmitPatience == 0 {
		cfg.SubmitPatience = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OfflinePerPayment == 0 {
		cfg.OfflinePerPayment = 20000
	}
	if cfg.OfflineTotal == 0 {
		cfg.OfflineTotal = 100000
	}
	if cfg.OrderQueryInterval == 0 {
		cfg.OrderQueryInterval = uplink.OrderQueryInterval
	}
	if cfg.OrderUnpaidTimeout == 0 {
		cfg.OrderUnpaidTimeout = uplink.OrderUnpaidTimeout
	}
	t := &Terminal{
		cfg:      cfg,
		log:      cfg.Logger,
		devices:  map[string]device.Health{},
		online:   true,
		pending:  map[string]pendingPayment{},
		subs:     map[int]chan Snapshot{},
		wake:     make(chan struct{}, 1),
		hq:       map[string]device.Health{},
		hwake:    make(chan struct{}, 1),
		vouchers: map[string]*Voucher{},
		unsent:   map[string]bool{},
		redeemed: map[string]bool{},
		orders:   map[string]openOrder{},
		runCtx:   context.Background(),
		gov:      newGovState(),
	}
	if err := t.recover(); err != nil {
		return nil, err
	}
	if err := t.recoverStaff(); err != nil {
		return nil, err
	}
	if err := t.recoverGov(); err != nil {
		return nil, fmt.Errorf("recover applications: %w", err)
	}
	t.mu.Lock()
	t.publishLocked()
	t.mu.Unlock()
	return t, nil
}

// Run drives the devices and the forwarder until ctx ends.
func (t *Terminal) Run(ctx context.Context) error {
	t.mu.Lock()
	t.runCtx = ctx
	t.resumeOrders()
	t.mu.Unlock()
	var wg sync.WaitGroup
	if c := t.cfg.Cash; c != nil {
		t.mu.Lock()
		if t.sess != nil && t.sess.accepting {
			c.Enable(t.acceptedValues()) // a restored session takes notes again
		}
		t.mu.Unlock()
		c.OnHealth(t.healthFrom("billValidator"))
		t.deviceChanged("billValidator", c.Health())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Run(ctx, t.onCash); err != nil && ctx.Err() == nil {
				t.log.Error("bill validator stopped", "err", err)
			}
		}()
	}
	if c := t.cfg.Coins; c != nil {
		c.OnHealth(t.healthFrom("coinAcceptor"))
		t.deviceChanged("coinAcceptor", c.Health())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Run(ctx, t.onCoin); err != nil && ctx.Err() == nil {
				t.log.Error("coin acceptor stopped", "err", err)
			}
		}()
	}
	if p := t.cfg.Printer; p != nil {
		p.OnHealth(t.healthFrom("printer"))
		t.deviceChanged("printer", p.Health())
		if r, ok := p.(interface{ Run(context.Context) error }); ok {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := r.Run(ctx); err != nil && ctx.Err() == nil {
					t.log.Error("printer stopped", "err", err)
				}
			}()
		}
	}
	if c := t.cfg.IDCard; c != nil {
		c.OnHealth(t.healthFrom("idCardReader"))
		t.deviceChanged("idCardReader", c.Health())
	}
	wg.Go(func() { t.keepCatalog(ctx) }) // the township catalog (catalog.go)
	wg.Add(3)
	go func() {
		defer wg.Done()
		t.pumpHealth(ctx)
	}()
	go func() {
		defer wg.Done()
		t.forward(ctx)
	}()
	go func() {
		defer wg.Done()
		t.watchPlatform(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t.staffLoop(ctx) // staff reports to the platform (staff.go)
	}()
	<-ctx.Done()
	wg.Wait()
	return nil
}

// healthFrom is a device's health callback. Drivers may call it from any
// goroutine, including inside a call the core made while holding its lock
// (Enable), so it only queues the newest report per device; pumpHealth
// applies it.
func (t *Terminal) healthFrom(role string) func(device.Health) {
	return func(h device.Health) {
		t.hmu.Lock()
		t.hq[role] = h
		t.hmu.Unlock()
		select {
		case t.hwake <- struct{}{}:
		default:
		}
	}
}

func (t *Terminal) pumpHealth(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.hwake:
		}
		t.hmu.Lock()
		q := t.hq
		t.hq = map[string]device.Health{}
		t.hmu.Unlock()
		for role, h := range q {
			t.deviceChanged(role, h)
		}
	}
}

func (t *Terminal) deviceChanged(role string, h device.Health) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.devices[role] = h
	if role == "billValidator" {
		t.settleLocked(h)
		t.cashBoxHealthLocked(h) // cash-box removal (staff_cash.go)
	}
	t.publishLocked()
}

// Subscribe returns a channel that always holds the newest snapshot (older
// ones are dropped, never queued) and a cancel function.
func (t *Terminal) Subscribe() (<-chan Snapshot, func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ch := make(chan Snapshot, 1)
	id := t.nextSub
	t.nextSub++
	t.subs[id] = ch
	ch <- t.lastSnap
	return ch, func() {
		t.mu.Lock()
		delete(t.subs, id)
		t.mu.Unlock()
	}
}

// Snapshot is the current state.
func (t *Terminal) Snapshot() Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastSnap
}

func (t *Terminal) publishLocked() {
	t.version++
	s := t.snapshotLocked()
	t.lastSnap = s
	for _, ch := range t.subs {
		select {
		case <-ch:
		default:
		}
		ch <- s
	}
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("terminal: marshal %T: %v", v, err)) // only our own types reach here
	}
	return b
}

// watchPlatform checks the platform now and then, so the screen says
// plainly when it is unreachable (and the offline limits apply) before a
// resident finds out by trying.
func (t *Terminal) watchPlatform(ctx context.Context) {
	for {
		t.mu.Lock()
		every := 15 * time.Second
		if !t.online {
			every = 3 * time.Second
		}
		t.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := t.cfg.Platform.Health(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		t.mu.Lock()
		was := t.online
		t.online = err == nil
		if was != t.online {
			t.log.Info("platform reachability changed", "online", t.online, "err", err)
			t.publishLocked()
			if t.online {
				t.nudge()
			}
		}
		t.mu.Unlock()
	}
}
