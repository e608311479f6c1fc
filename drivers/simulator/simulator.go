// Package simulator runs every simulated device of a terminal in one
// process: each serial device on its own pseudo terminal, with a stable
// link under <dir>/dev/, and the GPIO devices (coin acceptor, door,
// tamper and presence switches, indicator lights) on a simulated board
// served on <dir>/dev/gpio. A small loopback HTTP control API inserts
// notes and coins, places ID cards, presents codes to the scanner, moves
// switches, injects faults and pulls cables. It is a separate process from
// the daemon, so a killed daemon leaves the devices, and the cash in them,
// where they are.
package simulator

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"periph.io/x/conn/v3/gpio"

	escpossim "tongban/drivers/escpos/sim"
	gpiosim "tongban/drivers/gpiolines/sim"
	"tongban/drivers/id003"
	id003sim "tongban/drivers/id003/sim"
	"tongban/drivers/idcard"
	idcardcodec "tongban/drivers/idcard/codec"
	idcardsim "tongban/drivers/idcard/sim"
	pulsesim "tongban/drivers/pulse/sim"
	"tongban/drivers/scanner"
	scannercodec "tongban/drivers/scanner/codec"
	scannersim "tongban/drivers/scanner/sim"
	"tongban/drivers/serialport"
	"tongban/drivers/simgpio"
	"tongban/drivers/simport"
	"tongban/drivers/ssp"
	sspsim "tongban/drivers/ssp/sim"
)

// Device roles, as named in hardware profiles and the control API.
const (
	BillValidator = "billValidator"
	Printer       = "printer"
	IDCardReader  = "idCardReader"
	Scanner       = "scanner"
	CoinAcceptor  = "coinAcceptor"
	GPIO          = "gpio"
)

// Roles lists every simulated device.
func Roles() []string {
	return []string{BillValidator, Printer, IDCardReader, Scanner, CoinAcceptor, GPIO}
}

// SerialRoles lists the devices on pseudo terminals (those that can be
// unplugged).
func SerialRoles() []string { return []string{BillValidator, Printer, IDCardReader, Scanner} }

// Bill validator protocols.
const (
	ProtocolID003 = "id003"
	ProtocolSSP   = "ssp"
)

// The simulated GPIO board's wiring; a profile names these lines as
// "sim:" + name on the board at Link(GPIO).
const (
	PinCoin          = "coin"        // coin acceptor pulse output, active low
	PinCoinInhibit   = "coinInhibit" // coin acceptor inhibit input, high inhibits
	PinDoor          = "door"        // cabinet door switch, active high (open)
	PinTamper        = "tamper"      // tamper switch, active high
	PinPresence      = "presence"    // presence sensor, active high
	PinCardSlotLight = "cardSlotLight"
	PinNoteSlotLight = "noteSlotLight"
	PinPrinterLight  = "printerLight"
	// CoinValuePerPulse is what one pulse of the simulated coin acceptor
	// is worth (fen): a 1-yuan coin is 2 pulses.
	CoinValuePerPulse = 50
)

// Coins lists the coin values (fen) the simulated acceptor takes.
func Coins() []int64 { return []int64{50, 100} }

// Options configure the simulators.
type Options struct {
	Dir    string // dev/ links, receipts/ and sim.db live here
	Logger *slog.Logger
	// Fast makes the devices' mechanics and reply pacing take
	// milliseconds (tests).
	Fast bool
	// BillValidator is the bill validator's protocol: ProtocolID003 (the
	// default) or ProtocolSSP.
	BillValidator string
}

// serialDev is one device on a pseudo terminal.
type serialDev struct {
	port   *simport.Endpoint
	unplug func() error
	replug func() error
}

// Simulator is the running set of devices.
type Simulator struct {
	opts Options
	log  *slog.Logger
	db   *bolt.DB

	serial map[string]*serialDev
	id003  *id003sim.Sim // one of id003 and ssp is set
	line   *lineFaults   // line faults for the ID003 validator
	ssp    *sspsim.Sim
	pr     *escpossim.Printer
	idc    *idcardsim.Sim
	sc     *scannersim.Scanner

	lines    *gpiosim.Board // the GPIO lines, served to the daemon by board
	board    *simgpio.Board
	boardLn  net.Listener // made in New, so the socket exists as the pty links do
	coin     *pulsesim.Acceptor
	switches map[string]*gpiosim.Switch

	mu      sync.Mutex
	faults  map[string]map[string]string // role → lasting fault → its argument
	plugged map[string]bool
	card    string // the sample on the ID card reader, "" if none
}

var (
	cashBucket = []byte("cashbox")
	coinBucket = []byte("coinbox")
)

// maxSocketPath is the longest unix socket path Linux takes (sun_path
// holds 108 bytes with the terminating NUL).
const maxSocketPath = 107

// New opens the devices' pseudo terminals and restores the cash boxes.
func New(opts Options) (*Simulator, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	switch opts.BillValidator {
	case "":
		opts.BillValidator = ProtocolID003
	case ProtocolID003, ProtocolSSP:
	default:
		return nil, fmt.Errorf("simulator: bill validator protocol %q: want %s or %s", opts.BillValidator, ProtocolID003, ProtocolSSP)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	s := &Simulator{opts: opts, log: opts.Logger, serial: map[string]*serialDev{}, switches: map[string]*gpiosim.Switch{},
		faults: map[string]map[string]string{}, plugged: map[string]bool{}}
	if n := len(s.Link(GPIO)); n > maxSocketPath {
		return nil, fmt.Errorf("simulator: the GPIO board's socket %s is %d bytes long, more than a unix socket takes (%d): use a shorter data folder", s.Link(GPIO), n, maxSocketPath)
	}
	db, err := bolt.Open(filepath.Join(opts.Dir, "sim.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("simulator: open sim.db (is another simulator running on %s?): %w", opts.Dir, err)
	}
	s.db = db
	if err := s.open(); err != nil {
		s.closePorts()
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Simulator) open() error {
	box, err := s.loadBox(cashBucket)
	if err != nil {
		return err
	}
	bvLog := s.log.With("device", BillValidator, "protocol", s.opts.BillValidator)
	var bvLine serialport.Line
	if s.opts.BillValidator == ProtocolSSP {
		delays := sspsim.RealisticDelays()
		if s.opts.Fast {
			delays = sspsim.FastDelays()
		}
		s.ssp = sspsim.New(sspsim.Config{Delays: delays, CashBox: box, OnStacked: s.saveNote, Logger: bvLog})
		bvLine = ssp.DefaultLine()
	} else {
		delays := id003sim.RealisticDelays()
		if s.opts.Fast {
			delays = id003sim.FastDelays()
		}
		s.id003 = id003sim.New(id003sim.Config{Delays: delays, CashBox: box, OnStacked: s.saveNote, Logger: bvLog})
		bvLine = id003.DefaultLine()
	}
	for _, d := range []struct {
		role string
		line serialport.Line
	}{
		{BillValidator, bvLine},
		{Printer, serialport.Line{Baud: 115200, DataBits: 8, Parity: "none", StopBits: 1}},
		{IDCardReader, idcard.DefaultLine()},
		{Scanner, scanner.DefaultLine()},
	} {
		ep, err := simport.Open(s.Link(d.role), d.line)
		if err != nil {
			return fmt.Errorf("simulator: %s: %w", d.role, err)
		}
		s.serial[d.role] = &serialDev{port: ep, unplug: func() error { ep.Unplug(); return nil }, replug: ep.Replug}
		s.plugged[d.role] = true
	}
	s.pr = escpossim.New(s.serial[Printer].port, escpossim.Config{Dir: filepath.Join(s.opts.Dir, "receipts"), Logger: s.log.With("device", Printer),
		OnReceipt: func(r escpossim.Receipt) { s.log.Info("receipt printed", "file", r.TextPath, "qr", r.QRPayloads) }})
	s.idc = idcardsim.New(idcardsim.Config{Fast: s.opts.Fast, Logger: s.log.With("device", IDCardReader)})
	// A Newland in auto-sense mode: the daemon's mode command is answered,
	// and a presented code is read at once.
	s.sc = scannersim.New(s.serial[Scanner].port, scannersim.Config{Model: scannercodec.ModelNewland, Logger: s.log.With("device", Scanner)})
	// The scanner's own Unplug nudges its pending read so the host sees
	// the cable go even though a scanner host rarely writes.
	s.serial[Scanner].unplug, s.serial[Scanner].replug = s.sc.Unplug, s.sc.Replug

	s.lines = gpiosim.NewBoard()
	s.board = simgpio.NewBoard(s.log.With("device", GPIO))
	timing := pulsesim.CoinTiming()
	if s.opts.Fast {
		timing = pulsesim.Timing{Width: 25 * time.Millisecond, Gap: 25 * time.Millisecond, Pause: 350 * time.Millisecond}
	}
	coin := s.lines.Add(PinCoin)
	s.coin = pulsesim.New(coin, pulsesim.Config{ActiveLow: true, Timing: timing, Logger: s.log.With("device", CoinAcceptor)})
	if err := s.board.AddInput(coin); err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	inhibit := s.lines.Add(PinCoinInhibit)
	inhibit.Out(gpio.High) // inhibited until the daemon releases it
	s.board.AddOutput(inhibit)
	for _, name := range []string{PinDoor, PinTamper, PinPresence} {
		s.switches[name] = s.lines.Switch(name, false)
		if err := s.board.AddInput(s.lines.Pin(name)); err != nil {
			return fmt.Errorf("simulator: %w", err)
		}
	}
	for _, name := range []string{PinCardSlotLight, PinNoteSlotLight, PinPrinterLight} {
		s.board.AddOutput(s.lines.Add(name))
	}
	// A stale socket is one a killed simulator left: sim.db's lock says
	// no other simulator runs on this folder.
	os.Remove(s.Link(GPIO))
	ln, err := net.Listen("unix", s.Link(GPIO))
	if err != nil {
		return fmt.Errorf("simulator: GPIO board: %w", err)
	}
	s.boardLn = ln
	return nil
}

func (s *Simulator) closePorts() {
	for _, d := range s.serial {
		d.port.Close()
	}
	if s.boardLn != nil {
		s.boardLn.Close()
	}
}

// Link is the stable path a hardware profile names for a device: a pty
// link for a serial device, the board's socket for the GPIO devices.
func (s *Simulator) Link(role string) string {
	name := map[string]string{BillValidator: "bill-validator", Printer: "printer", IDCardReader: "id-card-reader", Scanner: "scanner",
		CoinAcceptor: "gpio", GPIO: "gpio"}[role]
	return filepath.Join(s.opts.Dir, "dev", name)
}

// Protocol is the bill validator's protocol.
func (s *Simulator) Protocol() string { return s.opts.BillValidator }

// BillValidator is the simulated ID003 acceptor (for tests); nil when the
// simulator runs SSP.
func (s *Simulator) BillValidator() *id003sim.Sim { return s.id003 }

// SSP is the simulated SSP validator (for tests); nil when the simulator
// runs ID003.
func (s *Simulator) SSP() *sspsim.Sim { return s.ssp }

// Printer is the simulated receipt printer (for tests).
func (s *Simulator) Printer() *escpossim.Printer { return s.pr }

// IDCardReader is the simulated ID card reader (for tests).
func (s *Simulator) IDCardReader() *idcardsim.Sim { return s.idc }

// Scanner is the simulated barcode scanner (for tests).
func (s *Simulator) Scanner() *scannersim.Scanner { return s.sc }

// GPIOLines is the simulated GPIO board's lines (for tests).
func (s *Simulator) GPIOLines() *gpiosim.Board { return s.lines }

// Run serves the devices until ctx ends.
func (s *Simulator) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	serve := func(name string, f func() error) {
		wg.Go(func() {
			if err := f(); err != nil && ctx.Err() == nil {
				s.log.Error("simulator stopped", "device", name, "err", err)
			}
		})
	}
	if s.ssp != nil {
		serve(BillValidator, func() error { return s.ssp.Serve(ctx, s.serial[BillValidator].port) })
	} else {
		s.line = &lineFaults{ReadWriter: s.serial[BillValidator].port}
		serve(BillValidator, func() error { return s.id003.Serve(ctx, s.line) })
	}
	serve(Printer, func() error { return s.pr.Run(ctx) })
	serve(IDCardReader, func() error { return s.idc.Serve(ctx, s.serial[IDCardReader].port) })
	serve(Scanner, func() error { return s.sc.Run(ctx) })
	serve(GPIO, func() error { return s.board.ServeListener(ctx, s.boardLn) })
	<-ctx.Done()
	s.closePorts()
	wg.Wait()
	os.Remove(s.Link(GPIO))
	return s.db.Close()
}

func (s *Simulator) loadBox(bucket []byte) (map[int64]int, error) {
	box := map[int64]int{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
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
		return nil, fmt.Errorf("simulator: %s: %w", bucket, err)
	}
	return box, nil
}

// readBox reads a box's counts without writing (State is polled).
func (s *Simulator) readBox(bucket []byte) (map[int64]int, error) {
	box := map[int64]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) == 8 && len(v) == 8 {
				box[int64(binary.BigEndian.Uint64(k))] = int(binary.BigEndian.Uint64(v))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("simulator: %s: %w", bucket, err)
	}
	return box, nil
}

// saveNote persists the cash box count: the simulator's cash is one of the
// independent sources the money checks compare against.
func (s *Simulator) saveNote(value int64) { s.count(cashBucket, value) }

func (s *Simulator) count(bucket []byte, value int64) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
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
		s.log.Error("cash box not saved", "err", err, "box", string(bucket), "value", value)
	}
}

// ErrNotAccepting is returned by InsertNote and InsertCoin when the
// device does not take money now (disabled, inhibited, or stopped by a
// fault): a real one would hand it back.
var ErrNotAccepting = errors.New("not accepting")

// InsertNote puts a note (fen) into the bill validator.
func (s *Simulator) InsertNote(value int64) error {
	var err error
	if s.ssp != nil {
		err = s.ssp.Insert(value)
	} else {
		err = s.id003.Insert(value)
	}
	if err != nil {
		return fmt.Errorf("bill validator: %w: %w", ErrNotAccepting, err)
	}
	return nil
}

// InsertCoin drops a coin (fen) into the coin acceptor, which pulses it
// to the daemon. It blocks until the pulse train is sent. A coin while
// the daemon holds the acceptor inhibited is handed back. cutAfter > 0
// cuts the train after that many pulses (a coin pulled back on its
// string, a power dip).
func (s *Simulator) InsertCoin(ctx context.Context, value int64, cutAfter int) error {
	if !slices.Contains(Coins(), value) {
		return fmt.Errorf("coin %d fen: the acceptor takes %v", value, Coins())
	}
	if s.lines.Level(PinCoinInhibit) == gpio.High {
		return fmt.Errorf("coin acceptor: %w: inhibited by the terminal (coin returned)", ErrNotAccepting)
	}
	n := int(value / CoinValuePerPulse)
	if cutAfter > 0 && cutAfter < n {
		return s.coin.InsertCut(ctx, n, cutAfter)
	}
	if err := s.coin.Insert(ctx, n); err != nil {
		if errors.Is(err, pulsesim.ErrStuck) {
			return fmt.Errorf("coin acceptor: %w: %w", ErrNotAccepting, err)
		}
		return fmt.Errorf("coin acceptor: %w", err)
	}
	s.count(coinBucket, value)
	return nil
}

// PlaceCard puts a sample card (by name, see Samples) on the ID card
// reader.
func (s *Simulator) PlaceCard(sample string) error {
	c, ok := idcardsim.Samples()[sample]
	if !ok {
		return fmt.Errorf("ID card sample %q: want one of %s", sample, strings.Join(Samples(), ", "))
	}
	if err := s.idc.PlaceCard(c); err != nil {
		return fmt.Errorf("ID card reader: %w", err)
	}
	s.mu.Lock()
	s.card = sample
	s.mu.Unlock()
	return nil
}

// RemoveCard takes the card off the ID card reader.
func (s *Simulator) RemoveCard() {
	s.idc.RemoveCard()
	s.mu.Lock()
	s.card = ""
	s.mu.Unlock()
}

// Samples lists the sample ID cards' names.
func Samples() []string {
	var ns []string
	for n := range idcardsim.Samples() {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// Scan presents a code to the scanner.
func (s *Simulator) Scan(code string) error {
	if code == "" || strings.ContainsAny(code, "\r\n") {
		return errors.New("scan: want a non-empty code on one line")
	}
	s.sc.Scan(code)
	return nil
}

// SetInput moves a switch of the GPIO board: door (open), tamper,
// presence.
func (s *Simulator) SetInput(ctx context.Context, name string, active bool) error {
	sw, ok := s.switches[name]
	if !ok {
		return fmt.Errorf("GPIO input %q: want %s, %s or %s", name, PinDoor, PinTamper, PinPresence)
	}
	return sw.Set(ctx, active)
}

// Plug pulls (false) or puts back (true) a serial device's cable. A
// replugged device comes back on a new pseudo terminal; its link follows.
func (s *Simulator) Plug(role string, in bool) error {
	d, ok := s.serial[role]
	if !ok {
		return fmt.Errorf("device %q cannot be unplugged: want one of %s", role, strings.Join(SerialRoles(), ", "))
	}
	var err error
	if in {
		err = d.replug()
	} else {
		err = d.unplug()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", role, err)
	}
	s.mu.Lock()
	s.plugged[role] = in
	s.mu.Unlock()
	s.log.Info("cable", "device", role, "plugged", in, "path", d.port.Path())
	return nil
}

// State is what GET /state returns.
type State struct {
	BillValidator struct {
		Protocol string         `json:"protocol"`
		Path     string         `json:"path"`
		Plugged  bool           `json:"plugged"`
		Status   string         `json:"status"`
		Faults   []string       `json:"faults"`
		CashBox  map[string]int `json:"cashBox"` // value in fen → count
		Total    int64          `json:"total"`   // fen
	} `json:"billValidator"`
	Printer struct {
		Path     string   `json:"path"`
		Plugged  bool     `json:"plugged"`
		Status   string   `json:"status"`
		Faults   []string `json:"faults"`
		Receipts int      `json:"receipts"`
		Last     string   `json:"lastReceipt,omitempty"` // readable rendering
		LastFile string   `json:"lastReceiptFile,omitempty"`
	} `json:"printer"`
	IDCardReader struct {
		Path     string   `json:"path"`
		Plugged  bool     `json:"plugged"`
		Card     string   `json:"card,omitempty"` // sample name
		Samples  []string `json:"samples"`
		Faults   []string `json:"faults"`
		Commands int      `json:"commands"`
	} `json:"idCardReader"`
	Scanner struct {
		Path    string   `json:"path"`
		Plugged bool     `json:"plugged"`
		Model   string   `json:"model"`
		Manual  bool     `json:"manual"`
		Reads   int      `json:"reads"`
		Waiting int      `json:"waiting"`
		Faults  []string `json:"faults"`
	} `json:"scanner"`
	CoinAcceptor struct {
		Pin           string         `json:"pin"`
		Inhibited     bool           `json:"inhibited"`
		ValuePerPulse int64          `json:"valuePerPulse"`
		Pulses        int            `json:"pulses"`
		Trains        int            `json:"trains"`
		Faults        []string       `json:"faults"`
		CoinBox       map[string]int `json:"coinBox"`
		Total         int64          `json:"total"`
	} `json:"coinAcceptor"`
	GPIO struct {
		Board   string          `json:"board"`
		Clients int             `json:"clients"`
		Inputs  map[string]bool `json:"inputs"` // active
		Lights  map[string]bool `json:"lights"` // lit (driven high)
		Faults  []string        `json:"faults"`
	} `json:"gpio"`
}

// State reports every device.
func (s *Simulator) State() State {
	var st State
	s.mu.Lock()
	plugged := func(role string) bool { return s.plugged[role] }
	faults := func(role string) []string {
		fs := []string{}
		for n, a := range s.faults[role] {
			if a != "" {
				n += ":" + a
			}
			fs = append(fs, n)
		}
		sort.Strings(fs)
		return fs
	}
	bv := &st.BillValidator
	bv.Protocol, bv.Plugged, bv.Faults = s.opts.BillValidator, plugged(BillValidator), faults(BillValidator)
	st.Printer.Plugged, st.Printer.Faults = plugged(Printer), faults(Printer)
	st.IDCardReader.Plugged, st.IDCardReader.Faults, st.IDCardReader.Card = plugged(IDCardReader), faults(IDCardReader), s.card
	st.Scanner.Plugged, st.Scanner.Faults = plugged(Scanner), faults(Scanner)
	st.CoinAcceptor.Faults, st.GPIO.Faults = faults(CoinAcceptor), faults(GPIO)
	s.mu.Unlock()

	bv.Path = s.serial[BillValidator].port.Path()
	bv.CashBox = map[string]int{}
	var box map[int64]int
	if s.ssp != nil {
		bv.Status = s.ssp.State().Phase
		box = s.ssp.CashBox()
	} else {
		bv.Status = s.id003.Status().String()
		box = s.id003.CashBox()
	}
	for v, n := range box {
		bv.CashBox[fmt.Sprint(v)] = n
		bv.Total += v * int64(n)
	}

	st.Printer.Path = s.serial[Printer].port.Path()
	st.Printer.Status = s.pr.Status().String()
	rs := s.pr.Receipts()
	st.Printer.Receipts = len(rs)
	if len(rs) > 0 {
		st.Printer.Last, st.Printer.LastFile = rs[len(rs)-1].Text, rs[len(rs)-1].TextPath
	}

	st.IDCardReader.Path = s.serial[IDCardReader].port.Path()
	st.IDCardReader.Samples = Samples()
	for _, n := range s.idc.Stats().Commands {
		st.IDCardReader.Commands += n
	}

	st.Scanner.Path = s.serial[Scanner].port.Path()
	st.Scanner.Model, st.Scanner.Manual = scannercodec.ModelNewland, s.sc.Manual()
	st.Scanner.Reads, st.Scanner.Waiting = s.sc.Reads(), s.sc.Waiting()

	ca := &st.CoinAcceptor
	ca.Pin, ca.ValuePerPulse = "sim:"+PinCoin, CoinValuePerPulse
	ca.Inhibited = s.lines.Level(PinCoinInhibit) == gpio.High
	ca.Pulses, ca.Trains = s.coin.Sent()
	ca.CoinBox = map[string]int{}
	if coins, err := s.readBox(coinBucket); err == nil {
		for v, n := range coins {
			ca.CoinBox[fmt.Sprint(v)] = n
			ca.Total += v * int64(n)
		}
	}

	st.GPIO.Board, st.GPIO.Clients = s.Link(GPIO), s.board.Clients()
	st.GPIO.Inputs = map[string]bool{}
	for n, sw := range s.switches {
		st.GPIO.Inputs[n] = sw.Active()
	}
	st.GPIO.Lights = map[string]bool{}
	for _, n := range []string{PinCardSlotLight, PinNoteSlotLight, PinPrinterLight} {
		st.GPIO.Lights[n] = s.lines.Level(n) == gpio.High
	}
	return st
}

// noteFault records (on) or forgets a lasting fault for State.
func (s *Simulator) noteFault(role, name, arg string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults[role] == nil {
		s.faults[role] = map[string]string{}
	}
	if on {
		s.faults[role][name] = arg
	} else {
		delete(s.faults[role], name)
	}
}

func (s *Simulator) clearFaults(role string, keep ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n := range s.faults[role] {
		if !slices.Contains(keep, n) {
			delete(s.faults[role], n)
		}
	}
}

// idcardStatus parses a SAM status in hex ("41", "0x60").
func idcardStatus(arg string, def idcardcodec.Status) (idcardcodec.Status, error) {
	if arg == "" {
		return def, nil
	}
	v, err := parseUint(strings.TrimPrefix(strings.ToLower(arg), "0x"), 16, 8)
	if err != nil {
		return 0, fmt.Errorf("SAM status %q: want two hex digits, e.g. 41 or 60", arg)
	}
	return idcardcodec.Status(v), nil
}
