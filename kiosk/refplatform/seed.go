package refplatform

import (
	"fmt"
	"time"

	"tongban/kiosk/uplink"
)

// Payees of the demo county.
const (
	payeeWater       = "县自来水公司"
	payeeElectricity = "国网县供电公司"
	payeeGas         = "县燃气公司"
	payeeHeating     = "县热力公司"
)

// demoAccounts is written on first start (README.md lists them). Amounts
// are fen. Names and addresses are invented.
func demoAccounts() []account {
	paid := time.Date(2026, 11, 3, 1, 12, 0, 0, time.UTC) // 09:12 China time
	mk := func(u uplink.Utility, payee, prefix, period, acct, holder, addr string, due, arrears, prepaid int64) account {
		return account{
			Utility: u, Account: acct, Payee: payee, Holder: holder, Address: addr,
			Period: period, BillID: prefix + "-" + acct,
			AmountDue: due, Arrears: arrears, Prepaid: prepaid,
		}
	}
	water := func(acct, holder, addr string, due, arrears, prepaid int64) account {
		return mk(uplink.Water, payeeWater, "SF202610", "2026-10", acct, holder, addr, due, arrears, prepaid)
	}
	elec := func(acct, holder, addr string, due, arrears, prepaid int64) account {
		return mk(uplink.Electricity, payeeElectricity, "DF202610", "2026-10", acct, holder, addr, due, arrears, prepaid)
	}
	gas := func(acct, holder, addr string, due, arrears, prepaid int64) account {
		return mk(uplink.Gas, payeeGas, "RQ202610", "2026-10", acct, holder, addr, due, arrears, prepaid)
	}
	heat := func(acct, holder, addr string, due, arrears, prepaid int64) account {
		return mk(uplink.Heating, payeeHeating, "GN2026", "2026-2027", acct, holder, addr, due, arrears, prepaid)
	}

	alreadyPaid := water("100100100003", "王志强", "柳桥镇柳桥村三组27号", 0, 0, 0)
	alreadyPaid.PaidAt = &paid

	return []account{
		water("100100100001", "张建国", "城关镇幸福路12号3单元402室", 8650, 0, 0),
		water("100100100002", "李秀英", "城关镇建设街88号院5号楼201室", 15620, 7310, 0),
		alreadyPaid,
		elec("200200200001", "刘桂兰", "城关镇人民路45号", 12830, 0, 0),
		// A prepaid (费控) meter: nothing billed, a balance to top up.
		elec("200200200002", "陈海燕", "大王庄镇大王庄村东街9号", 0, 0, 2345),
		elec("200200200003", "赵德胜", "城关镇文化路17号2单元301室", 30275, 10025, 0),
		gas("300300300001", "孙丽", "城关镇滨河小区6号楼1单元502室", 6400, 0, 0),
		gas("300300300002", "周明", "城关镇建设街88号院2号楼602室", 21960, 12000, 0),
		gas("300300300003", "吴小红", "柳桥镇政府街3号", 4580, 0, 0),
		heat("400400400001", "郑国华", "城关镇滨河小区3号楼2单元101室", 198000, 0, 0),
		heat("400400400002", "冯淑珍", "城关镇人民路45号院1号楼402室", 264000, 66000, 0),
		heat("400400400003", "何建军", "城关镇文化路17号", 158400, 0, 0),
	}
}

// maskName keeps the surname: 张建国 -> 张*.
func maskName(s string) string {
	r := []rune(s)
	if len(r) == 0 {
		return ""
	}
	return string(r[0]) + "*"
}

// maskAddress keeps the town and street, never the house number:
// 城关镇幸福路12号3单元402室 -> 城关镇幸福路****.
func maskAddress(s string) string {
	r := []rune(s)
	keep := min(6, len(r)/2)
	return string(r[:keep]) + "****"
}

// maskAccount keeps the first and last four digits: 1001****0001.
func maskAccount(s string) string {
	if len(s) >= 8 {
		return s[:4] + "****" + s[len(s)-4:]
	}
	if len(s) >= 4 {
		return s[:2] + "**" + s[len(s)-2:]
	}
	return "****"
}

// formatYuan renders fen as yuan with two decimals: 8650 -> "86.50".
func formatYuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

func utilityName(u uplink.Utility) string {
	switch u {
	case uplink.Water:
		return "水费"
	case uplink.Electricity:
		return "电费"
	case uplink.Gas:
		return "燃气费"
	case uplink.Heating:
		return "供暖费"
	}
	return string(u)
}
