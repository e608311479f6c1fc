package refplatform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

// Sample residents (README.md): their cards are the simulated reader's.
var (
	zhangSan = uplink.PersonLookup{IDNumber: "110101199001010015", Name: "张三"}
	wangYan  = uplink.PersonLookup{IDNumber: "110105196503150028", Name: "王䶮"}
	chenDW   = uplink.PersonLookup{IDNumber: "810000199001010019", Name: "陈大文"}
	mary     = uplink.PersonLookup{IDNumber: "911826199001010029", Name: "玛丽样例"}
)

var chinaCST = time.FixedZone("CST", 8*60*60)

func cst(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, chinaCST)
}

func applicant(p uplink.PersonLookup) uplink.Applicant {
	return uplink.Applicant{Name: p.Name, IDNumber: p.IDNumber, ReadFromCard: true}
}

// changeApp is 张三 changing his sole-trader registration in Chengguan,
// complete, with his business licence attached.
func changeApp(id string, at time.Time) uplink.ApplicationRequest {
	return uplink.ApplicationRequest{
		TerminalID: terminal, ApplicationID: id, MatterID: "sole-trader-change", Township: "chengguan",
		Applicant:        applicant(zhangSan),
		Fields:           map[string]string{"changeItem": "premises", "changeTo": "城关镇幸福路16号（样例）", "phone": "13800138000"},
		AttachedLicences: []string{"EL-BL-0001"},
		SubmittedAt:      at,
	}
}

func (e *env) catalog(township string, at time.Time) uplink.Catalog {
	e.t.Helper()
	c, changed, err := e.c.Catalog(context.Background(), township, at, "")
	if err != nil || !changed {
		e.t.Fatalf("Catalog %s at %s: %v (changed %v)", township, at, err, changed)
	}
	return c
}

func has(c uplink.Catalog, id string) bool { _, ok := c.Matter(id); return ok }

func TestCatalogPerTownshipAtEffectiveDates(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	cases := []struct {
		township string
		at       time.Time // the change
		in, out  []string  // appears at it, disappears at it
	}{
		{"chengguan", cst(2026, 12, 1, 0, 0), []string{"startup-loan", "flexible-worker-enroll", "residence-permit"}, nil},
		{"chengguan", cst(2027, 1, 1, 0, 0), nil, []string{"construction-permit"}},
		{"chengguan", cst(2027, 3, 1, 0, 0), []string{"x-medical-assistance"}, nil},
		{"liuqiao", cst(2026, 12, 1, 0, 0), []string{"chronic-disease-benefit"}, []string{"animal-epidemic-cert"}},
		{"liuqiao", cst(2027, 1, 1, 0, 0), []string{"pension-transfer"}, nil},
		{"dawangzhuang", cst(2026, 12, 1, 0, 0), []string{"family-planning-reward", "birth-registration"}, nil},
		{"dawangzhuang", cst(2027, 1, 1, 0, 0), nil, []string{"road-occupation-permit"}},
		{"dawangzhuang", cst(2027, 3, 1, 0, 0), []string{"x-dilapidated-house"}, nil},
	}
	for _, c := range cases {
		before := e.catalog(c.township, c.at.Add(-time.Millisecond))
		at := e.catalog(c.township, c.at)
		for _, id := range c.in {
			if has(before, id) || !has(at, id) {
				t.Errorf("%s: %s should be added exactly at %s", c.township, id, c.at)
			}
		}
		for _, id := range c.out {
			if !has(before, id) || has(at, id) {
				t.Errorf("%s: %s should be withdrawn exactly at %s", c.township, id, c.at)
			}
		}
		if len(at.Matters)-len(before.Matters) != len(c.in)-len(c.out) {
			t.Errorf("%s at %s: %d -> %d matters", c.township, c.at, len(before.Matters), len(at.Matters))
		}
		if before.ValidUntil == nil || !before.ValidUntil.Equal(c.at) || !at.ValidFrom.Equal(c.at) || before.Version == at.Version {
			t.Errorf("%s: window %v / %v, versions %s %s", c.township, before.ValidUntil, at.ValidFrom, before.Version, at.Version)
		}
		if !at.Sample || at.Township != c.township || at.Notice.Zh == "" {
			t.Errorf("%s: not marked sample: %+v", c.township, at.Notice)
		}
	}
	// One list per township: the three lists differ.
	at := cst(2026, 12, 15, 12, 0)
	cg, lq, dw := e.catalog("chengguan", at), e.catalog("liuqiao", at), e.catalog("dawangzhuang", at)
	if has(cg, "coop-register") || !has(lq, "coop-register") || has(cg, "student-aid") || !has(dw, "student-aid") || !has(cg, "heating-bill") || has(lq, "heating-bill") {
		t.Error("township lists are not their own")
	}
	// Every matter shows mode, department and what to bring; counter
	// matters say where and when: the township's own service centre.
	for _, c := range []uplink.Catalog{cg, lq, dw} {
		for _, m := range c.Matters {
			if m.Department.Zh == "" || m.Mode == "" || len(m.Materials) == 0 {
				t.Errorf("%s/%s lacks department, mode or materials", c.Township, m.MatterID)
			}
			if m.Channel == uplink.ChannelCounter && m.Counter.Where != c.ServiceCentre {
				t.Errorf("%s/%s: counter place is not the township's centre", c.Township, m.MatterID)
			}
		}
	}
	if m, _ := cg.Matter("company-register"); m.Counter == nil || !strings.Contains(m.Counter.Where.Address, "城关镇") || m.Counter.Where.Hours.Zh == "" {
		t.Errorf("company-register in Chengguan: %+v", m.Counter)
	}
	// Same window, same version; a date-only at means China midnight.
	a, b := e.catalog("chengguan", cst(2026, 12, 2, 9, 0)), e.catalog("chengguan", cst(2026, 12, 20, 18, 0))
	if a.Version != b.Version {
		t.Error("version differs within one window")
	}
	st, body := e.get("/v1/catalog?township=liuqiao&at=2026-12-01", map[string]string{uplink.HeaderTerminalID: terminal})
	var c uplink.Catalog
	if st != 200 || json.Unmarshal(body, &c) != nil || !c.At.Equal(cst(2026, 12, 1, 0, 0)) || !has(c, "chronic-disease-benefit") {
		t.Errorf("date-only at: %d %s", st, body[:min(len(body), 200)])
	}
}

func TestCatalogETagAndTerminalBinding(t *testing.T) {
	clk := newClock() // 2026-11-27
	e := newEnv(t, refplatform.Options{Now: clk.Now})
	ctx := context.Background()
	hdr := map[string]string{uplink.HeaderTerminalID: terminal}

	// An unbound terminal gets the default township, now.
	c, changed, err := e.c.Catalog(ctx, "", time.Time{}, "")
	if err != nil || !changed || c.Township != refplatform.DefaultTownship || !c.At.Equal(clk.Now()) {
		t.Fatalf("default catalog: %v %v %s %s", err, changed, c.Township, c.At)
	}
	if c.ValidUntil == nil || !c.ValidUntil.Equal(cst(2026, 12, 1, 0, 0)) {
		t.Errorf("validUntil %v, want the 1 December change", c.ValidUntil)
	}
	// Revalidation: 304 while current, a new catalog after the change.
	if _, changed, err := e.c.Catalog(ctx, "", time.Time{}, c.Version); err != nil || changed {
		t.Fatalf("revalidate: changed %v, %v", changed, err)
	}
	hr, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/v1/catalog", nil)
	hr.Header.Set(uplink.HeaderTerminalID, terminal)
	hr.Header.Set("If-None-Match", `W/"other", "`+c.Version+`"`)
	resp, err := e.ts.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 304 || resp.Header.Get("ETag") != `"`+c.Version+`"` {
		t.Fatalf("If-None-Match: %d ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	clk.Add(c.ValidUntil.Sub(clk.Now()))
	c2, changed, err := e.c.Catalog(ctx, "", time.Time{}, c.Version)
	if err != nil || !changed || c2.Version == c.Version || !has(c2, "startup-loan") {
		t.Fatalf("after the change: %v %v %s", err, changed, c2.Version)
	}

	// Binding the terminal moves its catalog at once, and survives a restart.
	st, _, body := e.post("/ref/terminals/"+terminal, "", refplatform.TerminalBindRequest{Township: "liuqiao"})
	if st != 200 {
		t.Fatalf("bind: %d %s", st, body)
	}
	if c3, _, err := e.c.Catalog(ctx, "", time.Time{}, c2.Version); err != nil || c3.Township != "liuqiao" {
		t.Fatalf("bound catalog: %s %v", c3.Township, err)
	}
	st, body = e.get("/ref/terminals", nil)
	var bs []refplatform.TerminalBinding
	if st != 200 || json.Unmarshal(body, &bs) != nil || len(bs) != 1 || bs[0].Township != "liuqiao" || bs[0].Default {
		t.Fatalf("GET /ref/terminals: %d %s", st, body)
	}
	if st, _, _ := e.post("/ref/terminals/"+terminal, "", refplatform.TerminalBindRequest{Township: "atlantis"}); st != 404 {
		t.Errorf("bind to unknown township: %d", st)
	}
	e.ts.Close()
	_ = e.srv.Close()
	srv2, err := refplatform.New(refplatform.Options{DataDir: e.dir, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	c4, err := srv2.Catalog(terminal, "", clk.Now())
	if err != nil || c4.Township != "liuqiao" {
		t.Fatalf("after restart: %s %v", c4.Township, err)
	}

	// Errors are final.
	e2 := newEnv(t, refplatform.Options{})
	_, _, err = e2.c.Catalog(ctx, "atlantis", time.Time{}, "")
	wantFinal(t, "unknown township", err, 404, uplink.CodeTownshipNotFound)
	if st, _ := e2.get("/v1/catalog?at=yesterday", hdr); st != 400 {
		t.Errorf("bad at: %d", st)
	}
	if _, err := refplatform.New(refplatform.Options{DataDir: t.TempDir(), DefaultTownship: "atlantis"}); err == nil {
		t.Error("unknown default township accepted")
	}
}

func TestPersonLookupPrefillAndLicences(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	ctx := context.Background()
	p, err := e.c.LookupPerson(ctx, zhangSan)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Sample || p.History.Phone != "13800138000" || p.History.Employer == "" || len(p.Licences) != 4 || len(p.Applications) != 1 {
		t.Fatalf("张三: %+v", p)
	}
	for _, l := range p.Licences {
		if !strings.Contains(l.Number, "****") || strings.Contains(l.Number, zhangSan.IDNumber) {
			t.Errorf("licence %s number not masked: %s", l.LicenceID, l.Number)
		}
	}
	// Pre-fill: the card and the history fill the form; licences are suggested.
	cat := e.catalog("chengguan", cst(2026, 11, 27, 9, 0))
	m, _ := cat.Matter("sole-trader-change")
	card := uplink.CardData{Name: zhangSan.Name, IDNumber: zhangSan.IDNumber, Address: "北京市东城区样例街道测试路1号"}
	if got := m.Prefill(card, &p.History); got["phone"] != "13800138000" || len(got) != 1 {
		t.Errorf("prefill sole-trader-change: %v", got)
	}
	ml, _ := cat.Matter("minimum-living")
	if got := ml.Prefill(card, &p.History); got["address"] != card.Address || got["phone"] != "13800138000" ||
		got["householder"] != "张三" || got["householderIdNumber"] != zhangSan.IDNumber || len(got) != 4 {
		t.Errorf("prefill minimum-living: %v", got)
	}
	if s := m.SuggestLicences(p.Licences, cst(2026, 11, 27, 9, 0)); !slices.Equal(s, []string{"EL-BL-0001"}) {
		t.Errorf("suggested licences: %v", s)
	}
	// An expired licence is listed but never suggested.
	p3, err := e.c.LookupPerson(ctx, chenDW)
	if err != nil || len(p3.Licences) != 1 || p3.Licences[0].ValidAt(time.Now()) {
		t.Fatalf("陈大文: %+v %v", p3, err)
	}
	// Known without history; unknown; right number, wrong name: both 404.
	if pm, err := e.c.LookupPerson(ctx, mary); err != nil || len(pm.Licences) != 0 || pm.History != (uplink.History{}) {
		t.Fatalf("玛丽样例: %+v %v", pm, err)
	}
	_, err = e.c.LookupPerson(ctx, uplink.PersonLookup{IDNumber: "USA110190010101", Name: "约翰样例"})
	wantFinal(t, "unknown person", err, 404, uplink.CodePersonNotFound)
	_, err = e.c.LookupPerson(ctx, uplink.PersonLookup{IDNumber: zhangSan.IDNumber, Name: "李四"})
	wantFinal(t, "wrong name", err, 404, uplink.CodePersonNotFound)
	// Strict body: an unknown field is 400, and the message quotes no value.
	st, _, body := e.post("/v1/persons/lookup", "", map[string]any{"terminalId": terminal, "idNumber": "110101199001010016", "name": "张三"})
	if st != 400 || strings.Contains(string(body), "110101199001010016") || strings.Contains(string(body), "张三") {
		t.Errorf("bad check digit: %d %s", st, body)
	}
}

func TestApplicationIncompleteListsEverythingAtOnce(t *testing.T) {
	clk := newClock()
	e := newEnv(t, refplatform.Options{Now: clk.Now})
	ctx := context.Background()
	at := cst(2026, 11, 27, 9, 0)
	req := uplink.ApplicationRequest{
		TerminalID: terminal, ApplicationID: "A-MARY-1", MatterID: "minimum-living", Township: "chengguan",
		Applicant: uplink.Applicant{Name: mary.Name, IDNumber: mary.IDNumber}, // typed in, not read from the card
		Fields: map[string]string{"householdSize": "9", "spouseIdNumber": "110101199001010016",
			"monthlyIncome": "  ", "favouriteColour": "blue"},
		AttachedLicences: []string{"EL-HR-0001"}, // 张三's household register
		SubmittedAt:      at,
	}
	_, err := e.c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), req)
	wantFinal(t, "incomplete", err, 422, uplink.CodeApplicationIncomplete)
	ae, ok := errors.AsType[*uplink.ApplicationError](err)
	if !ok {
		t.Fatalf("not an *ApplicationError: %v", err)
	}
	type item struct {
		kind       uplink.MissingKind
		id, reason string
	}
	var got []item
	for _, m := range ae.Missing {
		got = append(got, item{m.Kind, m.ID, m.Reason})
		if m.Label.Zh == "" || strings.Contains(m.Detail, "110101199001010016") {
			t.Errorf("item %+v", m)
		}
	}
	want := []item{
		{uplink.MissingField, "householder", uplink.ReasonMissing},
		{uplink.MissingField, "householderIdNumber", uplink.ReasonMissing},
		{uplink.MissingField, "address", uplink.ReasonMissing},
		{uplink.MissingField, "phone", uplink.ReasonMissing},
		{uplink.MissingField, "householdSize", uplink.ReasonInvalid},
		{uplink.MissingField, "monthlyIncome", uplink.ReasonMissing},
		{uplink.MissingField, "spouseIdNumber", uplink.ReasonInvalid},
		{uplink.MissingField, "favouriteColour", uplink.ReasonUnknown},
		{uplink.MissingLicence, "EL-HR-0001", uplink.ReasonNotLinked},
		{uplink.MissingMaterial, "idCard", uplink.ReasonMissing},
		{uplink.MissingMaterial, "householdRegister", uplink.ReasonMissing},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("missing list:\n got %v\nwant %v", got, want)
	}
	if cs, _ := e.srv.Cases(); len(cs) != 0 {
		t.Fatalf("an incomplete application opened a case: %+v", cs)
	}
	// The terminal's own check says the same, before sending.
	cat := e.catalog("chengguan", at)
	m, _ := cat.Matter("minimum-living")
	if local := m.Check(req, nil); !slices.Equal(local, ae.Missing) {
		t.Errorf("terminal check differs:\n%+v\n%+v", local, ae.Missing)
	}
	// An expired licence is reported as such.
	exp := uplink.ApplicationRequest{TerminalID: terminal, ApplicationID: "A-CHEN-1", MatterID: "social-security-card", Township: "chengguan",
		Applicant: applicant(chenDW), Fields: map[string]string{"kind": "new", "residence": "城关镇", "phone": "13700137000"},
		AttachedLicences: []string{"EL-DL-0003"}, SubmittedAt: at}
	_, err = e.c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), exp)
	if ae, ok := errors.AsType[*uplink.ApplicationError](err); !ok || len(ae.Missing) != 1 || ae.Missing[0].Reason != uplink.ReasonExpired {
		t.Fatalf("expired licence: %v", err)
	}
	// Filled in properly (王䶮, read from her card, her household register): accepted.
	ok2 := uplink.ApplicationRequest{TerminalID: terminal, ApplicationID: "A-WANG-1", MatterID: "minimum-living", Township: "liuqiao",
		Applicant: applicant(wangYan), Fields: map[string]string{"householder": wangYan.Name, "householderIdNumber": wangYan.IDNumber,
			"address": "柳桥镇柳桥村三组8号", "phone": "13900139000",
			"householdSize": "2", "monthlyIncome": "800"}, AttachedLicences: []string{"EL-HR-0002"}, SubmittedAt: at}
	cs, err := e.c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), ok2)
	if err != nil || cs.Status != uplink.CaseAccepted || !strings.HasPrefix(cs.CaseNumber, "2026-LQ-") || cs.Applicant != "王*" {
		t.Fatalf("complete application: %+v %v", cs, err)
	}
}

func TestApplicationReplaysCreateOneCase(t *testing.T) {
	clk := newClock()
	e := newEnv(t, refplatform.Options{Now: clk.Now})
	ctx := context.Background()
	key := uplink.NewIdempotencyKey()
	req := changeApp("A-ZS-1", clk.Now())
	c1, err := e.c.SubmitApplication(ctx, key, req)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Status != uplink.CaseAccepted || c1.CaseNumber != "2026-CG-000001" || c1.TrackURL != e.ts.URL+"/track/"+c1.CaseID ||
		c1.MatterName.Zh != "个体工商户变更登记" || c1.Applicant != "张*" || len(c1.Timeline) != 1 {
		t.Fatalf("case: %+v", c1)
	}
	// Replay: 200, the same case; the licences in another order are the same request.
	again := changeApp("A-ZS-1", clk.Now().In(chinaCST))
	st, hdr, body := e.post("/v1/applications", key, again)
	var c2 uplink.Case
	if st != 200 || hdr.Get(uplink.HeaderIdempotentReplayed) != "true" || json.Unmarshal(body, &c2) != nil || c2.CaseID != c1.CaseID {
		t.Fatalf("replay: %d %s", st, body)
	}
	// Same key, different body: 422; same applicationId, other key: 409.
	other := changeApp("A-ZS-1", clk.Now())
	other.Fields["changeTo"] = "别处"
	_, err = e.c.SubmitApplication(ctx, key, other)
	wantFinal(t, "key reused", err, 422, uplink.CodeIdempotencyReused)
	_, err = e.c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), req)
	wantFinal(t, "application id reused", err, 409, uplink.CodeApplicationConflict)

	// 20 concurrent deliveries of a new application: one 201, one case.
	key2 := uplink.NewIdempotencyKey()
	req2 := changeApp("A-ZS-2", clk.Now())
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	ids := map[string]bool{}
	for range 20 {
		wg.Go(func() {
			st, _, body := e.post("/v1/applications", key2, req2)
			var c uplink.Case
			_ = json.Unmarshal(body, &c)
			mu.Lock()
			statuses[st]++
			ids[c.CaseID] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[201] != 1 || statuses[200] != 19 || len(ids) != 1 {
		t.Fatalf("concurrent replays: statuses %v, case ids %v", statuses, ids)
	}
	if cs, _ := e.srv.Cases(); len(cs) != 2 || cs[1].Case.CaseNumber != "2026-CG-000002" {
		t.Fatalf("cases: %+v", cs)
	}

	// Lost reply (dropped after commit): the resend finds the case.
	if err := e.srv.SetFaults(refplatform.Faults{DropAfterCommitRate: 1, Paths: []string{"/v1/applications"}}); err != nil {
		t.Fatal(err)
	}
	key3 := uplink.NewIdempotencyKey()
	_, err = e.c.SubmitApplication(ctx, key3, changeApp("A-ZS-3", clk.Now()))
	if !uplink.IsRetryable(err) {
		t.Fatalf("dropped reply: %v", err)
	}
	_ = e.srv.SetFaults(refplatform.Faults{})
	c3, err := e.c.SubmitApplication(ctx, key3, changeApp("A-ZS-3", clk.Now()))
	if err != nil || c3.CaseNumber != "2026-CG-000003" {
		t.Fatalf("resend after drop: %+v %v", c3, err)
	}

	// After a restart a replay still finds its case.
	e.ts.Close()
	_ = e.srv.Close()
	e2 := newEnv(t, refplatform.Options{DataDir: e.dir, Now: clk.Now})
	c4, err := e2.c.SubmitApplication(ctx, key, req)
	if err != nil || c4.CaseID != c1.CaseID {
		t.Fatalf("replay after restart: %+v %v", c4, err)
	}
	// Listing masks the applicant and personal fields.
	cs, _ := e2.srv.Cases()
	r := cs[0].Request
	if r.Applicant.Name != "张*" || r.Applicant.IDNumber != "1101**********0015" || r.Fields["phone"] != "138****8000" || r.Fields["changeItem"] != "premises" {
		t.Errorf("listing not masked: %+v", r)
	}
}

func TestApplicationRefusals(t *testing.T) {
	clk := newClock()
	e := newEnv(t, refplatform.Options{Now: clk.Now})
	ctx := context.Background()
	now := clk.Now()
	base := func(matter, township string) uplink.ApplicationRequest {
		r := changeApp("A-"+matter+"-"+township, now)
		r.MatterID, r.Township = matter, township
		return r
	}
	// A counter matter says where and when instead.
	_, err := e.c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), base("company-register", "chengguan"))
	wantFinal(t, "counter only", err, 409, uplink.CodeCounterOnly)
	ae, ok := errors.AsType[*uplink.ApplicationError](err)
	if !ok || ae.Counter == nil || !strings.Contains(ae.Counter.Where.Name.Zh, "城关镇便民服务中心") || ae.Counter.Where.Hours.Zh == "" || ae.Counter.Reason.Zh == "" {
		t.Fatalf("counter details: %+v", ae)
	}
	// Not on the list at submittedAt; on it, but judged as of submittedAt.
	_, err = e.c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), base("coop-register", "chengguan"))
	wantFinal(t, "not offered", err, 409, uplink.CodeMatterNotOffered)
	late := base("startup-loan", "chengguan") // added on 1 December
	_, err = e.c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), late)
	wantFinal(t, "before its effective date", err, 409, uplink.CodeMatterNotOffered)
	_, err = e.c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), base("no-such-matter", "chengguan"))
	wantFinal(t, "unknown matter", err, 404, uplink.CodeMatterNotFound)
	_, err = e.c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), base("sole-trader-change", "atlantis"))
	wantFinal(t, "unknown township", err, 404, uplink.CodeTownshipNotFound)
	_, err = e.c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), base("water-bill", "chengguan"))
	wantFinal(t, "bill matter", err, 400, uplink.CodeBadRequest)
	future := changeApp("A-FUTURE", now.Add(time.Hour))
	_, err = e.c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), future)
	wantFinal(t, "future submittedAt", err, 400, uplink.CodeBadRequest)
	// A refusal records nothing: the same key works once the request is right.
	key := uplink.NewIdempotencyKey()
	bad := changeApp("A-RETRY", now)
	bad.Fields["phone"] = ""
	if _, err := e.c.SubmitApplication(ctx, key, bad); !uplink.IsFinal(err) {
		t.Fatalf("incomplete: %v", err)
	}
	if _, err := e.c.SubmitApplication(ctx, key, changeApp("A-RETRY", now)); err != nil {
		t.Fatalf("same key after a refusal: %v", err)
	}
	if cs, _ := e.srv.Cases(); len(cs) != 1 {
		t.Fatalf("%d cases, want 1", len(cs))
	}
}

func TestCaseProgressAndTrackPage(t *testing.T) {
	clk := newClock()
	e := newEnv(t, refplatform.Options{Now: clk.Now, CaseStep: 10 * time.Minute})
	ctx := context.Background()
	c, err := e.c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), changeApp("A-PROG-1", clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	want := []uplink.CaseStatus{uplink.CaseAccepted, uplink.CaseReviewing, uplink.CaseApproved, uplink.CaseReady}
	for i, st := range want {
		got, err := e.c.Case(ctx, c.CaseID)
		if err != nil || got.Status != st || len(got.Timeline) != i+1 {
			t.Fatalf("after %d steps: %+v %v", i, got, err)
		}
		if i > 0 && !got.Timeline[i].At.Equal(c.AcceptedAt.Add(time.Duration(i)*10*time.Minute)) {
			t.Errorf("step %d at %s", i, got.Timeline[i].At)
		}
		clk.Add(10 * time.Minute)
	}
	got, _ := e.c.Case(ctx, c.CaseID)
	last := got.Timeline[len(got.Timeline)-1]
	if last.Place == nil || !strings.Contains(last.Place.Address, "城关镇") || !got.Status.Final() {
		t.Fatalf("ready without a place: %+v", last)
	}
	// By ID card: the case shows in the case lookup and in the person's history.
	list, err := e.c.CasesByPerson(ctx, zhangSan)
	if err != nil || len(list) != 1 || list[0].CaseID != c.CaseID || list[0].Status != uplink.CaseReady {
		t.Fatalf("cases by person: %+v %v", list, err)
	}
	if other, err := e.c.CasesByPerson(ctx, uplink.PersonLookup{IDNumber: zhangSan.IDNumber, Name: "李四"}); err != nil || len(other) != 0 {
		t.Fatalf("cases under another name: %+v %v", other, err)
	}
	p, _ := e.c.LookupPerson(ctx, zhangSan)
	if len(p.Applications) != 2 || p.Applications[0].CaseID != c.CaseID {
		t.Fatalf("history: %+v", p.Applications)
	}
	_, err = e.c.Case(ctx, "C0000000000000000")
	wantFinal(t, "unknown case", err, 404, uplink.CodeCaseNotFound)

	// The tracking page: Chinese, self-contained, the applicant masked.
	st, body := e.get("/track/"+c.CaseID, nil)
	page := string(body)
	for _, want := range []string{c.CaseNumber, "个体工商户变更登记", "张*", "可领取", "城关镇便民服务中心", "受理", "审核", "办结"} {
		if !strings.Contains(page, want) {
			t.Errorf("track page lacks %q", want)
		}
	}
	if st != 200 || strings.Contains(page, "张三") || strings.Contains(page, zhangSan.IDNumber) ||
		strings.Contains(page, "src=") || strings.Contains(page, "<script") || strings.Contains(page, "href=") {
		t.Errorf("track page: %d\n%s", st, page)
	}
	if st, body := e.get("/track/CZZZZZZZZZZZZZZZZ", nil); st != 404 || !strings.Contains(string(body), "未找到") {
		t.Errorf("unknown case page: %d", st)
	}

	// Manual stepping (CaseStep < 0), and a rejection.
	e2 := newEnv(t, refplatform.Options{Now: clk.Now, CaseStep: -1})
	c2, err := e2.c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), changeApp("A-PROG-2", clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(24 * time.Hour)
	if got, _ := e2.c.Case(ctx, c2.CaseID); got.Status != uplink.CaseAccepted {
		t.Fatalf("moved on its own: %s", got.Status)
	}
	advance := func(body string) (int, uplink.Case) {
		resp, err := e2.ts.Client().Post(e2.ts.URL+"/ref/cases/"+c2.CaseID+"/advance", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var c uplink.Case
		_ = json.NewDecoder(resp.Body).Decode(&c)
		return resp.StatusCode, c
	}
	if st, got := advance(""); st != 200 || got.Status != uplink.CaseReviewing {
		t.Fatalf("advance: %d %s", st, got.Status)
	}
	if st, _ := advance(`{"decision":"maybe"}`); st != 400 {
		t.Errorf("bad decision: %d", st)
	}
	st, got = advance(`{"decision":"rejected","note":"经营场所证明不符（样例）"}`)
	if st != 200 || got.Status != uplink.CaseRejected || !strings.Contains(got.Timeline[2].Note.Zh, "经营场所证明不符") || got.Validate() != nil {
		t.Fatalf("reject: %d %+v", st, got)
	}
	if st, _ := advance(""); st != 409 {
		t.Errorf("advance a rejected case: %d", st)
	}
	if st, body := e2.get("/track/"+c2.CaseID, nil); st != 200 || !strings.Contains(string(body), "不予受理") {
		t.Errorf("rejected track page: %d", st)
	}
}

func TestRatingsIdempotent(t *testing.T) {
	e := newEnv(t, refplatform.Options{})
	ctx := context.Background()
	p, err := e.c.Pay(ctx, uplink.NewIdempotencyKey(), cash(uplink.Water, "100100100001", "SF202610-100100100001", 8650))
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), changeApp("A-RATE-1", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	ratedAt := time.Date(2026, 11, 27, 8, 40, 0, 0, time.UTC)
	key := uplink.NewIdempotencyKey()
	req := uplink.RatingRequest{Service: uplink.BillService(p.PaymentID), Level: 5, Comment: "窗口很耐心", RatedAt: ratedAt}
	r1, err := e.c.Rate(ctx, key, req)
	if err != nil || r1.Level != 5 || r1.FollowUp || r1.Comment != "窗口很耐心" {
		t.Fatalf("rate: %+v %v", r1, err)
	}
	req.TerminalID = terminal
	st, hdr, body := e.post("/v1/ratings", key, req)
	var r2 uplink.Rating
	if st != 200 || hdr.Get(uplink.HeaderIdempotentReplayed) != "true" || json.Unmarshal(body, &r2) != nil || r2 != r1 {
		t.Fatalf("replay: %d %s", st, body)
	}
	_, err = e.c.Rate(ctx, uplink.NewIdempotencyKey(), req)
	wantFinal(t, "second rating", err, 409, uplink.CodeAlreadyRated)
	req.Level = 4
	_, err = e.c.Rate(ctx, key, req)
	wantFinal(t, "key reused", err, 422, uplink.CodeIdempotencyReused)
	bad, err := e.c.Rate(ctx, uplink.NewIdempotencyKey(), uplink.RatingRequest{Service: uplink.CaseService(c.CaseID), Level: 1, RatedAt: ratedAt})
	if err != nil || !bad.FollowUp {
		t.Fatalf("bad rating: %+v %v", bad, err)
	}
	_, err = e.c.Rate(ctx, uplink.NewIdempotencyKey(), uplink.RatingRequest{Service: uplink.CaseService("C0000000000000000"), Level: 3, RatedAt: ratedAt})
	wantFinal(t, "unknown case", err, 404, uplink.CodeServiceNotFound)
	other := uplink.NewClient(e.ts.URL, "T-OTHER-0002")
	_, err = other.Rate(ctx, uplink.NewIdempotencyKey(), uplink.RatingRequest{Service: uplink.BillService(p.PaymentID), Level: 3, RatedAt: ratedAt})
	wantFinal(t, "another terminal's payment", err, 404, uplink.CodeServiceNotFound)
	if st, _, _ := e.post("/v1/ratings", uplink.NewIdempotencyKey(), map[string]any{"terminalId": terminal, "service": "bill:P1", "level": 6, "ratedAt": ratedAt}); st != 400 {
		t.Errorf("level 6: %d", st)
	}
	if rs, _ := e.srv.Ratings(); len(rs) != 2 || rs[0].RatingID != r1.RatingID {
		t.Fatalf("ratings: %+v", rs)
	}
}

// recorder is an http.RoundTripper that keeps every URL the client asks for.
type recorder struct {
	mu   sync.Mutex
	urls []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.String())
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPersonalDataNeverLoggedNorInURLs runs every application flow with
// a debug-level logger and a client that records its URLs: no name, ID
// number, phone, address, licence number or comment may show in either;
// the masked forms do show in the logs.
func TestPersonalDataNeverLoggedNorInURLs(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clk := newClock()
	e := newEnv(t, refplatform.Options{Now: clk.Now, Logger: log, CaseStep: time.Minute})
	rec := &recorder{}
	c := &uplink.Client{BaseURL: e.ts.URL, TerminalID: terminal, HTTP: &http.Client{Transport: rec}}
	ctx := context.Background()

	for _, p := range []uplink.PersonLookup{zhangSan, wangYan, mary, {IDNumber: "USA110190010101", Name: "约翰样例"}} {
		_, _ = c.LookupPerson(ctx, p)
		_, _ = c.CasesByPerson(ctx, p)
	}
	cs, err := c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), changeApp("A-PRIV-1", clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	bad := changeApp("A-PRIV-2", clk.Now())
	bad.Applicant = applicant(wangYan)
	bad.Fields["phone"] = "13900139000x"
	if _, err := c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), bad); !uplink.IsFinal(err) {
		t.Fatalf("incomplete: %v", err)
	}
	counter := changeApp("A-PRIV-3", clk.Now())
	counter.MatterID = "company-register"
	_, _ = c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), counter)
	// A malformed application: the 400 message must not echo it either.
	st, _, body := e.post("/v1/applications", uplink.NewIdempotencyKey(), map[string]any{
		"terminalId": terminal, "applicationId": "A-PRIV-4", "matterId": "minimum-living", "township": "chengguan",
		"applicant": map[string]any{"name": "张三", "idNumber": "110101199001010016", "readFromCard": true},
		"fields":    map[string]string{}, "attachedLicences": []string{}, "submittedAt": clk.Now()})
	if st != 400 || strings.Contains(string(body), "110101199001010016") || strings.Contains(string(body), "张三") {
		t.Errorf("malformed application: %d %s", st, body)
	}
	clk.Add(5 * time.Minute)
	if _, err := c.Case(ctx, cs.CaseID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Rate(ctx, uplink.NewIdempotencyKey(), uplink.RatingRequest{Service: uplink.CaseService(cs.CaseID), Level: 2,
		Comment: "等了很久，电话13800138000", RatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Catalog(ctx, "", time.Time{}, ""); err != nil {
		t.Fatal(err)
	}
	_, _ = e.get("/track/"+cs.CaseID, nil)
	_, _ = e.get("/ref/cases", nil)

	out := logs.String()
	secrets := []string{
		"110101199001010015", "110105196503150028", "911826199001010029", "USA110190010101", "110101199001010016",
		"张三", "王䶮", "玛丽样例", "约翰样例", "13800138000", "13900139000",
		"幸福路16号", "幸福路12号", "92371726MA0000001X", "HK3717260000101", "等了很久",
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("log contains %q", s)
		}
	}
	for _, masked := range []string{"1101**********0015", "张*", "王*"} {
		if !strings.Contains(out, masked) {
			t.Errorf("log lacks the masked %q (is anything logged?)", masked)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.urls) < 10 {
		t.Fatalf("only %d requests recorded", len(rec.urls))
	}
	for _, u := range append(rec.urls, cs.TrackURL) {
		for _, s := range secrets[:5] {
			if strings.Contains(u, s) {
				t.Errorf("URL %s carries an ID number", u)
			}
		}
	}
	// The store: the index does not hold ID numbers; only case files do.
	raw, err := os.ReadFile(filepath.Join(e.dir, refplatform.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(zhangSan.IDNumber)) {
		t.Error("the case file lacks the applicant's ID number")
	}
	for _, p := range []uplink.PersonLookup{wangYan, mary} { // looked up, or refused: nothing to keep
		if bytes.Contains(raw, []byte(p.IDNumber)) || bytes.Contains(raw, []byte(p.Name)) {
			t.Errorf("store holds personal data of %s, who has no case", uplink.MaskName(p.Name))
		}
	}
}
