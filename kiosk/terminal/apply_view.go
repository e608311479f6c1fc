package terminal

import (
	"slices"
	"time"

	"tongban/drivers/device"
	"tongban/kiosk/uplink"
)

// The government-service part of the snapshot: what the screen draws.

// GovView is the government-service part of a snapshot.
type GovView struct {
	Available  bool          `json:"available"`          // applications can be taken now
	CardReader bool          `json:"cardReader"`         // an ID card reader is online
	Township   *TownshipView `json:"township,omitempty"` // nil until the catalog is fetched
	Depts      []DeptView    `json:"departments,omitempty"`
	Browse     *BrowseView   `json:"browse,omitempty"`
	Matter     *MatterView   `json:"matter,omitempty"`
	Apply      *ApplyView    `json:"apply,omitempty"`
	Cases      []CaseView    `json:"cases,omitempty"`
	Rating     *RatingView   `json:"rating,omitempty"`
	Reading    bool          `json:"reading,omitempty"` // a card is being read
}

// BrowseView is one page of a department's matters.
type BrowseView struct {
	Department uplink.Text  `json:"department"`
	Page       int          `json:"page"`
	Pages      int          `json:"pages"`
	Matters    []MatterItem `json:"matters"`
}

// MatterView is one matter in full (without its form).
type MatterView struct {
	MatterItem
	Department   uplink.Text         `json:"department"`
	PowerName    uplink.Text         `json:"powerName"`
	PromisedDays int                 `json:"promisedDays"`
	Materials    []uplink.Material   `json:"materials"`
	Counter      *uplink.CounterInfo `json:"counter,omitempty"`
	Utility      uplink.Utility      `json:"utility,omitempty"`
	Withdrawn    bool                `json:"withdrawn,omitempty"` // no longer in the township's list
}

// ApplyView is the form as the screen shows it.
type ApplyView struct {
	Applicant       string                       `json:"applicant,omitempty"` // masked
	Known           bool                         `json:"known"`
	Fields          []FieldView                  `json:"fields"`
	Licences        []LicenceView                `json:"licences"`
	Missing         []uplink.MissingItem         `json:"missing"`
	PlatformMissing bool                         `json:"platformMissing,omitempty"` // the list is the platform's answer
	Earlier         []uplink.PreviousApplication `json:"earlier,omitempty"`
	App             *appView                     `json:"app,omitempty"`
}

// FieldView is one form field with its value.
type FieldView struct {
	uplink.FormField
	Value  string `json:"value"`
	Source string `json:"source,omitempty"` // card or history when pre-filled
	Locked bool   `json:"locked,omitempty"` // read off the ID card: not editable
}

// LicenceView is one of the person's electronic licences.
type LicenceView struct {
	uplink.Licence
	Usable   bool `json:"usable"` // valid now
	Attached bool `json:"attached"`
	Needed   bool `json:"needed"` // provides one of the matter's materials
}

// CaseView is a case and its timeline.
type CaseView struct {
	CaseID     string            `json:"caseId"`
	CaseNumber string            `json:"caseNumber"`
	MatterName uplink.Text       `json:"matterName"`
	Status     uplink.CaseStatus `json:"status"`
	StatusName uplink.Text       `json:"statusName"`
	AcceptedAt time.Time         `json:"acceptedAt"`
	TrackURL   string            `json:"trackUrl"`
	Timeline   []CaseEventView   `json:"timeline"`
	Final      bool              `json:"final"`
}

// CaseEventView is one step of a timeline.
type CaseEventView struct {
	uplink.CaseEvent
	StatusName uplink.Text `json:"statusName"`
}

func caseView(c uplink.Case) CaseView {
	v := CaseView{CaseID: c.CaseID, CaseNumber: c.CaseNumber, MatterName: c.MatterName, Status: c.Status,
		StatusName: uplink.CaseStatusName(c.Status), AcceptedAt: c.AcceptedAt, TrackURL: c.TrackURL, Final: c.Status.Final()}
	for _, e := range c.Timeline {
		v.Timeline = append(v.Timeline, CaseEventView{CaseEvent: e, StatusName: uplink.CaseStatusName(e.Status)})
	}
	return v
}

// govViewLocked is the government-service part of the snapshot.
func (t *Terminal) govViewLocked(ss *session) *GovView {
	if _, ok := t.appsPlatform(); !ok {
		return nil
	}
	st := t.devices["idCardReader"].State
	v := &GovView{Available: t.appsReadyLocked() == "", CardReader: t.cfg.IDCard != nil && (st == device.Online || st == device.Busy)}
	cat := t.gov.cat.Load() // once: a snapshot never mixes two catalogs
	home := ss == nil || ss.gov == nil && ss.screen == ScreenHome
	if cat != nil {
		v.Township = townshipView(cat)
		if home {
			v.Depts = departments(cat)
		}
	}
	if ss == nil {
		return v
	}
	if ss.screen == ScreenDone && ss.pay != nil && ss.pay.Status == "acknowledged" && ss.pay.PaymentID != "" {
		// After a bill payment: rate it.
		r := RatingView{Service: uplink.BillService(ss.pay.PaymentID)}
		if ss.gov != nil && ss.gov.rating != nil && ss.gov.rating.Service == r.Service {
			r = *ss.gov.rating
		}
		v.Rating = r.filled()
	}
	g := ss.gov
	if g == nil {
		return v
	}
	v.Reading = g.reading
	if ss.screen == ScreenServices && cat != nil {
		v.Browse = browseView(cat, g.dept, g.page)
	}
	if m := g.matter; m != nil {
		mv := &MatterView{MatterItem: matterItem(*m), Department: m.Department, PowerName: uplink.PowerTypeName(m.PowerType),
			PromisedDays: m.PromisedDays, Materials: m.Materials, Counter: m.Counter, Utility: m.Utility}
		if cat == nil || !slices.ContainsFunc(cat.Matters, func(o uplink.Matter) bool { return o.MatterID == m.MatterID }) {
			mv.Withdrawn = true
		}
		v.Matter = mv
	}
	if g.person != nil && g.matter != nil {
		v.Apply = t.applyViewLocked(g)
	} else if g.app != nil {
		v.Apply = &ApplyView{App: g.app}
	}
	if g.app != nil && v.Apply != nil {
		a := *g.app
		v.Apply.App = &a
	}
	if len(g.cases) > 0 {
		v.Cases = slices.Clone(g.cases)
	}
	if g.rating != nil && v.Rating == nil && (ss.screen == ScreenApplyDone || ss.screen == ScreenProgressResult) {
		v.Rating = g.rating.filled()
	}
	return v
}

func browseView(cat *uplink.Catalog, dept string, page int) *BrowseView {
	var ms []MatterItem
	var name uplink.Text
	for _, m := range cat.Matters {
		if m.Department.Zh == dept {
			ms = append(ms, matterItem(m))
			name = m.Department
		}
	}
	pages := max(1, (len(ms)+mattersPerPage-1)/mattersPerPage)
	page = min(page, pages-1)
	lo := page * mattersPerPage
	hi := min(lo+mattersPerPage, len(ms))
	if lo > hi {
		lo = hi
	}
	return &BrowseView{Department: name, Page: page, Pages: pages, Matters: ms[lo:hi]}
}

func (t *Terminal) applyViewLocked(g *govFlow) *ApplyView {
	m := g.matter
	av := &ApplyView{Applicant: uplink.MaskName(g.applicant.Name) + " " + uplink.MaskIDNumber(g.applicant.IDNumber), Known: g.known,
		Missing: slices.Clone(g.missing), PlatformMissing: g.platformMissing, Earlier: g.person.Applications,
		Fields: []FieldView{}, Licences: []LicenceView{}}
	if av.Missing == nil {
		av.Missing = []uplink.MissingItem{}
	}
	for _, f := range m.Fields {
		fv := FieldView{FormField: f, Value: g.fields[f.FieldID], Source: g.prefilled[f.FieldID]}
		if fv.Source == "card" {
			fv.Locked = true
			if f.Type == uplink.FieldIDNumber {
				fv.Value = uplink.MaskIDNumber(fv.Value) // bystanders see the screen
			}
		}
		av.Fields = append(av.Fields, fv)
	}
	now := t.cfg.Now()
	for _, l := range g.person.Licences {
		lv := LicenceView{Licence: l, Usable: l.ValidAt(now), Attached: slices.Contains(g.attached, l.LicenceID)}
		lv.Needed = slices.ContainsFunc(m.Materials, func(mt uplink.Material) bool {
			return mt.Source == uplink.MaterialLicence && mt.LicenceType == l.Type
		})
		av.Licences = append(av.Licences, lv)
	}
	return av
}
