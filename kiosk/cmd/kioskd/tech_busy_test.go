package main

import (
	"net/http"
	"testing"

	"tongban/drivers/device"
)

// Self-tests on a device a resident's flow uses are refused while someone
// uses the terminal: before, only the validator cycle was; a test read
// took (and showed) the ID card a resident had placed, and a test page
// could be cut into their receipt. Blinking the lights stays allowed.
func TestTechnicianSelfTestsWaitForAnIdleTerminal(t *testing.T) {
	s := startStackOpts(t, stackOptions{
		// The demo's hardware: it has an ID card reader.
		profile: withDemoProfile(t),
		daemon:  func(c *daemonConfig) { c.TechPIN = testTechPIN },
	})
	for _, role := range []string{"printer", "idCardReader", "billValidator"} {
		s.waitDevice(role, "online", func(h device.Health) bool { return h.State == device.Online })
	}
	c := s.dial()
	if code, _ := c.do("Session.Start", map[string]string{"utility": "water"}); code != "success" {
		t.Fatal("session")
	}
	for _, role := range []string{"printer", "idCardReader", "billValidator"} {
		var e map[string]any
		if code := techPost(t, s, "/api/tech/selftest/"+role, testTechPIN, nil, &e); code != http.StatusConflict {
			t.Errorf("%s self-test during a session: %d %v", role, code, e)
		}
	}
	c.do("Session.Cancel", nil)
	var st selfTestResult
	if code := techPost(t, s, "/api/tech/selftest/printer", testTechPIN, nil, &st); code != http.StatusOK || !st.OK {
		t.Fatalf("printer self-test once idle: %d %+v", code, st)
	}
}
