package journal

// Kinds of partner-site staff mode (kiosk/terminal/staff*.go). A PIN is
// never journaled: sign-in records name the staff member and badge only.
const (
	// StaffPINRejected is one wrong PIN for a badge (Ref: the badge's
	// staff id and serial); StaffLocked locks that badge until the time in
	// Detail (RFC 3339). Both survive a restart, so a reboot does not
	// reset the count.
	StaffPINRejected Kind = "staff.pinRejected"
	StaffLocked      Kind = "staff.locked"
	// StaffSignedIn and StaffSignedOut bracket a shift (Session: the
	// shift id, Ref: the staff id); Detail of a sign-out says why (signOut,
	// idle, restart).
	StaffSignedIn  Kind = "staff.signedIn"
	StaffSignedOut Kind = "staff.signedOut"
	// StaffTopUp links a counter top-up's payment (Key) to the shift that
	// took the resident's cash.
	StaffTopUp Kind = "staff.topUp"
	// CashBoxRemoved is the bill validator reporting its cash box out
	// (Data: the journal's counts since the last removal). The journal's
	// counters restart from here.
	CashBoxRemoved Kind = "cashbox.removed"
	// CashBoxCounted is the staff count of a removed box against the
	// journal's (Data: both, and the differences); never an adjustment.
	CashBoxCounted Kind = "cashbox.counted"
	// StaffReportSent is a cash-box or shift report the platform accepted
	// (Key: its idempotency key, Ref: the report id).
	StaffReportSent Kind = "staff.reportSent"
)

// CashBoxReplaced is the validator reporting its cash box back in.
const CashBoxReplaced Kind = "cashbox.replaced"

// StaffRefundRequested is a voucher refund about to be sent to the
// platform (Key, Ref: the voucher). Without a voucher.refunded after it,
// a restart leaves the voucher held: the platform may have recorded the
// refund, so neither a payment nor another refund may use it here.
const StaffRefundRequested Kind = "staff.refundRequested"
