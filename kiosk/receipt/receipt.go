// Package receipt lays out the payment receipt a resident takes home and
// turns it into an ESC/POS job for the printer.
package receipt

import (
	"fmt"
	"strings"

	"tongban/drivers/escpos/codec"
	"tongban/kiosk/terminal"
)

var utilityNames = map[string]string{
	"water": "水费", "electricity": "电费", "gas": "燃气费", "heating": "暖气费",
}

// Yuan formats fen as yuan with two decimals.
func Yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

// Layout builds receipts for one paper width.
type Layout struct {
	Paper codec.PaperWidth
	Title string // e.g. the county's name for the terminal network
	// Options gives the printer's builder options (its font for rare
	// characters, charset, QR mode). It is called per receipt, so a font is
	// loaded only when the first receipt is printed.
	Options func() []codec.Option
}

func (l Layout) builder() *codec.Builder {
	var opts []codec.Option
	if l.Options != nil {
		opts = l.Options()
	}
	return codec.NewBuilder(l.Paper, opts...)
}

var voucherReasons = map[string]string{
	"timeout":    "缴费未确认，会话超时",
	"refused":    "缴费未被平台受理",
	"recovered":  "终端重启，会话中断",
	"unattended": "无人值守时入账",
}

// Job renders r as printer bytes.
func (l Layout) Job(r terminal.Receipt) ([]byte, error) {
	if r.Kind == "voucher" {
		return l.voucher(r)
	}
	if r.Kind == "case" && r.Case != nil {
		return l.caseReceipt(r) // an application (case.go)
	}
	b := l.builder().Init()
	title := l.Title
	if title == "" {
		title = "县乡通办自助终端"
	}
	b.Align(codec.AlignCenter).Bold(true).Size(2, 2).Line("缴费凭证").Size(1, 1).Bold(false)
	b.Line(title)
	if r.Copy {
		b.Bold(true).Line("【重打 COPY】").Bold(false)
	}
	if r.Pending {
		b.Bold(true).Line("【待确认 PENDING】").Bold(false)
	}
	b.Align(codec.AlignLeft).Line(strings.Repeat("-", l.Paper.Columns()))
	billLines(b, r)
	if r.Method == "mobile" {
		b.TwoColumn("支付方式", map[string]string{"wechat": "微信支付", "alipay": "支付宝", "unionpay": "银联云闪付"}[r.Wallet]+" 扫码")
	}
	amountLines(b, r)
	b.Line(strings.Repeat("-", l.Paper.Columns()))
	b.TwoColumn("时间", r.Time.Local().Format("2006-01-02 15:04:05"))
	b.TwoColumn("终端", r.TerminalID)
	paymentIDLines(b, r)
	return paymentTail(b, r)
}

// billLines say which bill a payment receipt is for.
func billLines(b *codec.Builder, r terminal.Receipt) {
	name := utilityNames[r.Utility]
	if name == "" {
		name = r.Utility
	}
	b.TwoColumn("缴费项目", name)
	b.TwoColumn("户号", r.Account)
	if r.Payee != "" {
		b.TwoColumn("收款单位", r.Payee)
	}
	if r.Period != "" {
		b.TwoColumn("账期", r.Period)
	}
}

// amountLines are a payment's notes and amounts; what went to the bill
// and to prepaid only once the platform has confirmed it.
func amountLines(b *codec.Builder, r terminal.Receipt) {
	for _, n := range r.Notes {
		b.TwoColumn(fmt.Sprintf("现金 %s元 x %d", Yuan(n.Value), n.Count), Yuan(n.Value*int64(n.Count)))
	}
	b.Bold(true).TwoColumn("实缴金额", Yuan(r.Amount)+" 元").Bold(false)
	if !r.Pending {
		b.TwoColumn("抵扣账单", Yuan(r.Applied)+" 元")
		if r.Prepaid > 0 {
			b.TwoColumn("存为预存款", Yuan(r.Prepaid)+" 元")
		}
	}
}

// paymentIDLines are the references a payment is looked up by.
func paymentIDLines(b *codec.Builder, r terminal.Receipt) {
	if r.PaymentID != "" {
		b.TwoColumn("交易号", r.PaymentID)
	}
	if r.VerifyCode != "" {
		b.TwoColumn("验证码", r.VerifyCode)
	}
	b.TwoColumn("参考号", r.Reference)
}

// paymentTail ends a payment receipt (the resident's, or the counter
// payment's): the verification QR, the pending note, the cut.
func paymentTail(b *codec.Builder, r terminal.Receipt) ([]byte, error) {
	if r.VerifyURL != "" {
		b.Align(codec.AlignCenter).Feed(1)
		b.QR(r.VerifyURL, 6, codec.QRLevelM)
		b.Line("扫码核验本凭证")
	}
	if r.Pending {
		b.Align(codec.AlignLeft).Line("县级平台暂不可达，本笔缴费已记录，平台恢复后自动入账，请勿重复缴费。")
	}
	b.Align(codec.AlignCenter).Line("请妥善保管本凭证").Feed(3).Cut()
	return b.Bytes()
}

// voucher is the credit voucher: cash the terminal owes the resident.
func (l Layout) voucher(r terminal.Receipt) ([]byte, error) {
	b := l.builder().Init()
	b.Align(codec.AlignCenter).Bold(true).Size(2, 2).Line("现金凭证").Size(1, 1).Bold(false)
	b.Line("CREDIT VOUCHER")
	if r.Copy {
		b.Bold(true).Line("【重打 COPY】").Bold(false)
	}
	b.Align(codec.AlignLeft).Line(strings.Repeat("-", l.Paper.Columns()))
	b.Bold(true).TwoColumn("金额", Yuan(r.Amount)+" 元").Bold(false)
	b.TwoColumn("凭证号", r.Reference)
	b.TwoColumn("校验码", r.VerifyCode)
	if why := voucherReasons[r.Reason]; why != "" {
		b.TwoColumn("原因", why)
	}
	if r.Account != "" {
		b.TwoColumn("户号", r.Account)
	}
	b.TwoColumn("时间", r.Time.Local().Format("2006-01-02 15:04:05"))
	b.TwoColumn("终端", r.TerminalID)
	b.Align(codec.AlignCenter).Feed(1)
	b.QR(r.VerifyURL, 6, codec.QRLevelM)
	b.Align(codec.AlignLeft)
	b.Line("您投入的现金已记录在案。可凭本凭证：")
	b.Line("1. 在本终端下次缴费时抵用；")
	b.Line("2. 由网点工作人员现场退还现金。")
	b.Align(codec.AlignCenter).Line("请妥善保管本凭证").Feed(3).Cut()
	return b.Bytes()
}
