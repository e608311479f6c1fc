package codec

import "fmt"

// Command is a host → acceptor code (brief §3a, controller → acceptor table;
// 86/87 from py-id003's constants).
type Command byte

const (
	CmdStatusRequest Command = 0x11 // reply: current status
	CmdACK           Command = 0x50 // no reply; answers vend valid (15)
	CmdReset         Command = 0x40 // reply: ACK
	CmdStack1        Command = 0x41 // reply: ACK; vend valid once past the stacker lever
	CmdStack2        Command = 0x42 // reply: ACK; vend valid once fully stored
	CmdReturn        Command = 0x43 // reply: ACK
	CmdHold          Command = 0x44 // keep the note in escrow
	CmdWait          Command = 0x45

	CmdSetDenomination  Command = 0xC0 // 2 bytes, bit = 1 disables a denomination; echoed
	CmdSetSecurity      Command = 0xC1 // 2 bytes, bit = 1 high security; echoed
	CmdSetCommMode      Command = 0xC2 // 1 byte, 00 polling, 01/02 interrupt; echoed
	CmdSetInhibit       Command = 0xC3 // 1 byte, 00 accept, 01 inhibited; echoed
	CmdSetDirection     Command = 0xC4 // 1 byte, FA 1 FB 2 BA 4 BB 8 (1 = reject); echoed
	CmdSetOptionalFunc  Command = 0xC5 // 2 bytes, see Opt* bits; echoed
	CmdSetBarcodeFunc   Command = 0xC6
	CmdSetBarInhibit    Command = 0xC7
	CmdGetDenomination  Command = 0x80 // read back C0
	CmdGetSecurity      Command = 0x81 // read back C1
	CmdGetCommMode      Command = 0x82 // read back C2
	CmdGetInhibit       Command = 0x83 // read back C3
	CmdGetDirection     Command = 0x84 // read back C4
	CmdGetOptionalFunc  Command = 0x85 // read back C5
	CmdGetBarcodeFunc   Command = 0x86 // read back C6
	CmdGetBarInhibit    Command = 0x87 // read back C7
	CmdGetVersion       Command = 0x88 // reply: 88 + ASCII version
	CmdGetBootVersion   Command = 0x89 // reply: 89 + ASCII boot version
	CmdGetCurrencyTable Command = 0x8A // reply: 8A + 4 bytes per denomination
)

// Optional function bits of C5 (first data byte).
const (
	OptPowerRecovery = 0x02
	OptAutoRetry     = 0x04
	OptNearFull      = 0x20
	OptEntranceEvent = 0x40
	OptEncryption    = 0x80
)

func (c Command) String() string {
	switch c {
	case CmdStatusRequest:
		return "status request"
	case CmdACK:
		return "ack"
	case CmdReset:
		return "reset"
	case CmdStack1:
		return "stack-1"
	case CmdStack2:
		return "stack-2"
	case CmdReturn:
		return "return"
	case CmdHold:
		return "hold"
	case CmdWait:
		return "wait"
	case CmdSetDenomination:
		return "set denomination"
	case CmdSetSecurity:
		return "set security"
	case CmdSetCommMode:
		return "set communication mode"
	case CmdSetInhibit:
		return "set inhibit"
	case CmdSetDirection:
		return "set direction"
	case CmdSetOptionalFunc:
		return "set optional function"
	case CmdSetBarcodeFunc:
		return "set barcode function"
	case CmdSetBarInhibit:
		return "set bar inhibit"
	case CmdGetDenomination:
		return "get denomination"
	case CmdGetSecurity:
		return "get security"
	case CmdGetCommMode:
		return "get communication mode"
	case CmdGetInhibit:
		return "get inhibit"
	case CmdGetDirection:
		return "get direction"
	case CmdGetOptionalFunc:
		return "get optional function"
	case CmdGetBarcodeFunc:
		return "get barcode function"
	case CmdGetBarInhibit:
		return "get bar inhibit"
	case CmdGetVersion:
		return "get version"
	case CmdGetBootVersion:
		return "get boot version"
	case CmdGetCurrencyTable:
		return "get currency table"
	}
	return fmt.Sprintf("command %02X", byte(c))
}

// IsSetting reports whether c is one of the C0..C7 setting commands, which
// the acceptor answers with an echo of the frame.
func (c Command) IsSetting() bool { return c >= CmdSetDenomination && c <= CmdSetBarInhibit }

// SettingDataLen is the data length of a setting command (C0..C7) or of
// the read-back reply (80..87); 0 for other codes.
func SettingDataLen(c Command) int {
	if c >= CmdGetDenomination && c <= CmdGetBarInhibit {
		c += CmdSetDenomination - CmdGetDenomination
	}
	switch c {
	case CmdSetDenomination, CmdSetSecurity, CmdSetOptionalFunc, CmdSetBarcodeFunc:
		return 2
	case CmdSetCommMode, CmdSetInhibit, CmdSetDirection, CmdSetBarInhibit:
		return 1
	}
	return 0
}

// Status is an acceptor → host code (brief §3a, status table). The acceptor
// also answers reset/stack/return with StatusACK.
type Status byte

const (
	StatusIdling     Status = 0x11 // "enable": idle, accepting notes
	StatusAccepting  Status = 0x12
	StatusEscrow     Status = 0x13 // data: 1 byte denomination code
	StatusStacking   Status = 0x14
	StatusVendValid  Status = 0x15 // host must answer ACK (50)
	StatusStacked    Status = 0x16
	StatusRejecting  Status = 0x17 // data: 1 byte RejectReason
	StatusReturning  Status = 0x18
	StatusHolding    Status = 0x19
	StatusDisabled   Status = 0x1A // inhibited
	StatusInitialize Status = 0x1B // send the setting commands now

	StatusPowerUp             Status = 0x40
	StatusPowerUpBillAcceptor Status = 0x41 // power up with a bill in the acceptor
	StatusPowerUpBillStacker  Status = 0x42 // power up with a bill in the stacker
	StatusStackerFull         Status = 0x43
	StatusStackerOpen         Status = 0x44 // cash box removed
	StatusJamInAcceptor       Status = 0x45
	StatusJamInStacker        Status = 0x46
	StatusPause               Status = 0x47
	StatusCheated             Status = 0x48
	StatusFailure             Status = 0x49 // data: 1 byte Failure
	StatusCommunicationError  Status = 0x4A
	StatusInvalidCommand      Status = 0x4B
	StatusACK                 Status = 0x50 // reply to reset, stack, return
)

func (s Status) String() string {
	switch s {
	case StatusIdling:
		return "idling"
	case StatusAccepting:
		return "accepting"
	case StatusEscrow:
		return "escrow"
	case StatusStacking:
		return "stacking"
	case StatusVendValid:
		return "vend valid"
	case StatusStacked:
		return "stacked"
	case StatusRejecting:
		return "rejecting"
	case StatusReturning:
		return "returning"
	case StatusHolding:
		return "holding"
	case StatusDisabled:
		return "disabled"
	case StatusInitialize:
		return "initialize"
	case StatusPowerUp:
		return "power up"
	case StatusPowerUpBillAcceptor:
		return "power up with bill in acceptor"
	case StatusPowerUpBillStacker:
		return "power up with bill in stacker"
	case StatusStackerFull:
		return "stacker full"
	case StatusStackerOpen:
		return "stacker open"
	case StatusJamInAcceptor:
		return "jam in acceptor"
	case StatusJamInStacker:
		return "jam in stacker"
	case StatusPause:
		return "pause"
	case StatusCheated:
		return "cheated"
	case StatusFailure:
		return "failure"
	case StatusCommunicationError:
		return "communication error"
	case StatusInvalidCommand:
		return "invalid command"
	case StatusACK:
		return "ack"
	}
	return fmt.Sprintf("status %02X", byte(s))
}

// Known reports whether s is a status the acceptor sends in reply to a
// status request (everything in the table except ACK).
func (s Status) Known() bool {
	return (s >= StatusIdling && s <= StatusInitialize) || (s >= StatusPowerUp && s <= StatusInvalidCommand)
}

// DataLen is the number of data bytes a status carries.
func (s Status) DataLen() int {
	switch s {
	case StatusEscrow, StatusRejecting, StatusFailure:
		return 1
	}
	return 0
}

// Escrow denomination codes. Their values are firmware specific: read them
// with CmdGetCurrencyTable.
const (
	FirstDenomCode = 0x61
	// LastDenomCode is the last code the two C0 mask bytes can address.
	LastDenomCode = FirstDenomCode + 15
	// EscrowBarcode is a barcode ticket, not a note.
	EscrowBarcode = 0x6F
)

// RejectReason is the data byte of StatusRejecting.
type RejectReason byte

const (
	RejectInsertion     RejectReason = 0x71
	RejectMagnetic      RejectReason = 0x72
	RejectRemainingHead RejectReason = 0x73
	RejectCompensation  RejectReason = 0x74
	RejectConveying     RejectReason = 0x75
	RejectDenomination  RejectReason = 0x76
	RejectPhotoPattern1 RejectReason = 0x77
	RejectPhotoLevel    RejectReason = 0x78
	RejectInhibit       RejectReason = 0x79
	RejectOperation     RejectReason = 0x7B
	RejectTransport     RejectReason = 0x7C
	RejectLength        RejectReason = 0x7D
	RejectPhotoPattern2 RejectReason = 0x7E
)

func (r RejectReason) String() string {
	switch r {
	case RejectInsertion:
		return "insertion error"
	case RejectMagnetic:
		return "magnetic pattern error"
	case RejectRemainingHead:
		return "bill remaining in head or sensor"
	case RejectCompensation:
		return "compensation/amplitude error"
	case RejectConveying:
		return "conveying (feed) error"
	case RejectDenomination:
		return "denomination assessment error"
	case RejectPhotoPattern1:
		return "photo pattern 1 error"
	case RejectPhotoLevel:
		return "photo level error"
	case RejectInhibit:
		return "inhibited (DIP switch or command)"
	case RejectOperation:
		return "operation error"
	case RejectTransport:
		return "bill in transport at wrong time"
	case RejectLength:
		return "length error"
	case RejectPhotoPattern2:
		return "photo/colour pattern 2 error"
	}
	return fmt.Sprintf("unknown reject reason %02X", byte(r))
}

// Failure is the data byte of StatusFailure.
type Failure byte

const (
	FailStackerMotor     Failure = 0xA2
	FailTransportSpeed   Failure = 0xA5
	FailTransportMotor   Failure = 0xA6
	FailAligningMotor    Failure = 0xA7
	FailCashBoxNotReady  Failure = 0xAB
	FailOpticalSensor    Failure = 0xAC
	FailMagneticSensor   Failure = 0xAD
	FailHeadRemoved      Failure = 0xAF
	FailBootROM          Failure = 0xB0
	FailExternalROM      Failure = 0xB1
	FailROM              Failure = 0xB2
	FailExternalROMWrite Failure = 0xB3
)

func (f Failure) String() string {
	switch f {
	case FailStackerMotor:
		return "stacker motor failure"
	case FailTransportSpeed:
		return "transport motor speed failure"
	case FailTransportMotor:
		return "transport motor failure"
	case FailAligningMotor:
		return "aligning motor failure"
	case FailCashBoxNotReady:
		return "cash box not ready"
	case FailOpticalSensor:
		return "optical sensor failure"
	case FailMagneticSensor:
		return "magnetic sensor failure"
	case FailHeadRemoved:
		return "validator head removed"
	case FailBootROM:
		return "boot ROM failure"
	case FailExternalROM:
		return "external ROM failure"
	case FailROM:
		return "ROM failure"
	case FailExternalROMWrite:
		return "external ROM write failure"
	}
	return fmt.Sprintf("unknown failure %02X", byte(f))
}
