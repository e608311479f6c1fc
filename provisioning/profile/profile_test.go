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
