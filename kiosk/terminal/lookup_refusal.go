package terminal

import (
	"errors"

	"tongban/kiosk/uplink"
)

// billLookupRefusal is what a failed bill look-up tells the person at the
// screen (resident or staff) and the caller of the intent: an unknown
// account, the platform out of reach, or the platform's refusal.
func billLookupRefusal(err error) (*Notice, error) {
	var ue *uplink.Error
	switch {
	case errors.As(err, &ue) && ue.Status == 404:
		return &Notice{Code: "accountUnknown", Message: "no such account"}, errf("invalidData", "no such account")
	case uplink.IsRetryable(err):
		return &Notice{Code: "platformOffline", Message: "the county platform cannot be reached"}, errf("timeOut", "platform unreachable: %v", err)
	default:
		return &Notice{Code: "lookupFailed", Message: err.Error()}, errf("commandErrorCode", "bill lookup: %v", err)
	}
}
