package uplink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tongban/drivers/idcard/codec"
	"tongban/drivers/idcard/sim"
	"tongban/kiosk/uplink"
)

const (
	appCaseID = "CABCDEFGH23456789"
	appID     = "A-TEST-0001"
	appIDNo   = "110101199001010015" // sim.SampleResident
	appName   = "张三"
)

var appAt = time.Date(2026, 11, 27, 8, 30, 0, 0, time.UTC)

var chinaCST = time.FixedZone("CST", 8*60*60)

func tx(zh, en string) uplink.Text { return uplink.Text{Zh: zh, En: en} }

var appCentre = uplink.ServicePoint{Name: tx("城关镇便民服务中心", "Chengguan centre"), Address: "城关镇人民路88号（样例地址）",
	Hours: tx("周一至周五 8:30–17:30", "Mon–Fri 8:30–17:30"), Phone: "0000-0000101"}

// appMatter is an apply matter with every kind of field and material.
func appMatter() uplink.Matter {
	return uplink.Matter{
		MatterID: "minimum-living", DirectoryNo: 17, Name: tx("最低生活保障审核确认", "Dibao"), PowerType: uplink.PowerBenefit,
		Department: tx("县民政局", "Civil Affairs"), Supervisor: tx("县民政局", "Civil Affairs"), Mode: uplink.DelegationHandling,
		Channel: uplink.ChannelApply, PromisedDays: 30,
		Materials: []uplink.Material{
			{MaterialID: "idCard", Name: tx("身份证", "ID card"), Required: true, Source: uplink.MaterialIDCard},
			{MaterialID: "form", Name: tx("申请书", "Form"), Required: true, Source: uplink.MaterialForm},
			{MaterialID: "household", Name: tx("户口簿", "Household register"), Required: true, Source: uplink.MaterialLicence, LicenceType: "householdRegister"},
			{MaterialID: "marriage", Name: tx("结婚证", "Marriage"), Required: false, Source: uplink.MaterialLicence, LicenceType: "marriageCert"},
			{MaterialID: "proof", Name: tx("证明原件", "Original proof"), Required: true, Source: uplink.MaterialInPerson},
		},
		Fields: []uplink.FormField{
			{FieldID: "address", Label: tx("户籍地址", "Address"), Type: uplink.FieldText, Required: true, Prefill: uplink.PrefillCardAddress},
			{FieldID: "phone", Label: tx("联系电话", "Phone"), Type: uplink.FieldPhone, Required: true, Prefill: uplink.PrefillHistoryPhone},
			{FieldID: "gender", Label: tx("性别", "Gender"), Type: uplink.FieldSelect, Required: false, Prefill: uplink.PrefillCardGender,
				Options: []uplink.FieldOption{{Value: "male", Label: tx("男", "Male")}, {Value: "female", Label: tx("女", "Female")}}},
			{FieldID: "since", Label: tx("起始日期", "Since"), Type: uplink.FieldDate, Required: true},
			{FieldID: "spouse", Label: tx("配偶身份证号", "Spouse ID"), Type: uplink.FieldIDNumber, Required: false},
		},
	}
}

func appCatalog() uplink.Catalog {
	until := time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)
	counter := uplink.Matter{MatterID: "company-register", DirectoryNo: 4, Name: tx("企业设立登记", "Company"), PowerType: uplink.PowerLicensing,
		Department: tx("县行政审批服务局", "Approval"), Supervisor: tx("县市场监督管理局", "Market"), Mode: uplink.DelegationAcceptance,
		Channel: uplink.ChannelCounter, PromisedDays: 3, Materials: []uplink.Material{}, Fields: []uplink.FormField{},
		Counter: &uplink.CounterInfo{Reason: tx("需核验原件", "Originals"), Where: appCentre}}
	bill := uplink.Matter{MatterID: "water-bill", DirectoryNo: 46, Name: tx("水费缴纳", "Water"), PowerType: uplink.PowerPublicService,
		Department: tx("县水务局", "Water"), Supervisor: tx("县水务局", "Water"), Mode: uplink.DelegationHandling,
		Channel: uplink.ChannelPay, Utility: uplink.Water, Materials: []uplink.Material{}, Fields: []uplink.FormField{}}
	return uplink.Catalog{Township: "chengguan", TownshipName: tx("城关镇", "Chengguan"), Version: "c0123456789abcdef",
		At: appAt, ValidFrom: time.Date(2026, 5, 31, 16, 0, 0, 0, time.UTC), ValidUntil: &until, Sample: true,
		Notice: tx("样例数据", "Sample data"), ServiceCentre: appCentre, Matters: []uplink.Matter{appMatter(), counter, bill}}
}

func appLicences() []uplink.Licence {
	return []uplink.Licence{
		{LicenceID: "EL-HR-0001", Type: "householdRegister", Name: tx("居民户口簿", "Household register"), Number: "HK37****0101", Issuer: "派出所"},
		{LicenceID: "EL-HR-OLD", Type: "householdRegister", Name: tx("居民户口簿", "Household register"), Number: "HK37****0100", Issuer: "派出所", ValidUntil: "2020-01-01"},
		{LicenceID: "EL-MC-0001", Type: "marriageCert", Name: tx("结婚证", "Marriage"), Number: "J371****0123", Issuer: "民政局", ValidUntil: "2026-11-27"},
	}
}

func appRequest() uplink.ApplicationRequest {
	return uplink.ApplicationRequest{
		TerminalID: terminal, ApplicationID: appID, MatterID: "minimum-living", Township: "chengguan",
		Applicant:        uplink.Applicant{Name: appName, IDNumber: appIDNo, ReadFromCard: true},
		Fields:           map[string]string{"address": "城关镇幸福路12号", "phone": "13800138000", "since": "2026-01-01"},
		AttachedLicences: []string{"EL-HR-0001"}, SubmittedAt: appAt,
	}
}

func appCase() uplink.Case {
	return uplink.Case{CaseID: appCaseID, CaseNumber: "2026-CG-000001", ApplicationID: appID, TerminalID: terminal,
		MatterID: "minimum-living", MatterName: tx("最低生活保障审核确认", "Dibao"), Township: "chengguan", Applicant: "张*",
		Status: uplink.CaseAccepted, AcceptedAt: appAt, TrackURL: "http://p.example/track/" + appCaseID,
		Timeline: []uplink.CaseEvent{{Status: uplink.CaseAccepted, At: appAt, Note: tx("已受理", "Accepted")}}}
}

func appPerson() uplink.Person {
	return uplink.Person{History: uplink.History{Phone: "13800138000", Employer: "样例科技", Residence: "城关镇"},
		Licences: appLicences(), Sample: true,
		Applications: []uplink.PreviousApplication{{CaseNumber: "2025-CG-000017", MatterID: "social-security-card",
			MatterName: tx("社会保障卡申领", "Card"), Status: uplink.CaseReady, AcceptedAt: appAt.AddDate(-1, 0, 0)}}}
}

func appRating() uplink.Rating {
	return uplink.Rating{RatingID: "R0123456789AB", TerminalID: terminal, Service: uplink.CaseService(appCaseID), Level: 4,
		RatedAt: appAt, ReceivedAt: appAt.Add(time.Second)}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestIDNumbersAndMasks(t *testing.T) {
	for name, c := range sim.Samples() {
		if got := uplink.ValidIDNumber(c.Text.IDNumber); !got {
			t.Errorf("sample %s: %s refused", name, uplink.MaskIDNumber(c.Text.IDNumber))
		}
		if len(c.Text.IDNumber) == 18 && codec.ValidIDNumber(c.Text.IDNumber) != uplink.ValidIDNumber(c.Text.IDNumber) {
			t.Errorf("sample %s: uplink and the card codec disagree", name)
		}
		// Every single-digit change of an 18-character number breaks it.
		if n := c.Text.IDNumber; len(n) == 18 {
			for i := range 17 {
				b := []byte(n)
				b[i] = '0' + (b[i]-'0'+1)%10
				if uplink.ValidIDNumber(string(b)) || codec.ValidIDNumber(string(b)) {
					t.Errorf("sample %s: digit %d changed still valid", name, i)
				}
			}
		}
	}
	for _, s := range []string{"", "11010119900101001", "11010119900101001X", "110101199001010015 ", "usa110190010101", "USA11019001010", "U5A110190010101"} {
		if uplink.ValidIDNumber(s) {
			t.Errorf("%q valid", s)
		}
	}
	if uplink.MaskIDNumber(appIDNo) != "1101**********0015" || uplink.MaskName("王䶮") != "王*" || uplink.MaskPhone("13800138000") != "138****8000" ||
		uplink.MaskIDNumber("123") != "***" || uplink.MaskName(" ") != "" {
		t.Error("masks")
	}
}

func TestPersonalDataPrintsMasked(t *testing.T) {
	req := appRequest()
	lookup := uplink.PersonLookup{TerminalID: terminal, IDNumber: appIDNo, Name: appName}
	card := uplink.CardData{Name: appName, IDNumber: appIDNo, Address: "城关镇幸福路12号"}
	person := appPerson()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, v := range []any{req, &req, req.Applicant, lookup, card, person} {
		out := fmt.Sprintf("%v %+v %#v %s", v, v, v, v)
		log.Info("value", "v", v)
		for _, secret := range []string{appIDNo, appName, "13800138000", "幸福路12号"} {
			if strings.Contains(out, secret) {
				t.Errorf("%T prints %q: %s", v, secret, out)
			}
		}
	}
	for _, secret := range []string{appIDNo, appName, "13800138000", "幸福路12号"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("slog output contains %q", secret)
		}
	}
	if !strings.Contains(logs.String(), "1101**********0015") {
		t.Error("slog output lacks the masked number")
	}
	// Validation messages name the field, never the value.
	bad := appRequest()
	bad.Applicant.IDNumber = "110101199001010016"
	bad.Applicant.Name = "张三\n"
	if err := bad.Validate(); err == nil || strings.Contains(err.Error(), "110101199001010016") || strings.Contains(err.Error(), "张三") {
		t.Errorf("validate: %v", err)
	}
	bad = appRequest()
	bad.Applicant.IDNumber = "110101199001010016"
	if err := bad.Validate(); err == nil || strings.Contains(err.Error(), "110101199001010016") {
		t.Errorf("validate: %v", err)
	}
	lookup.IDNumber = "110101199001010016"
	if err := lookup.Validate(); err == nil || strings.Contains(err.Error(), "0016") {
		t.Errorf("lookup validate: %v", err)
	}
}

func TestFieldValues(t *testing.T) {
	m := appMatter()
	cases := []struct {
		field, value, why string
	}{
		{"phone", "13800138000", ""}, {"phone", "0530-1234567", ""}, {"phone", "01012345678", ""}, {"phone", "010-12345678", ""},
		{"phone", "12800138000", "not a phone number"}, {"phone", "1380013800", "not a phone number"}, {"phone", "05-301234567", "not a phone number"},
		{"phone", "0530-123-4567", "not a phone number"}, {"phone", "", "empty"},
		{"since", "2026-02-28", ""}, {"since", "2026-02-30", "not a date YYYY-MM-DD"}, {"since", "2026/01/01", "not a date YYYY-MM-DD"},
		{"gender", "female", ""}, {"gender", "other", "not one of the options"},
		{"spouse", "110105196503150028", ""}, {"spouse", "110105196503150029", "not a valid ID number"},
		{"address", "城关镇", ""}, {"address", "   ", "empty"}, {"address", strings.Repeat("路", 201), "not one line of at most 200 characters"},
		{"address", "两行\n地址", "not one line of at most 200 characters"}, {"address", "bad\x01", "not one line of at most 200 characters"},
	}
	for _, c := range cases {
		f, _ := m.Field(c.field)
		if got := f.CheckValue(c.value); got != c.why {
			t.Errorf("%s %q: %q, want %q", c.field, c.value, got, c.why)
		}
	}
}

func TestMatterCheck(t *testing.T) {
	m := appMatter()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := m.Check(appRequest(), appLicences()); got != nil {
		t.Fatalf("complete request: %+v", got)
	}
	req := appRequest()
	req.Applicant.ReadFromCard = false
	req.Fields = map[string]string{"phone": "138", "gender": "", "extra": "x", "since": "2026-01-01"}
	req.AttachedLicences = []string{"EL-HR-OLD", "EL-NOT-MINE", "EL-MC-0001"}
	req.SubmittedAt = time.Date(2026, 11, 27, 16, 30, 0, 0, time.UTC) // 28 Nov in China: the marriage cert ended on the 27th
	got := m.Check(req, appLicences())
	var summary []string
	for _, it := range got {
		summary = append(summary, string(it.Kind)+":"+it.ID+":"+it.Reason)
		if err := it.Validate(); err != nil {
			t.Error(err)
		}
	}
	want := []string{"field:address:missing", "field:phone:invalid", "field:extra:unknown",
		"licence:EL-HR-OLD:expired", "licence:EL-NOT-MINE:notLinked", "licence:EL-MC-0001:expired",
		"material:idCard:missing", "material:household:missing"}
	if !slices.Equal(summary, want) {
		t.Fatalf("check:\n got %v\nwant %v", summary, want)
	}
	// Suggested licences: valid ones of the types the matter asks for, the longest valid.
	if s := m.SuggestLicences(appLicences(), appAt); !slices.Equal(s, []string{"EL-HR-0001", "EL-MC-0001"}) {
		t.Errorf("suggest: %v", s)
	}
	if s := m.SuggestLicences(appLicences(), req.SubmittedAt); !slices.Equal(s, []string{"EL-HR-0001"}) {
		t.Errorf("suggest after expiry: %v", s)
	}
	// Prefill from the card and the history; values the field refuses are left out.
	card := uplink.CardData{Name: appName, IDNumber: appIDNo, Address: "城关镇幸福路12号", Gender: "female"}
	p := m.Prefill(card, &uplink.History{Phone: "13800138000"})
	if len(p) != 3 || p["address"] != card.Address || p["phone"] != "13800138000" || p["gender"] != "female" {
		t.Errorf("prefill: %v", p)
	}
	if p := m.Prefill(uplink.CardData{Gender: "unknown"}, &uplink.History{Phone: "not a phone"}); len(p) != 0 {
		t.Errorf("prefill of bad values: %v", p)
	}
	if p := m.Prefill(card, nil); p["phone"] != "" || p["address"] == "" {
		t.Errorf("prefill without history: %v", p)
	}
}

func TestAppTypesValidate(t *testing.T) {
	if err := appCatalog().Validate(); err != nil {
		t.Fatalf("catalog: %v", err)
	}
	if err := appCase().Validate(); err != nil {
		t.Fatalf("case: %v", err)
	}
	if err := appPerson().Validate(); err != nil {
		t.Fatalf("person: %v", err)
	}
	if err := appRating().Validate(); err != nil {
		t.Fatalf("rating: %v", err)
	}
	catMut := map[string]func(*uplink.Catalog){
		"no version":        func(c *uplink.Catalog) { c.Version = "" },
		"quoted version":    func(c *uplink.Catalog) { c.Version = `"v"` },
		"until before at":   func(c *uplink.Catalog) { u := c.At; c.ValidUntil = &u },
		"from after at":     func(c *uplink.Catalog) { c.ValidFrom = c.At.Add(time.Second) },
		"duplicate matter":  func(c *uplink.Catalog) { c.Matters = append(c.Matters, c.Matters[0]) },
		"apply no fields":   func(c *uplink.Catalog) { c.Matters[0].Fields = nil },
		"counter no where":  func(c *uplink.Catalog) { c.Matters[1].Counter = nil },
		"pay no utility":    func(c *uplink.Catalog) { c.Matters[2].Utility = "" },
		"bad mode":          func(c *uplink.Catalog) { c.Matters[0].Mode = "delegated" },
		"bad power":         func(c *uplink.Catalog) { c.Matters[0].PowerType = "x" },
		"directory 50":      func(c *uplink.Catalog) { c.Matters[0].DirectoryNo = 50 },
		"select no options": func(c *uplink.Catalog) { c.Matters[0].Fields[2].Options = nil },
		"bad prefill":       func(c *uplink.Catalog) { c.Matters[0].Fields[0].Prefill = "card.photo" },
		"licence no type":   func(c *uplink.Catalog) { c.Matters[0].Materials[2].LicenceType = "" },
		"empty name":        func(c *uplink.Catalog) { c.Matters[0].Name.Zh = " " },
		"duplicate field":   func(c *uplink.Catalog) { c.Matters[0].Fields[1].FieldID = "address" },
	}
	for name, mut := range catMut {
		c := appCatalog()
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("catalog %s: accepted", name)
		}
	}
	caseMut := map[string]func(*uplink.Case){
		"bad id":          func(c *uplink.Case) { c.CaseID = "C123" },
		"bad number":      func(c *uplink.Case) { c.CaseNumber = "2026-cg-000001" },
		"track elsewhere": func(c *uplink.Case) { c.TrackURL = "http://p.example/track/CZZZZZZZZZZZZZZZZ" },
		"track relative":  func(c *uplink.Case) { c.TrackURL = "/track/" + appCaseID },
		"no timeline":     func(c *uplink.Case) { c.Timeline = nil },
		"status mismatch": func(c *uplink.Case) { c.Status = uplink.CaseReviewing },
		"skipped step": func(c *uplink.Case) {
			c.Status = uplink.CaseReady
			c.Timeline = append(c.Timeline, uplink.CaseEvent{Status: uplink.CaseReady, At: appAt, Note: tx("x", "x"), Place: &appCentre})
		},
		"ready no place": func(c *uplink.Case) {
			c.Status = uplink.CaseReviewing
			c.Timeline = append(c.Timeline, uplink.CaseEvent{Status: uplink.CaseReviewing, At: appAt, Note: tx("x", "x"), Place: &appCentre})
		},
		"time backwards": func(c *uplink.Case) {
			c.Status = uplink.CaseReviewing
			c.Timeline = append(c.Timeline, uplink.CaseEvent{Status: uplink.CaseReviewing, At: appAt.Add(-time.Second), Note: tx("x", "x")})
		},
		"full name": func(c *uplink.Case) { c.Applicant = "欧阳娜娜娜娜娜娜娜" },
	}
	for name, mut := range caseMut {
		c := appCase()
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("case %s: accepted", name)
		}
	}
	for s, want := range map[string]string{
		"http://p.example/track/" + appCaseID:            appCaseID,
		"https://p.example/gov/track/" + appCaseID:       appCaseID,
		" https://p.example/track/" + appCaseID + "?x=1": appCaseID,
		"https://p.example/track/" + appCaseID + "/x":    "",
		"https://p.example/xtrack/" + appCaseID:          "",
		"ftp://p.example/track/" + appCaseID:             "",
		appCaseID:                                        "",
		"https:///track/" + appCaseID:                    "",
	} {
		if got, ok := uplink.CaseIDFromTrackURL(s); got != want || ok != (want != "") {
			t.Errorf("CaseIDFromTrackURL(%q) = %q %v", s, got, ok)
		}
	}
	for s, ok := range map[string]bool{"bill:P20261127ABC": true, "case:" + appCaseID: true, "case:C1": false, "bill:": false, "bill:a/b": false, "pay:P1": false, "bill": false} {
		if _, _, got := uplink.ParseService(s); got != ok {
			t.Errorf("ParseService(%q) = %v", s, got)
		}
	}
	r := uplink.RatingRequest{TerminalID: terminal, Service: uplink.BillService("P1"), Level: 3, RatedAt: appAt}
	for name, mut := range map[string]func(*uplink.RatingRequest){
		"level 0": func(r *uplink.RatingRequest) { r.Level = 0 }, "level 6": func(r *uplink.RatingRequest) { r.Level = 6 },
		"long comment": func(r *uplink.RatingRequest) { r.Comment = strings.Repeat("好", 201) },
		"no time":      func(r *uplink.RatingRequest) { r.RatedAt = time.Time{} },
		"bad service":  func(r *uplink.RatingRequest) { r.Service = "order:O1" },
	} {
		c := r
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("rating %s: accepted", name)
		}
	}
	if uplink.RatingLevelName(1).Zh != "非常不满意" || uplink.RatingLevelName(5).Zh != "非常满意" {
		t.Error("rating level names")
	}
	reqMut := map[string]func(*uplink.ApplicationRequest){
		"no terminal":      func(r *uplink.ApplicationRequest) { r.TerminalID = "" },
		"bad app id":       func(r *uplink.ApplicationRequest) { r.ApplicationID = "a b" },
		"no time":          func(r *uplink.ApplicationRequest) { r.SubmittedAt = time.Time{} },
		"bad field id":     func(r *uplink.ApplicationRequest) { r.Fields["a b"] = "x" },
		"huge value":       func(r *uplink.ApplicationRequest) { r.Fields["address"] = strings.Repeat("x", 801) },
		"licence twice":    func(r *uplink.ApplicationRequest) { r.AttachedLicences = []string{"L1", "L1"} },
		"no name":          func(r *uplink.ApplicationRequest) { r.Applicant.Name = "" },
		"bad check digit":  func(r *uplink.ApplicationRequest) { r.Applicant.IDNumber = "110101199001010016" },
		"too many fields":  func(r *uplink.ApplicationRequest) { addFields(r, 61) },
		"too many attachs": func(r *uplink.ApplicationRequest) { r.AttachedLicences = make([]string, 21) },
	}
	for name, mut := range reqMut {
		r := appRequest()
		mut(&r)
		if r.Validate() == nil {
			t.Errorf("request %s: accepted", name)
		}
	}
	// Canonical: licence order and time zone do not matter.
	a, b := appRequest(), appRequest()
	a.AttachedLicences = []string{"B", "A"}
	b.AttachedLicences = []string{"A", "B"}
	b.SubmittedAt = b.SubmittedAt.In(chinaCST)
	if mustJSON(a.Canonical()) != mustJSON(b.Canonical()) || a.AttachedLicences[0] != "B" {
		t.Error("canonical forms differ, or Canonical changed its receiver")
	}
}

func addFields(r *uplink.ApplicationRequest, n int) {
	for i := range n {
		r.Fields[fmt.Sprintf("f%d", i)] = "x"
	}
}

// appCalls runs every application-side client method once against c.
func appCalls(c *uplink.Client, key string) map[string]func() error {
	ctx := context.Background()
	lookup := uplink.PersonLookup{IDNumber: appIDNo, Name: appName}
	return map[string]func() error{
		"Catalog":           func() error { _, _, err := c.Catalog(ctx, "chengguan", appAt, ""); return err },
		"LookupPerson":      func() error { _, err := c.LookupPerson(ctx, lookup); return err },
		"SubmitApplication": func() error { _, err := c.SubmitApplication(ctx, key, appRequest()); return err },
		"Case":              func() error { _, err := c.Case(ctx, appCaseID); return err },
		"CasesByPerson":     func() error { _, err := c.CasesByPerson(ctx, lookup); return err },
		"Rate": func() error {
			_, err := c.Rate(ctx, key, uplink.RatingRequest{Service: uplink.CaseService(appCaseID), Level: 4, RatedAt: appAt})
			return err
		},
	}
}

// appReplies answers every application endpoint with a good reply.
func appReplies(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/catalog":
		w.Header().Set("ETag", `"`+appCatalog().Version+`"`)
		jsonReply(w, 200, mustJSON(appCatalog()))
	case "/v1/persons/lookup":
		jsonReply(w, 200, mustJSON(appPerson()))
	case "/v1/applications":
		jsonReply(w, 201, mustJSON(appCase()))
	case "/v1/cases/" + appCaseID:
		jsonReply(w, 200, mustJSON(appCase()))
	case "/v1/cases/lookup":
		jsonReply(w, 200, mustJSON(uplink.CaseList{Cases: []uplink.Case{appCase()}}))
	case "/v1/ratings":
		jsonReply(w, 201, mustJSON(appRating()))
	default:
		jsonReply(w, 404, `{"error":{"code":"not_found","message":"nope","retryable":false}}`)
	}
}

func TestAppsClientSendsContract(t *testing.T) {
	key := uplink.NewIdempotencyKey()
	type seen struct {
		method, uri, term, idem, ctype, inm string
		body                                map[string]any
	}
	var mu sync.Mutex
	var got seen
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = seen{method: r.Method, uri: r.URL.RequestURI(), term: r.Header.Get(uplink.HeaderTerminalID),
			idem: r.Header.Get(uplink.HeaderIdempotencyKey), ctype: r.Header.Get("Content-Type"), inm: r.Header.Get("If-None-Match")}
		_ = json.NewDecoder(r.Body).Decode(&got.body)
		mu.Unlock()
		appReplies(w, r)
	})
	want := map[string]struct {
		method, uri string
		keyed       bool
		fields      []string
	}{
		"Catalog":           {"GET", "/v1/catalog?at=2026-11-27T08%3A30%3A00Z&township=chengguan", false, nil},
		"LookupPerson":      {"POST", "/v1/persons/lookup", false, []string{"terminalId", "idNumber", "name"}},
		"SubmitApplication": {"POST", "/v1/applications", true, []string{"terminalId", "applicationId", "matterId", "township", "applicant", "fields", "attachedLicences", "submittedAt"}},
		"Case":              {"GET", "/v1/cases/" + appCaseID, false, nil},
		"CasesByPerson":     {"POST", "/v1/cases/lookup", false, []string{"terminalId", "idNumber", "name"}},
		"Rate":              {"POST", "/v1/ratings", true, []string{"terminalId", "service", "level", "ratedAt"}},
	}
	for name, call := range appCalls(c, key) {
		if err := call(); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		w := want[name]
		if got.method != w.method || got.uri != w.uri || got.term != terminal {
			t.Errorf("%s: sent %s %s (terminal %q)", name, got.method, got.uri, got.term)
		}
		if w.keyed != (got.idem == key) {
			t.Errorf("%s: Idempotency-Key %q", name, got.idem)
		}
		if w.method == "POST" && got.ctype != "application/json" {
			t.Errorf("%s: Content-Type %q", name, got.ctype)
		}
		for _, f := range w.fields {
			if _, ok := got.body[f]; !ok {
				t.Errorf("%s: body lacks %q: %v", name, f, got.body)
			}
		}
		if strings.Contains(got.uri, appIDNo) {
			t.Errorf("%s: ID number in the URL %s", name, got.uri)
		}
		if w.method == "POST" && got.body["terminalId"] != terminal {
			t.Errorf("%s: terminalId not filled from the client: %v", name, got.body)
		}
	}
	// An application without fields or licences sends {} and [].
	req := appRequest()
	req.Fields, req.AttachedLicences = nil, nil
	_, _ = c.SubmitApplication(context.Background(), key, req)
	if f, ok := got.body["fields"].(map[string]any); !ok || len(f) != 0 {
		t.Errorf("fields: %#v", got.body["fields"])
	}
	if l, ok := got.body["attachedLicences"].([]any); !ok || len(l) != 0 {
		t.Errorf("attachedLicences: %#v", got.body["attachedLicences"])
	}

	// Catalog: own township and now by default; a known version is revalidated.
	_, _, _ = c.Catalog(context.Background(), "", time.Time{}, "")
	if got.uri != "/v1/catalog" || got.inm != "" {
		t.Errorf("default catalog: %s If-None-Match %q", got.uri, got.inm)
	}
	c304 := fake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"c0123456789abcdef"` {
			w.Header().Set("ETag", r.Header.Get("If-None-Match"))
			w.WriteHeader(http.StatusNotModified)
			return
		}
		appReplies(w, r)
	})
	if cat, changed, err := c304.Catalog(context.Background(), "chengguan", time.Time{}, "c0123456789abcdef"); err != nil || changed || cat.Version != "" {
		t.Errorf("304: %v %v %q", err, changed, cat.Version)
	}
	if cat, changed, err := c304.Catalog(context.Background(), "chengguan", appAt, "cOLD"); err != nil || !changed || cat.Version != "c0123456789abcdef" {
		t.Errorf("changed: %v %v %q", err, changed, cat.Version)
	}
	// A 304 the client did not ask for is no answer.
	cBad := fake(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotModified) })
	if _, _, err := cBad.Catalog(context.Background(), "", time.Time{}, ""); !uplink.IsRetryable(err) {
		t.Errorf("unasked 304: %v", err)
	}

	// Refused before sending.
	calls := 0
	c3 := fake(t, func(w http.ResponseWriter, _ *http.Request) { calls++; jsonReply(w, 500, `{}`) })
	ctx := context.Background()
	foreign := appRequest()
	foreign.TerminalID = "T-OTHER"
	badReq := appRequest()
	badReq.Applicant.IDNumber = "110101199001010016"
	refused := map[string]error{}
	_, _, refused["catalog township"] = c3.Catalog(ctx, "a b", time.Time{}, "")
	_, _, refused["catalog version"] = c3.Catalog(ctx, "", time.Time{}, `"x"`)
	_, refused["lookup"] = c3.LookupPerson(ctx, uplink.PersonLookup{IDNumber: "123", Name: appName})
	_, refused["lookup terminal"] = c3.LookupPerson(ctx, uplink.PersonLookup{TerminalID: "T-OTHER", IDNumber: appIDNo, Name: appName})
	_, refused["submit key"] = c3.SubmitApplication(ctx, "KEY", appRequest())
	_, refused["submit terminal"] = c3.SubmitApplication(ctx, key, foreign)
	_, refused["submit id number"] = c3.SubmitApplication(ctx, key, badReq)
	_, refused["case id"] = c3.Case(ctx, "C/../x")
	_, refused["cases lookup"] = c3.CasesByPerson(ctx, uplink.PersonLookup{IDNumber: appIDNo})
	_, refused["rate level"] = c3.Rate(ctx, key, uplink.RatingRequest{Service: uplink.CaseService(appCaseID), Level: 9, RatedAt: appAt})
	_, refused["rate key"] = c3.Rate(ctx, "", uplink.RatingRequest{Service: uplink.CaseService(appCaseID), Level: 3, RatedAt: appAt})
	for name, err := range refused {
		if !uplink.IsFinal(err) {
			t.Errorf("%s: %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "110101199001010016") {
			t.Errorf("%s: error quotes the ID number: %v", name, err)
		}
	}
	if calls != 0 {
		t.Errorf("%d refused calls reached the server", calls)
	}
}

func TestAppsHostileReplies(t *testing.T) {
	key := uplink.NewIdempotencyKey()
	cases := []struct {
		name      string
		h         http.HandlerFunc
		retryable bool
		status    int
		code      string
	}{
		{"garbage JSON 200", func(w http.ResponseWriter, _ *http.Request) { jsonReply(w, 200, `{"caseId":"C`) }, true, 200, uplink.CodeBadReply},
		{"JSON null 201", func(w http.ResponseWriter, _ *http.Request) { jsonReply(w, 201, `null`) }, true, 201, uplink.CodeBadReply},
		{"JSON array 200", func(w http.ResponseWriter, _ *http.Request) { jsonReply(w, 200, `[]`) }, true, 200, uplink.CodeBadReply},
		{"empty object 200", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/persons/lookup" {
				jsonReply(w, 200, `{"licences":[{}]}`) // an empty Person is valid; an empty licence is not
				return
			}
			jsonReply(w, 200, `{}`)
		}, true, 200, uplink.CodeBadReply},
		{"trailing data", func(w http.ResponseWriter, r *http.Request) {
			rec := &bufferedWriter{h: http.Header{}}
			appReplies(rec, r)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rec.status)
			_, _ = w.Write(append(rec.body.Bytes(), []byte(`{"x":1}`)...))
		}, true, 200, uplink.CodeBadReply},
		{"HTML 200", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html>portal</html>")
		}, true, 200, uplink.CodeBadReply},
		{"10 MiB 200", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"pad":"`+strings.Repeat("x", 10<<20)+`"}`)
		}, true, 200, uplink.CodeBadReply},
		{"HTML 502", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "<h1>Bad Gateway</h1>")
		}, true, 502, "http_502"},
		{"503 Retry-After", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "3")
			jsonReply(w, 503, `{"error":{"code":"unavailable","message":"m","retryable":true}}`)
		}, true, 503, uplink.CodeUnavailable},
		{"409 body claims retryable", func(w http.ResponseWriter, _ *http.Request) {
			jsonReply(w, 409, `{"error":{"code":"counter_only","message":"m","retryable":true,"counter":{"reason":{"zh":"x","en":""},"where":{}}}}`)
		}, false, 409, uplink.CodeCounterOnly},
		{"422 garbage details", func(w http.ResponseWriter, _ *http.Request) {
			jsonReply(w, 422, `{"error":{"code":"application_incomplete","message":"m","retryable":false,"missing":"everything"}}`)
		}, false, 422, uplink.CodeApplicationIncomplete},
		{"empty 404", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(404) }, false, 404, "http_404"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://192.0.2.1/x", http.StatusFound)
		}, true, 302, "http_302"},
		// Well-formed, but for something else or inconsistent: the call may
		// have committed, so only a resend with the same key can tell.
		{"reply for something else", func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/v1/catalog":
				c := appCatalog()
				c.Township = "liuqiao"
				jsonReply(w, 200, mustJSON(c))
			case "/v1/persons/lookup":
				p := appPerson()
				p.Licences = append(p.Licences, p.Licences[0]) // a licence twice
				jsonReply(w, 200, mustJSON(p))
			case "/v1/cases/lookup":
				c := appCase()
				c.Timeline = nil
				jsonReply(w, 200, mustJSON(uplink.CaseList{Cases: []uplink.Case{c}}))
			case "/v1/ratings":
				r := appRating()
				r.Level = 2 // not what was sent (and no followUp)
				jsonReply(w, 201, mustJSON(r))
			default:
				c := appCase()
				c.CaseID = "CZZZZZZZZZZZZZZZZ"
				c.TrackURL = "http://p.example/track/" + c.CaseID
				c.ApplicationID = "A-OTHER"
				jsonReply(w, 200, mustJSON(c))
			}
		}, true, 200, uplink.CodeBadReply},
		{"inconsistent states", func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/v1/catalog":
				c := appCatalog()
				c.At = c.At.Add(time.Hour) // not the instant asked for
				jsonReply(w, 200, mustJSON(c))
			case "/v1/persons/lookup":
				p := appPerson()
				p.History.Phone = "call me"
				jsonReply(w, 200, mustJSON(p))
			case "/v1/cases/lookup":
				jsonReply(w, 200, `{"cases":null}`)
			case "/v1/ratings":
				r := appRating()
				r.FollowUp = true // for a level 4
				jsonReply(w, 201, mustJSON(r))
			default:
				c := appCase()
				c.Status = uplink.CaseReady // the timeline ends in accepted
				jsonReply(w, 200, mustJSON(c))
			}
		}, true, 200, uplink.CodeBadReply},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for name, call := range appCalls(fake(t, c.h), key) {
				err := call()
				ue, ok := errors.AsType[*uplink.Error](err)
				if !ok {
					t.Errorf("%s: not an *uplink.Error: %v", name, err)
					continue
				}
				if uplink.IsRetryable(err) != c.retryable || uplink.IsFinal(err) == c.retryable {
					t.Errorf("%s: retryable = %v, want %v: %v", name, uplink.IsRetryable(err), c.retryable, err)
				}
				// A reply the client cannot use keeps its 2xx status.
				if ue.Code != c.code || (ue.Status != c.status && !(c.code == uplink.CodeBadReply && ue.Status/100 == 2)) {
					t.Errorf("%s: status/code = %d/%s, want %d/%s: %v", name, ue.Status, ue.Code, c.status, c.code, err)
				}
			}
		})
	}
}

// bufferedWriter records a handler's reply.
type bufferedWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.h }
func (b *bufferedWriter) WriteHeader(s int)   { b.status = s }
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = 200
	}
	return b.body.Write(p)
}

func TestApplicationErrorDetails(t *testing.T) {
	ctx := context.Background()
	missing := []uplink.MissingItem{
		{Kind: uplink.MissingField, ID: "phone", Label: tx("联系电话", "Phone"), Reason: uplink.ReasonMissing},
		{Kind: uplink.MissingMaterial, ID: "household", Label: tx("户口簿", "Household register"), Reason: uplink.ReasonMissing, Detail: "attach a valid electronic licence"},
		{Kind: "bogus", ID: "x", Label: tx("x", "x"), Reason: uplink.ReasonMissing}, // dropped: not a valid item
	}
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		jsonReply(w, 422, mustJSON(uplink.ApplicationErrorBody{Error: uplink.ApplicationErrorDetail{
			Code: uplink.CodeApplicationIncomplete, Message: "2 items missing", Missing: missing}}))
	})
	_, err := c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), appRequest())
	checkErr(t, err, false, 422, uplink.CodeApplicationIncomplete)
	ae, ok := errors.AsType[*uplink.ApplicationError](err)
	if !ok || len(ae.Missing) != 2 || ae.Missing[1].ID != "household" || ae.Counter != nil || !strings.Contains(err.Error(), "2 items missing") {
		t.Fatalf("details: %+v %v", ae, err)
	}
	counter := uplink.CounterInfo{Reason: tx("需现场核查", "On-site inspection"), Where: appCentre}
	c = fake(t, func(w http.ResponseWriter, r *http.Request) {
		jsonReply(w, 409, mustJSON(uplink.ApplicationErrorBody{Error: uplink.ApplicationErrorDetail{
			Code: uplink.CodeCounterOnly, Message: "counter", Counter: &counter}}))
	})
	_, err = c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), appRequest())
	checkErr(t, err, false, 409, uplink.CodeCounterOnly)
	if ae, ok := errors.AsType[*uplink.ApplicationError](err); !ok || ae.Counter == nil || *ae.Counter != counter {
		t.Fatalf("counter: %v", err)
	}
	// Other codes stay plain errors; details only come with a final reply.
	c = fake(t, func(w http.ResponseWriter, r *http.Request) {
		jsonReply(w, 409, `{"error":{"code":"matter_not_offered","message":"m","retryable":false,"missing":[]}}`)
	})
	_, err = c.SubmitApplication(ctx, uplink.NewIdempotencyKey(), appRequest())
	checkErr(t, err, false, 409, uplink.CodeMatterNotOffered)
	if _, ok := errors.AsType[*uplink.ApplicationError](err); ok {
		t.Error("matter_not_offered came as an ApplicationError")
	}
}
