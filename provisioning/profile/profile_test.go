package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseFillsDefaultsAndResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "p.json")
	os.WriteFile(f, []byte(`{"devices":{
		"billValidator":{"driver":"id003","path":"dev/bv","denominations":[1000,2000]},
		"printer":{"driver":"escpos","path":"/dev/ttyS1","line":{"baud":9600,"dataBits":8,"parity":"none","stopBits":1},"paper":58}}}`), 0o644)
	p, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	bv := p.Devices["billValidator"]
	if bv.Line.String() != "9600 8E1" || bv.Path != filepath.Join(dir, "dev/bv") {
		t.Fatalf("bill validator: %+v", bv)
	}
	if pr := p.Devices["printer"]; pr.Line.Baud != 9600 || pr.Paper != 58 {
		t.Fatalf("printer: %+v", pr)
	}
}

func TestParseRejectsBadProfiles(t *testing.T) {
	for in, want := range map[string]string{
		`{`:              "parse",
		`{"devices":{}}`: "no devices",
		`{"devices":{"printer":{"driver":"zpl","path":"/dev/x"}}}`:                         "unknown driver",
		`{"devices":{"toaster":{"driver":"id003","path":"/dev/x"}}}`:                       "unknown role",
		`{"devices":{"printer":{"driver":"escpos"}}}`:                                      "path missing",
		`{"devices":{"printer":{"driver":"escpos","path":"/x","paper":66}}}`:               "paper",
		`{"devices":{"printer":{"driver":"escpos","path":"/x","colour":"red"}}}`:           "unknown field",
		`{"devices":{"printer":{"driver":"escpos","path":"/x","line":{"baud":-1}}}}`:       "baud",
		`{"devices":{"billValidator":{"driver":"id003","path":"/x","denominations":[0]}}}`: "denomination",
	} {
		if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", in, err, want)
		}
	}
}

func TestParseEveryRole(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "p.json")
	os.WriteFile(f, []byte(`{"devices":{
		"billValidator":{"driver":"ssp","path":"dev/bv","encrypted":true,"fixedKey":"0x0123456701234567","protocol":7},
		"printer":{"driver":"escpos","path":"dev/pr"},
		"idCardReader":{"driver":"idcard","path":"dev/id"},
		"scanner":{"driver":"scanner","path":"dev/sc","model":"Newland","mode":"auto","suffix":"crlf"},
		"coinAcceptor":{"driver":"pulse","path":"sim/dev/gpio","pin":"sim:coin","inhibitPin":"sim:coinInhibit",
			"valuePerPulse":50,"activeLow":true,"denominations":[50,100]},
		"gpio":{"driver":"gpio","inputs":[{"name":"door","kind":"door","pin":"GPIO5","debounceMs":30}],
			"lights":[{"name":"cardSlot","pin":"GPIO6"}]}}}`), 0o644)
	p, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	bv := p.Devices["billValidator"]
	if bv.Line.String() != "9600 8N2" || bv.FixedKey != 0x0123456701234567 || !bv.Encrypted || bv.Protocol != 7 {
		t.Fatalf("ssp: %+v", bv)
	}
	if id := p.Devices["idCardReader"]; id.Line.String() != "115200 8N1" || id.Path != filepath.Join(dir, "dev/id") {
		t.Fatalf("idcard: %+v", id)
	}
	if sc := p.Devices["scanner"]; sc.Line.String() != "9600 8N1" || sc.Model != "newland" {
		t.Fatalf("scanner: %+v", sc)
	}
	coin := p.Devices["coinAcceptor"]
	if coin.InhibitLevel != "high" || coin.Path != filepath.Join(dir, "sim/dev/gpio") || coin.Line != (Device{}).Line {
		t.Fatalf("pulse: %+v", coin)
	}
	if name, ok := SimPin(coin.Pin); !ok || name != "coin" {
		t.Fatalf("SimPin(%q) = %q, %v", coin.Pin, name, ok)
	}
	if g := p.Devices["gpio"]; len(g.Inputs) != 1 || g.Inputs[0].DebounceMs != 30 || g.Path != "" {
		t.Fatalf("gpio: %+v", g)
	}

	// What Write saves, Parse reads back the same.
	out := filepath.Join(dir, "out.json")
	if err := Write(out, p); err != nil {
		t.Fatal(err)
	}
	q, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if q.Devices["billValidator"].FixedKey != bv.FixedKey || len(q.Devices) != 6 {
		t.Fatalf("round trip: %+v", q)
	}
}

func TestParseRejectsBadDevices(t *testing.T) {
	for in, want := range map[string]string{
		// A field another driver uses is still refused, naming the device.
		`{"devices":{"idCardReader":{"driver":"idcard","path":"/x","paper":80}}}`:                                                                `device "idCardReader": field "paper" is not used by driver idcard`,
		`{"devices":{"billValidator":{"driver":"id003","path":"/x","encrypted":true}}}`:                                                          `field "encrypted" is not used by driver id003`,
		`{"devices":{"billValidator":{"driver":"cctalk","path":"/x"}}}`:                                                                          "known for billValidator: id003, ssp",
		`{"devices":{"billValidator":{"driver":"ssp","path":"/x","addr":127}}}`:                                                                  "addr 127",
		`{"devices":{"billValidator":{"driver":"ssp","path":"/x","fixedKey":5}}}`:                                                                "fixedKey is only used with",
		`{"devices":{"billValidator":{"driver":"ssp","path":"/x","encrypted":true,"fixedKey":"k"}}}`:                                             "64-bit",
		`{"devices":{"idCardReader":{"driver":"idcard"}}}`:                                                                                       `device "idCardReader": path missing`,
		`{"devices":{"scanner":{"driver":"scanner","path":"/x","model":"zebra"}}}`:                                                               "model",
		`{"devices":{"scanner":{"driver":"scanner","path":"/x","mode":"auto"}}}`:                                                                 "only a newland",
		`{"devices":{"scanner":{"driver":"scanner","path":"/x","suffix":"tab"}}}`:                                                                "suffix",
		`{"devices":{"scanner":{"driver":"scanner","path":"/x","line":{"baud":9600,"parity":"mark"}}}}`:                                          "parity",
		`{"devices":{"coinAcceptor":{"driver":"pulse","valuePerPulse":50}}}`:                                                                     `device "coinAcceptor": pin missing`,
		`{"devices":{"coinAcceptor":{"driver":"pulse","pin":"GPIO17"}}}`:                                                                         "valuePerPulse",
		`{"devices":{"coinAcceptor":{"driver":"pulse","pin":"GPIO17","valuePerPulse":50,"denominations":[120]}}}`:                                "whole number of pulses",
		`{"devices":{"coinAcceptor":{"driver":"pulse","pin":"GPIO17","valuePerPulse":50,"inhibitLevel":"low"}}}`:                                 "inhibitLevel without inhibitPin",
		`{"devices":{"coinAcceptor":{"driver":"pulse","pin":"GPIO17","valuePerPulse":50,"pull":"sideways"}}}`:                                    "pull",
		`{"devices":{"coinAcceptor":{"driver":"pulse","pin":"sim:coin","valuePerPulse":50}}}`:                                                    "sim: pins need path",
		`{"devices":{"coinAcceptor":{"driver":"pulse","path":"/x","pin":"GPIO17","valuePerPulse":50}}}`:                                          "path is only used with sim: pins",
		`{"devices":{"coinAcceptor":{"driver":"pulse","pin":"GPIO17","valuePerPulse":50,"line":{"baud":9600}}}}`:                                 `field "line" is not used by driver pulse`,
		`{"devices":{"gpio":{"driver":"gpio"}}}`:                                                                                                 "no inputs or lights",
		`{"devices":{"gpio":{"driver":"gpio","inputs":[{"name":"door","kind":"window","pin":"GPIO5"}]}}}`:                                        "kind",
		`{"devices":{"gpio":{"driver":"gpio","inputs":[{"name":"door","kind":"door","pin":"GPIO5"}],"lights":[{"name":"door","pin":"GPIO6"}]}}}`: "name used twice",
		`{"devices":{"gpio":{"driver":"gpio","inputs":[{"name":"door","kind":"door","pin":"GPIO5"}],"lights":[{"name":"lamp","pin":"GPIO5"}]}}}`: "used twice",
		`{"devices":{"gpio":{"driver":"gpio","inputs":[{"name":"door","kind":"door"}]}}}`:                                                        "pin missing",
		`{"devices":{"gpio":{"driver":"gpio","inputs":[{"name":"door","kind":"door","pin":"GPIO5","colour":"red"}]}}}`:                           "unknown field",
	} {
		if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s:\n  err %v\n  want %q", in, err, want)
		}
	}
}
