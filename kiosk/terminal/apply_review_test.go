package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// A malformed government-service intent is refused with a plain
// invalidData error naming what is wrong, before anything is touched (the
// bare Terminal here has no session, journal or platform to touch) — also
// for the intents that take no payload, which used to ignore one.
func TestMalformedGovIntentsAreRefusedPlainly(t *testing.T) {
	term := &Terminal{}
	for _, c := range []struct{ name, payload, says string }{
		{"Apply.Set", `{"fieldId":5,"value":"x"}`, "fieldId"},
		{"Apply.Set", `{"fieldId":"phone","value":"1","extra":true}`, "extra"},
		{"Apply.Attach", `{"licenceId":"EL-1","attach":"yes"}`, "attach"},
		{"Gov.Browse", `{"department":"x","page":"2"}`, "page"},
		{"Rating.Submit", `[5]`, "payload"},
		{"Rating.Submit", `{"level":5`, "payload"},
		{"Gov.Back", `{"to":"home"}`, "to"},
		{"Apply.Submit", `{"force":true}`, "force"},
	} {
		_, err := term.govIntent(c.name)(context.Background(), json.RawMessage(c.payload))
		var te *Error
		if !errors.As(err, &te) || te.Code != "invalidData" || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s %s: got %v, want invalidData naming %q", c.name, c.payload, err, c.says)
		}
	}
}
