package refplatform

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"tongban/kiosk/uplink"
)

// SAMPLE DATA: fictional residents. Their names and ID numbers are those
// of the simulated ID card reader's sample cards
// (drivers/idcard/sim.Samples: resident, rareName, hkmotw, foreign2023),
// so a demo card read finds them; the numbers pass the MOD 11-2 check
// digit and belong to nobody. Phones are the usual placeholder numbers,
// addresses say 样例. The foreign2017 sample card (张三's neighbour, as it
// were) is deliberately unknown here: its lookup is a 404.

var errPersonNotFound = errors.New("person not found")

// samplePerson is the platform's record of one resident. It holds the
// licence numbers in full; they leave the platform masked.
type samplePerson struct {
	name, idNumber string
	history        uplink.History
	licences       []uplink.Licence
	applications   []uplink.PreviousApplication
}

func cst(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, chinaTime).UTC()
}

func samplePersons() []samplePerson {
	lic := func(id, typ, zh, en, number, issuer, until string) uplink.Licence {
		return uplink.Licence{LicenceID: id, Type: typ, Name: txt(zh, en), Number: number, Issuer: issuer, ValidUntil: until}
	}
	prev := func(number, matter, zh, en string, st uplink.CaseStatus, at time.Time) uplink.PreviousApplication {
		return uplink.PreviousApplication{CaseNumber: number, MatterID: matter, MatterName: txt(zh, en), Status: st, AcceptedAt: at}
	}
	return []samplePerson{
		{
			// sim.SampleResident: a shopkeeper in Chengguan with a sole-trader licence.
			name: "张三", idNumber: "110101199001010015",
			history: uplink.History{Phone: "13800138000", Employer: "样例科技有限公司", Residence: "城关镇幸福路12号3单元402室（样例）"},
			licences: []uplink.Licence{
				lic("EL-HR-0001", licHousehold, "居民户口簿", "Household register", "HK3717260000101", "县公安局城关派出所（样例）", ""),
				lic("EL-BL-0001", licBusiness, "营业执照（张三便利店）", "Business licence (Zhang San's corner shop)", "92371726MA0000001X", "县行政审批服务局（样例）", ""),
				lic("EL-PC-0001", licProperty, "不动产权证书", "Property certificate", "BDC2024CG0000001", "县自然资源和规划局（样例）", ""),
				lic("EL-DL-0001", licDriver, "机动车驾驶证", "Driving licence", "110101199001010015", "县公安局交通警察大队（样例）", "2030-01-01"),
			},
			applications: []uplink.PreviousApplication{
				prev("2025-CG-000017", "social-security-card", "社会保障卡申领", "Social security card", uplink.CaseReady, cst(2025, 3, 14, 10, 5)),
			},
		},
		{
			// sim.SampleRareName: an older resident of Liuqiao with a rare
			// character in her name and a disability certificate.
			name: "王䶮", idNumber: "110105196503150028",
			history: uplink.History{Phone: "13900139000", Residence: "柳桥镇柳桥村三组8号（样例）"},
			licences: []uplink.Licence{
				lic("EL-HR-0002", licHousehold, "居民户口簿", "Household register", "HK3717260000202", "县公安局柳桥派出所（样例）", ""),
				lic("EL-DC-0002", licDisabled, "残疾人证", "Disability certificate", "11010519650315002843", "县残疾人联合会（样例）", "2027-06-30"),
				lic("EL-MC-0002", licMarriage, "结婚证", "Marriage certificate", "J371726-1988-000123", "县民政局婚姻登记处（样例）", ""),
			},
			applications: []uplink.PreviousApplication{
				prev("2025-LQ-000108", "disability-allowances", "残疾人两项补贴审核", "Disability living and nursing allowances", uplink.CaseReady, cst(2025, 7, 9, 9, 40)),
				prev("2024-LQ-000042", "pension-claim", "城乡居民养老保险待遇申领", "Residents' pension claim", uplink.CaseReady, cst(2024, 4, 2, 14, 20)),
			},
		},
		{
			// sim.SampleHKMOTW: a Hong Kong resident working in the county;
			// his driving licence has expired (it is listed, not attachable).
			name: "陈大文", idNumber: "810000199001010019",
			history: uplink.History{Phone: "13700137000", Employer: "样例贸易（香港）有限公司", Residence: "城关镇滨河小区6号楼1单元502室（样例）"},
			licences: []uplink.Licence{
				lic("EL-DL-0003", licDriver, "机动车驾驶证", "Driving licence", "810000199001010019", "县公安局交通警察大队（样例）", "2025-01-01"),
			},
		},
		{
			// sim.SampleForeign2023: known to the platform, but with no
			// history and no licences: nothing to pre-fill beyond the card.
			name: "玛丽样例", idNumber: "911826199001010029",
		},
	}
}

// personDB is the sample persons by ID number; read-only.
type personDB map[string]samplePerson

func newPersonDB() personDB {
	db := personDB{}
	for _, p := range samplePersons() {
		db[p.idNumber] = p
	}
	return db
}

// find returns the person only when both number and name match, so the
// lookup is no oracle for ID numbers.
func (db personDB) find(idNumber, name string) (samplePerson, bool) {
	p, ok := db[idNumber]
	if !ok || p.name != name {
		return samplePerson{}, false
	}
	return p, true
}

// licencesOf returns the person's licences as the platform holds them
// (full numbers), none for an unknown person.
func (db personDB) licencesOf(idNumber, name string) []uplink.Licence {
	p, _ := db.find(idNumber, name)
	return p.licences
}

// maskLicenceNumber keeps the first and last four characters.
func maskLicenceNumber(s string) string {
	r := []rune(s)
	if len(r) < 10 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:4]) + strings.Repeat("*", len(r)-8) + string(r[len(r)-4:])
}

func (s *Server) handlePersonLookup(w http.ResponseWriter, r *http.Request) {
	var req uplink.PersonLookup
	if !decodeValid(w, r, &req, func() string { return req.TerminalID }) {
		return
	}
	p, ok := s.apps.persons.find(req.IDNumber, req.Name)
	if !ok {
		s.log.Info("refplatform: person lookup", "terminal", req.TerminalID, "person", req, "found", false)
		s.appError(w, r, fmt.Errorf("no record of this name and ID number: %w", errPersonNotFound))
		return
	}
	cases, err := s.store.casesOfPerson(s.apps.personKey(req.IDNumber), req.Name, s.env(r), s.apps.caseStep)
	if err != nil {
		s.appError(w, r, err)
		return
	}
	out := uplink.Person{History: p.history, Licences: []uplink.Licence{}, Applications: slices.Clone(p.applications), Sample: true}
	for _, l := range p.licences {
		l.Number = maskLicenceNumber(l.Number)
		out.Licences = append(out.Licences, l)
	}
	for _, c := range cases {
		out.Applications = append(out.Applications, uplink.PreviousApplication{CaseNumber: c.CaseNumber, CaseID: c.CaseID,
			MatterID: c.MatterID, MatterName: c.MatterName, Status: c.Status, AcceptedAt: c.AcceptedAt})
	}
	if out.Applications == nil {
		out.Applications = []uplink.PreviousApplication{}
	}
	slices.SortStableFunc(out.Applications, func(a, b uplink.PreviousApplication) int { return b.AcceptedAt.Compare(a.AcceptedAt) })
	out.Applications = out.Applications[:min(len(out.Applications), 100)]
	s.log.Info("refplatform: person lookup", "terminal", req.TerminalID, "person", req, "found", true,
		"licences", len(out.Licences), "applications", len(out.Applications))
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCaseLookup(w http.ResponseWriter, r *http.Request) {
	var req uplink.PersonLookup
	if !decodeValid(w, r, &req, func() string { return req.TerminalID }) {
		return
	}
	cases, err := s.store.casesOfPerson(s.apps.personKey(req.IDNumber), req.Name, s.env(r), s.apps.caseStep)
	if err != nil {
		s.appError(w, r, err)
		return
	}
	slices.SortStableFunc(cases, func(a, b uplink.Case) int {
		return cmp.Or(b.AcceptedAt.Compare(a.AcceptedAt), cmp.Compare(b.CaseNumber, a.CaseNumber))
	})
	cases = cases[:min(len(cases), uplink.MaxCaseList)]
	if cases == nil {
		cases = []uplink.Case{}
	}
	s.log.Info("refplatform: case lookup", "terminal", req.TerminalID, "person", req, "cases", len(cases))
	writeJSON(w, http.StatusOK, uplink.CaseList{Cases: cases})
}
