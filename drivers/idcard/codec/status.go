package codec

import "fmt"

// Status is a reply's SW3 byte (§1.4).
type Status byte

// The SW3 codes of §1.4.
const (
	StatusSuccess       Status = 0x90 // 操作成功
	StatusNoContent     Status = 0x91 // 证/卡中此项无内容
	StatusCardFound     Status = 0x9F // 寻找证/卡成功
	StatusHostChecksum  Status = 0x10 // 接收业务终端数据的校验和错
	StatusHostLength    Status = 0x11 // 接收业务终端数据的长度错
	StatusHostCommand   Status = 0x21 // 接收业务终端的命令错误
	StatusUnauthorized  Status = 0x23 // 越权操作
	StatusUnrecognized  Status = 0x24 // 无法识别的错误
	StatusCardAuthSAM   Status = 0x31 // 证/卡认证SAM失败
	StatusSAMAuthCard   Status = 0x32 // SAM认证证/卡失败
	StatusVerify        Status = 0x33 // 信息验证错误
	StatusUnknownCard   Status = 0x40 // 无法识别的卡类型
	StatusReadFailed    Status = 0x41 // 读证/卡操作失败
	StatusRandomFailed  Status = 0x47 // 取随机数失败
	StatusSelfTest      Status = 0x60 // SAM自检失败，不能接收命令
	StatusNotAuthorised Status = 0x66 // SAM没经过授权，无法使用
	StatusNoCard        Status = 0x80 // 寻找证/卡失败
	StatusSelectFailed  Status = 0x81 // 选取证/卡失败
)

// Class groups statuses by who has to act.
type Class int

const (
	ClassOK      Class = iota // 90, 9F
	ClassCard                 // the card: absent, moved, unreadable, not genuine (80, 81, 91, 3x, 4x)
	ClassHost                 // the host frame or the line: checksum, length, command (10, 11, 21, 23, 24)
	ClassSAM                  // the SAM module itself is unusable (60, 66): a hardware error
	ClassUnknown              // a code the brief does not list
)

func (c Class) String() string {
	switch c {
	case ClassOK:
		return "ok"
	case ClassCard:
		return "card"
	case ClassHost:
		return "host"
	case ClassSAM:
		return "SAM"
	}
	return "unknown"
}

type statusInfo struct {
	en, zh string
	class  Class
}

// statusTable is read-only.
var statusTable = map[Status]statusInfo{
	StatusSuccess:       {"success", "操作成功", ClassOK},
	StatusCardFound:     {"card found", "寻找证/卡成功", ClassOK},
	StatusNoContent:     {"item absent on the card", "证/卡中此项无内容", ClassCard},
	StatusHostChecksum:  {"checksum error in the host's frame", "接收业务终端数据的校验和错", ClassHost},
	StatusHostLength:    {"length error in the host's frame", "接收业务终端数据的长度错", ClassHost},
	StatusHostCommand:   {"command or parameter error", "接收业务终端的命令错误", ClassHost},
	StatusUnauthorized:  {"unauthorised operation", "越权操作", ClassHost},
	StatusUnrecognized:  {"unrecognised error", "无法识别的错误", ClassHost},
	StatusCardAuthSAM:   {"card failed to authenticate the SAM", "证/卡认证SAM失败", ClassCard},
	StatusSAMAuthCard:   {"SAM failed to authenticate the card", "SAM认证证/卡失败", ClassCard},
	StatusVerify:        {"information verification error", "信息验证错误", ClassCard},
	StatusUnknownCard:   {"unknown card type", "无法识别的卡类型", ClassCard},
	StatusReadFailed:    {"reading the card failed", "读证/卡操作失败", ClassCard},
	StatusRandomFailed:  {"getting a random number failed", "取随机数失败", ClassCard},
	StatusSelfTest:      {"SAM self-test failed, commands refused", "SAM自检失败，不能接收命令", ClassSAM},
	StatusNotAuthorised: {"SAM not authorised, cannot be used", "SAM没经过授权，无法使用", ClassSAM},
	StatusNoCard:        {"no card found", "寻找证/卡失败", ClassCard},
	StatusSelectFailed:  {"selecting the card failed", "选取证/卡失败", ClassCard},
}

// Known reports whether the brief lists s.
func (s Status) Known() bool {
	_, ok := statusTable[s]
	return ok
}

// OK reports success (90) or card found (9F).
func (s Status) OK() bool { return s == StatusSuccess || s == StatusCardFound }

// Class says who has to act on s.
func (s Status) Class() Class {
	if i, ok := statusTable[s]; ok {
		return i.class
	}
	return ClassUnknown
}

// English is the meaning in English.
func (s Status) English() string {
	if i, ok := statusTable[s]; ok {
		return i.en
	}
	return "unknown status"
}

// Chinese is the meaning as the standard words it.
func (s Status) Chinese() string {
	if i, ok := statusTable[s]; ok {
		return i.zh
	}
	return "未知状态"
}

func (s Status) String() string {
	return fmt.Sprintf("%02X %s (%s)", byte(s), s.English(), s.Chinese())
}

// Err is nil when s is OK, else a *StatusError.
func (s Status) Err() error {
	if s.OK() {
		return nil
	}
	return &StatusError{Status: s}
}

// StatusError is a reply whose SW3 is not a success. Op, when set, is the
// command it answered. errors.Is matches it against the sentinel of the
// same status (ErrNoCard, ...), and ErrUnknownStatus for unlisted codes.
type StatusError struct {
	Op     Op
	Status Status
}

func (e *StatusError) Error() string {
	if e.Op == 0 {
		return fmt.Sprintf("SAM status %v", e.Status)
	}
	return fmt.Sprintf("%v: SAM status %v", e.Op, e.Status)
}

// Is matches a sentinel: a *StatusError without Op and the same status,
// or ErrUnknownStatus for a status the brief does not list.
func (e *StatusError) Is(target error) bool {
	if target == ErrUnknownStatus {
		return !e.Status.Known()
	}
	t, ok := target.(*StatusError)
	return ok && t.Op == 0 && t.Status == e.Status
}

// Sentinels, one per failure status of §1.4; test with errors.Is.
var (
	ErrNoContent        error = &StatusError{Status: StatusNoContent}
	ErrHostChecksum     error = &StatusError{Status: StatusHostChecksum}
	ErrHostLength       error = &StatusError{Status: StatusHostLength}
	ErrHostCommand      error = &StatusError{Status: StatusHostCommand}
	ErrUnauthorized     error = &StatusError{Status: StatusUnauthorized}
	ErrUnrecognized     error = &StatusError{Status: StatusUnrecognized}
	ErrCardAuthSAM      error = &StatusError{Status: StatusCardAuthSAM}
	ErrSAMAuthCard      error = &StatusError{Status: StatusSAMAuthCard}
	ErrVerify           error = &StatusError{Status: StatusVerify}
	ErrUnknownCardType  error = &StatusError{Status: StatusUnknownCard}
	ErrReadFailed       error = &StatusError{Status: StatusReadFailed}
	ErrRandomFailed     error = &StatusError{Status: StatusRandomFailed}
	ErrSAMSelfTest      error = &StatusError{Status: StatusSelfTest}
	ErrSAMNotAuthorised error = &StatusError{Status: StatusNotAuthorised}
	ErrNoCard           error = &StatusError{Status: StatusNoCard}
	ErrSelectFailed     error = &StatusError{Status: StatusSelectFailed}
	// ErrUnknownStatus matches a StatusError whose code §1.4 does not list.
	ErrUnknownStatus = fmt.Errorf("idcard: unknown SAM status")
)
