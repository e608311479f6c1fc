package receipt

import (
	"fmt"
	"strings"

	"tongban/drivers/escpos/codec"
	"tongban/kiosk/terminal"
)

// StaffJob lays out the documents of partner-site staff mode: the
// resident's receipt of a counter top-up, the cash-box (Z) report, the
// voucher refund slip and the shift report.
func (l Layout) StaffJob(d terminal.StaffDoc) ([]byte, error) {
	switch d.Kind {
	case "topUp":
		if d.TopUp == nil {
			return nil, fmt.Errorf("receipt: counter top-up without its payment")
		}
		return l.counterTopUp(d)
	case "cashBox":
		if d.CashBox == nil {
			return nil, fmt.Errorf("receipt: cash-box report without its count")
		}
		return l.cashBox(d)
	case "refund":
		if d.Refund == nil {
			return nil, fmt.Errorf("receipt: refund slip without its voucher")
		}
		return l.refund(d)
	case "shift":
		if d.Shift == nil {
			return nil, fmt.Errorf("receipt: shift report without its shift")
		}
		return l.shift(d)
	}
	return nil, fmt.Errorf("receipt: unknown staff document %q", d.Kind)
}

func (l Layout) staffHead(b *codec.Builder, title, en string) {
	b.Align(codec.AlignCenter).Bold(true).Size(2, 2).Line(title).Size(1, 1).Bold(false)
	b.Line(en)
	b.Align(codec.AlignLeft).Line(strings.Repeat("-", l.Paper.Columns()))
}

func (l Layout) staffFoot(b *codec.Builder, d terminal.StaffDoc) {
	b.Line(strings.Repeat("-", l.Paper.Columns()))
	b.TwoColumn("经办人员", d.StaffName+" ("+d.StaffID+")")
	b.TwoColumn("时间", d.Time.Local().Format("2006-01-02 15:04:05"))
	b.TwoColumn("终端", d.TerminalID)
}

// counterTopUp is the resident's receipt: the payment receipt, marked as
// taken in cash at the counter by the staff member named on it.
func (l Layout) counterTopUp(d terminal.StaffDoc) ([]byte, error) {
	r := *d.TopUp
	b := l.builder().Init()
	l.staffHead(b, "缴费凭证", "柜台代缴 COUNTER PAYMENT")
	if r.Pending {
		b.Bold(true).Line("【待确认 PENDING】").Bold(false)
	}
	billLines(b, r)
	b.TwoColumn("支付方式", "柜台现金")
	amountLines(b, r)
	paymentIDLines(b, r)
	l.staffFoot(b, d)
	return paymentTail(b, r)
}

// cashBox is the Z report: the journal's count against the staff count,
// line by line, with every difference marked. It adjusts nothing.
func (l Layout) cashBox(d terminal.StaffDoc) ([]byte, error) {
	r := d.CashBox
	b := l.builder().Init()
	l.staffHead(b, "钱箱清点报告", "CASH-BOX (Z) REPORT")
	b.TwoColumn("报告号", r.ReportID)
	b.TwoColumn("取出钱箱", r.RemovedAt.Local().Format("2006-01-02 15:04:05"))
	b.TwoColumn("清点时间", r.CountedAt.Local().Format("2006-01-02 15:04:05"))
	b.Line(strings.Repeat("-", l.Paper.Columns()))
	b.TwoColumn("面额  账面/实点", "差异")
	for _, ln := range r.Lines {
		mark := "0"
		if ln.Counted != ln.Expected {
			mark = fmt.Sprintf("%+d 张 (!)", ln.Counted-ln.Expected)
		}
		b.TwoColumn(fmt.Sprintf("%s元  %d/%d", Yuan(ln.Value), ln.Expected, ln.Counted), mark)
	}
	b.Line(strings.Repeat("-", l.Paper.Columns()))
	b.TwoColumn("账面金额", Yuan(r.ExpectedTotal)+" 元")
	b.TwoColumn("实点金额", Yuan(r.CountedTotal)+" 元")
	b.Bold(true).TwoColumn("差异", Yuan(r.Difference)+" 元").Bold(false)
	if r.Mismatch {
		b.Bold(true).Line("【差异已上报县级平台待核查，未做任何调整】").Bold(false)
	} else {
		b.Line("实点与账面一致。")
	}
	l.staffFoot(b, d)
	b.Feed(3).Cut()
	return b.Bytes()
}

// refund is the slip kept with the refunded voucher.
func (l Layout) refund(d terminal.StaffDoc) ([]byte, error) {
	b := l.builder().Init()
	l.staffHead(b, "凭证退款", "VOUCHER REFUND")
	b.TwoColumn("凭证号", d.Refund.VoucherID)
	b.Bold(true).TwoColumn("退还现金", Yuan(d.Refund.Amount)+" 元").Bold(false)
	l.staffFoot(b, d)
	b.Line("居民签收：")
	b.Feed(3).Cut()
	return b.Bytes()
}

var endedBy = map[string]string{"signOut": "签退", "idle": "超时自动签退", "restart": "终端重启"}

// shift is the shift report of one staff member.
func (l Layout) shift(d terminal.StaffDoc) ([]byte, error) {
	r := d.Shift
	b := l.builder().Init()
	l.staffHead(b, "班次报告", "SHIFT REPORT")
	b.TwoColumn("班次", r.ShiftID)
	b.TwoColumn("签到", r.SignedInAt.Local().Format("2006-01-02 15:04:05"))
	b.TwoColumn("签退", r.SignedOutAt.Local().Format("2006-01-02 15:04:05"))
	if why := endedBy[r.EndedBy]; why != "" {
		b.TwoColumn("结束方式", why)
	}
	b.Line(strings.Repeat("-", l.Paper.Columns()))
	b.TwoColumn(fmt.Sprintf("柜台代缴 %d 笔", len(r.TopUps)), Yuan(r.TopUpTotal)+" 元")
	for _, t := range r.TopUps {
		st := map[string]string{"acknowledged": "已入账", "pending": "待确认", "refused": "被拒,已退回"}[t.Status]
		b.TwoColumn("  "+utilityNames[string(t.Utility)]+" "+maskTail(t.Account), Yuan(t.Amount)+" "+st)
	}
	b.TwoColumn(fmt.Sprintf("凭证退款 %d 笔", len(r.Refunds)), Yuan(r.RefundTotal)+" 元")
	for _, v := range r.Refunds {
		b.TwoColumn("  "+v.VoucherID, Yuan(v.Amount))
	}
	b.TwoColumn(fmt.Sprintf("钱箱清点 %d 次", len(r.CashBoxes)), "")
	for _, id := range r.CashBoxes {
		b.Line("  " + id)
	}
	if r.Differences != 0 {
		b.Bold(true).TwoColumn("清点差异合计", Yuan(r.Differences)+" 元 (!)").Bold(false)
	} else {
		b.TwoColumn("清点差异合计", "0.00 元")
	}
	b.Line(strings.Repeat("-", l.Paper.Columns()))
	b.Bold(true).TwoColumn("应交现金", Yuan(r.CashToDeposit)+" 元").Bold(false)
	l.staffFoot(b, d)
	b.Feed(3).Cut()
	return b.Bytes()
}

// maskTail keeps an account's last four digits.
func maskTail(a string) string {
	if len(a) <= 4 {
		return a
	}
	return strings.Repeat("*", len(a)-4) + a[len(a)-4:]
}
