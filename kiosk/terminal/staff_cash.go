package terminal

import (
	"slices"
	"strings"
	"time"

	"tongban/drivers/device"
	"tongban/kiosk/journal"
	"tongban/kiosk/uplink"
)

// boxRemoval is a cash-box removal as journaled: what the journal says
// the box held (notes stacked and coins counted since the last removal).
type boxRemoval struct {
	At       time.Time   `json:"at"`
	Expected []NoteCount `json:"expected"`
	StaffID  string      `json:"staffId,omitempty"` // who was signed in, if anyone
}

// boxOutDetail tells from a bill validator's health that its cash box is
// out: ID003 "stacker open (cash box removed)", SSP "cash box removed".
func boxOutDetail(h device.Health) bool {
	d := strings.ToLower(h.Detail)
	return strings.Contains(d, "cash box removed") || strings.Contains(d, "stacker open") || strings.Contains(d, "cashbox removed")
}

// cashBoxHealthLocked journals the cash box going out and coming back, as
// the validator reports it. The journal's counters restart at a removal.
func (t *Terminal) cashBoxHealthLocked(h device.Health) {
	st := &t.staff
	out := boxOutDetail(h)
	switch {
	case out && !st.boxOut:
		box, err := t.CashBox()
		if err != nil {
			t.log.Error("cash box count from the journal", "err", err)
		}
		rm := boxRemoval{At: t.cfg.Now().UTC(), Expected: sortedCounts(box)}
		if st.shift != nil {
			rm.StaffID = st.shift.StaffID
		}
		var total int64
		for _, n := range rm.Expected {
			total += n.Value * int64(n.Count)
		}
		detail := "removed with a staff member signed in"
		if st.shift == nil {
			detail = "removed with no staff member signed in"
		}
		if _, err := t.cfg.Journal.Append(journal.Record{Kind: journal.CashBoxRemoved, Amount: total, Detail: detail, Data: mustJSON(rm)}); err != nil {
			t.log.Error("journal cash-box removal", "err", err)
			return
		}
		st.boxOut = true
		if st.removal != nil {
			// Removed again before the last removal was counted: the count
			// covers both, so keep the journal's earlier expectation too.
			rm.Expected = addCounts(st.removal.Expected, rm.Expected)
			rm.At = st.removal.At
		}
		st.removal = &rm
		t.log.Warn("cash box removed", "expected", total, "staff", rm.StaffID)
	case !out && st.boxOut && h.State == device.Online:
		t.appendLocked(journal.Record{Kind: journal.CashBoxReplaced})
		st.boxOut = false
		t.log.Info("cash box back in")
	}
}

func sortedCounts(m map[int64]int) []NoteCount {
	out := []NoteCount{}
	for v, n := range m {
		if n != 0 {
			out = append(out, NoteCount{Value: v, Count: n})
		}
	}
	slices.SortFunc(out, func(a, b NoteCount) int { return int(a.Value - b.Value) })
	return out
}

func addCounts(a, b []NoteCount) []NoteCount {
	m := map[int64]int{}
	for _, x := range a {
		m[x.Value] += x.Count
	}
	for _, x := range b {
		m[x.Value] += x.Count
	}
	return sortedCounts(m)
}

// cashCount compares the staff count of the removed box with the
// journal's, journals both with the differences, prints the Z report and
// queues it for the platform. Nothing is adjusted.
func (t *Terminal) cashCount(counts []NoteCount) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := &t.staff
	sh := st.shift
	if st.view != ScreenStaffCashBox {
		return errf("sequenceError", "open the cash-box screen first")
	}
	if st.removal == nil {
		st.notice = &Notice{Code: "staffBoxNotRemoved", Message: "the cash box has not been removed"}
		t.publishLocked()
		return errf("sequenceError", "the cash box has not been removed")
	}
	counted := map[int64]int{}
	for _, c := range counts {
		if !slices.Contains(uplink.Denominations(), c.Value) || c.Count < 0 || c.Count > 100000 {
			return errf("invalidData", "count of %d fen: %d is not a count of a CNY denomination", c.Value, c.Count)
		}
		counted[c.Value] += c.Count
	}
	expected := map[int64]int{}
	for _, e := range st.removal.Expected {
		expected[e.Value] = e.Count
	}
	rep := uplink.CashBoxReport{TerminalID: t.cfg.TerminalID, ReportID: "Z" + newID(), StaffID: sh.StaffID, ShiftID: sh.ID,
		RemovedAt: st.removal.At, CountedAt: t.cfg.Now().UTC(), Lines: []uplink.CashBoxLine{}}
	var values []int64
	for v := range expected {
		values = append(values, v)
	}
	for v := range counted {
		if _, ok := expected[v]; !ok {
			values = append(values, v)
		}
	}
	slices.Sort(values)
	for _, v := range values {
		l := uplink.CashBoxLine{Value: v, Expected: expected[v], Counted: counted[v]}
		rep.Lines = append(rep.Lines, l)
		rep.ExpectedTotal += v * int64(l.Expected)
		rep.CountedTotal += v * int64(l.Counted)
		rep.Mismatch = rep.Mismatch || l.Expected != l.Counted
	}
	rep.Difference = rep.CountedTotal - rep.ExpectedTotal
	sr := staffReport{Key: uplink.NewIdempotencyKey(), CashBox: &rep}
	detail := "count matches the journal"
	if rep.Mismatch {
		detail = "count differs from the journal: flagged, not adjusted"
	}
	if _, err := t.cfg.Journal.Append(journal.Record{Kind: journal.CashBoxCounted, Session: sh.ID, Ref: rep.ReportID, Key: sr.Key,
		Amount: rep.CountedTotal, Detail: detail, Data: mustJSON(sr)}); err != nil {
		t.log.Error("journal cash-box count", "err", err)
		return errf("internalError", "journal unavailable")
	}
	st.removal = nil
	st.reports[rep.ReportID] = sr
	sh.CashBoxes = append(sh.CashBoxes, rep.ReportID)
	sh.Differences += rep.Difference
	st.box = &StaffCashBoxView{Result: &rep, Printed: "printing"}
	st.notice = nil
	if rep.Mismatch {
		st.notice = &Notice{Code: "staffBoxMismatch", Message: "the count differs from the journal"}
		t.log.Warn("cash-box count differs from the journal", "report", rep.ReportID, "difference", rep.Difference, "staff", sh.StaffID)
	}
	t.staffNudge()
	t.publishLocked()
	doc := StaffDoc{Kind: "cashBox", CashBox: &rep, StaffID: sh.StaffID, StaffName: sh.Name}
	go func() {
		err := t.printStaff(doc, sh.ID)
		t.mu.Lock()
		defer t.mu.Unlock()
		if b := t.staff.box; b != nil && b.Result != nil && b.Result.ReportID == rep.ReportID {
			b.Printed = "printed"
			if err != nil {
				b.Printed = "failed"
			}
			t.publishLocked()
		}
	}()
	return nil
}
