package receipt

import (
	"strings"

	"tongban/drivers/escpos/codec"
	"tongban/kiosk/terminal"
)

// caseReceipt is the receipt of a government-service application
// (受理回执): the case number, where the result is collected, and the tracking
// QR that the terminal's scanner (or a phone) reads to show the timeline.
// The applicant appears masked only.
func (l Layout) caseReceipt(r terminal.Receipt) ([]byte, error) {
	c := r.Case
	b := l.builder().Init()
	b.Align(codec.AlignCenter).Bold(true).Size(2, 2).Line("受理回执").Size(1, 1).Bold(false)
	b.Line("APPLICATION RECEIPT")
	if r.Copy {
		b.Bold(true).Line("【重打 COPY】").Bold(false)
	}
	if c.Pending {
		b.Bold(true).Line("【待送达 PENDING】").Bold(false)
	}
	b.Align(codec.AlignLeft).Line(strings.Repeat("-", l.Paper.Columns()))
	b.TwoColumn("办理事项", c.MatterName)
	if c.CaseNumber != "" {
		b.Bold(true).TwoColumn("受理编号", c.CaseNumber).Bold(false)
	}
	b.TwoColumn("申请人", c.Applicant)
	if c.Township != "" {
		b.TwoColumn("乡镇", c.Township)
	}
	b.TwoColumn("申请号", c.ApplicationID)
	b.TwoColumn("时间", r.Time.Local().Format("2006-01-02 15:04:05"))
	b.TwoColumn("终端", r.TerminalID)
	if c.Centre.Address != "" {
		b.Line(strings.Repeat("-", l.Paper.Columns()))
		b.Line("领取结果：" + c.Centre.Name.Zh)
		b.Line(c.Centre.Address)
		if c.Centre.Hours.Zh != "" {
			b.Line(c.Centre.Hours.Zh)
		}
	}
	if c.TrackURL != "" {
		b.Align(codec.AlignCenter).Feed(1)
		b.QR(c.TrackURL, 6, codec.QRLevelM)
		b.Line("扫码查询办理进度")
		b.Line("（可在本终端扫码器上扫描）")
	}
	if c.Pending {
		b.Align(codec.AlignLeft).Line("县级平台暂不可达，申请已加密保存在本终端，平台恢复后自动送达，请勿重复申请。")
	}
	b.Align(codec.AlignCenter).Line("请妥善保管本回执").Feed(3).Cut()
	return b.Bytes()
}
