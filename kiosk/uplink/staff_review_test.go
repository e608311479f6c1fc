package uplink

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A hostile or broken platform cannot put control characters (ESC/POS
// commands on the printer) or a huge text into the staff member's name or
// site: the sign-in reply is refused plainly.
func TestStaffSignInRefusesAnUnprintableName(t *testing.T) {
	for _, c := range []struct{ name, site string }{
		{"王芳\x1b@\x1dV", "城关镇"},
		{strings.Repeat("王", 65), "城关镇"},
		{"王芳", "line one\nline two"},
		{"王芳", strings.Repeat("x", 129)},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			b, _ := json.Marshal(StaffMember{StaffID: "S1001", Name: c.name, Site: c.site})
			w.Write(b)
		}))
		_, err := NewClient(srv.URL, "TB-TEST").StaffSignIn(context.Background(),
			StaffSignInRequest{TerminalID: "TB-TEST", Badge: "tongban-staff:v1?n=X&s=S1001&sig=AA", PIN: "246810"})
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), "name or site") {
			t.Errorf("name %q site %q: got %v, want a refusal of the reply", c.name, c.site, err)
		}
	}
	// A plain reply still signs in.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"staffId":"S1001","name":"王芳","site":"城关镇农商银行营业部"}`)
	}))
	defer srv.Close()
	if m, err := NewClient(srv.URL, "TB-TEST").StaffSignIn(context.Background(),
		StaffSignInRequest{TerminalID: "TB-TEST", Badge: "tongban-staff:v1?n=X&s=S1001&sig=AA", PIN: "246810"}); err != nil || m.Name != "王芳" {
		t.Fatalf("plain reply: %+v %v", m, err)
	}
}
