package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	escpos "tongban/drivers/escpos/codec"
	id003 "tongban/drivers/id003/codec"
	idcard "tongban/drivers/idcard/codec"
	scanner "tongban/drivers/scanner/codec"
	"tongban/drivers/serialport"
	ssp "tongban/drivers/ssp/codec"
	"tongban/provisioning/profile"
)

// Protocols the probe knows.
const (
	ProtoESCPOS  = "escpos"  // ESC/POS receipt printer: DLE EOT 1 → a status byte
	ProtoID003   = "id003"   // JCM ID003 bill validator: status request 11 → a status frame; 88 version
	ProtoSSP     = "ssp"     // ITL SSP/eSSP bill validator: SYNC → F0; setup request
	ProtoIDCard  = "idcard"  // resident ID card reader's SAM: 11 FF → SW3 90; 12 FF SAM id
	ProtoNewland = "newland" // Newland barcode scanner: #SCNTRG0 → ACK reply
)

// Protocols is the default order of attempts: ESC/POS first, so a printer
// never receives another protocol's bytes (which it would print).
func Protocols() []string {
	return []string{ProtoESCPOS, ProtoID003, ProtoSSP, ProtoIDCard, ProtoNewland}
}

var errNoReply = errors.New("no reply")

type result struct {
	identity, detail string
	tune             func(*profile.Device)
}

type protocol struct {
	role, driver string
	lines        []serialport.Line // the profile default first, then usual alternatives
	identify     func(ctx context.Context, c *conn) (result, error)
}

func line(baud, stop int, parity string) serialport.Line {
	return serialport.Line{Baud: baud, DataBits: 8, Parity: parity, StopBits: stop}
}

var protocols = map[string]protocol{
	ProtoESCPOS: {role: "printer", driver: "escpos",
		lines: []serialport.Line{profile.DefaultLine("printer", "escpos"), line(9600, 1, "none")}, identify: identifyESCPOS},
	ProtoID003: {role: "billValidator", driver: "id003",
		lines: []serialport.Line{profile.DefaultLine("billValidator", "id003")}, identify: identifyID003},
	ProtoSSP: {role: "billValidator", driver: "ssp",
		lines: []serialport.Line{profile.DefaultLine("billValidator", "ssp")}, identify: identifySSP},
	ProtoIDCard: {role: "idCardReader", driver: "idcard",
		lines: []serialport.Line{profile.DefaultLine("idCardReader", "idcard")}, identify: identifyIDCard},
	ProtoNewland: {role: "scanner", driver: "scanner",
		lines: []serialport.Line{profile.DefaultLine("scanner", "scanner"), line(115200, 1, "none")}, identify: identifyNewland},
}

// conn is an open port with request/reply helpers.
type conn struct {
	p       serialport.Port
	timeout time.Duration
	buf     [512]byte
}

// exchange drops stale input, sends req and feeds what comes back to take
// until it reports done, the timeout passes (errNoReply, or a description
// of the garbage seen) or ctx ends.
func (c *conn) exchange(ctx context.Context, req []byte, take func([]byte) (done bool)) error {
	_ = c.p.ResetInputBuffer() // a late reply to an earlier attempt is not this one's
	if _, err := c.p.Write(req); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	deadline := time.Now().Add(c.timeout)
	got := 0
	for {
		left := time.Until(deadline)
		if left <= 0 {
			if got > 0 {
				return fmt.Errorf("%d byte(s) that are not a reply", got)
			}
			return errNoReply
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.p.SetReadTimeout(min(left, 25*time.Millisecond)); err != nil {
			return fmt.Errorf("set read timeout: %w", err)
		}
		n, err := c.p.Read(c.buf[:])
		if n > 0 {
			got += n
			if take(c.buf[:n]) {
				return nil
			}
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
	}
}

func identifyESCPOS(ctx context.Context, c *conn) (result, error) {
	var replies [4]byte
	for n := byte(1); n <= 4; n++ {
		skip := 0 // bytes of an Automatic Status Back block still to skip
		err := c.exchange(ctx, []byte{escpos.DLE, escpos.EOT, n}, func(b []byte) bool {
			for _, x := range b {
				switch {
				case skip > 0:
					skip--
				case escpos.IsASBHeader(x):
					skip = 3
				case escpos.ValidStatus(x):
					replies[n-1] = x
					return true
				}
			}
			return false
		})
		if err != nil {
			if n == 1 {
				return result{}, err
			}
			// A printer that answered DLE EOT 1 is a printer; some models
			// only know n = 1..2.
			return result{identity: "ESC/POS printer", detail: fmt.Sprintf("DLE EOT %d: %v", n, err)}, nil
		}
	}
	st, err := escpos.DecodeStatus(replies)
	if err != nil {
		return result{identity: "ESC/POS printer", detail: err.Error()}, nil
	}
	detail := "ready"
	if !st.Ready() {
		detail = st.Reason()
	} else if st.PaperNearEnd {
		detail = "ready, paper near end"
	}
	return result{identity: "ESC/POS printer", detail: detail}, nil
}

func identifyID003(ctx context.Context, c *conn) (result, error) {
	frame := func(cmd id003.Command, accept func(id003.Frame) bool) (id003.Frame, error) {
		req, err := id003.Encode(id003.Frame{Cmd: byte(cmd)})
		if err != nil {
			return id003.Frame{}, err
		}
		var (
			d   id003.Decoder
			got id003.Frame
		)
		err = c.exchange(ctx, req, func(b []byte) bool {
			d.Feed(b)
			for {
				f, err := d.Next()
				if errors.Is(err, id003.ErrIncomplete) {
					return false
				}
				if err == nil && accept(f) {
					got = f
					return true
				}
			}
		})
		return got, err
	}
	st, err := frame(id003.CmdStatusRequest, func(f id003.Frame) bool { return id003.Status(f.Cmd).Known() })
	if err != nil {
		return result{}, err
	}
	res := result{identity: "ID003 bill validator", detail: id003.Status(st.Cmd).String()}
	if v, err := frame(id003.CmdGetVersion, func(f id003.Frame) bool { return f.Cmd == byte(id003.CmdGetVersion) }); err == nil {
		res.identity = "ID003 " + printable(v.Data)
	}
	return res, nil
}

func identifySSP(ctx context.Context, c *conn) (result, error) {
	seq := true // SYNC goes with the sequence flag set; each later command toggles it
	send := func(data []byte) (ssp.Reply, error) {
		req, err := ssp.Encode(ssp.Frame{Seq: seq, Addr: ssp.AddrValidator, Data: data})
		if err != nil {
			return ssp.Reply{}, err
		}
		var (
			d   ssp.Decoder
			rep ssp.Reply
		)
		err = c.exchange(ctx, req, func(b []byte) bool {
			d.Feed(b)
			for {
				f, err := d.Next()
				if errors.Is(err, ssp.ErrIncomplete) {
					return false
				}
				if err != nil || f.Addr != ssp.AddrValidator || f.Seq != seq {
					continue
				}
				if r, err := ssp.ParseReply(f.Data); err == nil {
					rep = r
					return true
				}
			}
		})
		seq = !seq
		return rep, err
	}
	rep, err := send(ssp.Build(ssp.CmdSync))
	if err != nil {
		return result{}, err
	}
	if rep.Code != ssp.OK {
		return result{}, fmt.Errorf("SYNC answered %v", rep.Code)
	}
	res := result{identity: "SSP note validator"}
	rep, err = send(ssp.Build(ssp.CmdSetupRequest))
	switch {
	case err != nil:
		res.detail = "setup request: " + err.Error()
	case rep.Code == ssp.KeyNotSet:
		res.detail = "requires eSSP encryption"
		res.tune = func(d *profile.Device) { d.Encrypted = true }
	case rep.Code != ssp.OK:
		res.detail = "setup request answered " + rep.Code.String()
	default:
		s, err := ssp.ParseSetup(rep.Data)
		if err != nil {
			res.detail = err.Error()
			break
		}
		res.identity = fmt.Sprintf("SSP unit type %d, firmware %s, %s, protocol %d", s.UnitType, printable([]byte(s.Firmware)), s.Country, s.Protocol)
		vals := make([]string, 0, len(s.Channels))
		for i := range s.Channels {
			vals = append(vals, fmt.Sprintf("%g", float64(s.MinorValue(i))/100))
		}
		res.detail = "channels " + strings.Join(vals, " ")
	}
	return res, nil
}

func identifyIDCard(ctx context.Context, c *conn) (result, error) {
	ask := func(op idcard.Op) (idcard.Reply, error) {
		req, err := idcard.Request{Op: op}.Encode()
		if err != nil {
			return idcard.Reply{}, err
		}
		var (
			d   idcard.Decoder
			got idcard.Reply
		)
		err = c.exchange(ctx, req, func(b []byte) bool {
			d.Feed(b)
			for {
				f, err := d.Next()
				if errors.Is(err, idcard.ErrIncomplete) {
					return false
				}
				if err != nil {
					continue
				}
				if r, err := f.Reply(); err == nil && op.Expects(r) {
					got = r
					return true
				}
			}
		})
		return got, err
	}
	st, err := ask(idcard.OpSAMStatus)
	if err != nil {
		return result{}, err
	}
	res := result{identity: "ID card reader (SAM)", detail: "SAM status: " + st.Status.English()}
	if r, err := ask(idcard.OpSAMID); err == nil && r.Status == idcard.StatusSuccess {
		if id, err := idcard.DecodeSAMID(r.Data); err == nil {
			res.identity = "ID card reader, SAM " + id.String()
		}
	}
	return res, nil
}

func identifyNewland(ctx context.Context, c *conn) (result, error) {
	cmd := scanner.NewlandTrigger(false) // trigger off: harmless in every mode
	fr := scanner.NewFramer(scanner.FramerConfig{Suffix: scanner.SuffixAuto})
	var status scanner.Status
	err := c.exchange(ctx, cmd, func(b []byte) bool {
		fr.Write(b)
		for {
			f, err := fr.Next()
			if errors.Is(err, scanner.ErrNeedMore) {
				return false
			}
			if r, ok := f.(scanner.Reply); err == nil && ok && r.Answers(cmd) {
				status = r.Status()
				return true
			}
		}
	})
	if err != nil {
		return result{}, err
	}
	return result{identity: "Newland barcode scanner", detail: "trigger command answered " + status.String(),
		tune: func(d *profile.Device) { d.Model = "newland" }}, nil
}

// printable keeps the printable ASCII of a device string.
func printable(b []byte) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, string(b)))
}

func jsonMarshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode profile: %w", err)
	}
	return b, nil
}
