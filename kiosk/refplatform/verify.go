package refplatform

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"html/template"
	"net/http"
	"strings"
)

// verifyPage is what a resident's phone shows after scanning the receipt
// QR. Inline CSS only: the page must render with no other request.
var verifyPage = template.Must(template.New("verify").Parse(`<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>缴费核验 - 县便民服务平台</title>
<style>
body{margin:0;font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;background:#f3f5f7;color:#1d2329;font-size:18px}
main{max-width:560px;margin:0 auto;padding:20px}
h1{font-size:24px;margin:8px 0 16px}
.banner{padding:14px 16px;border-radius:8px;font-weight:bold;margin-bottom:16px;font-size:20px}
.ok{background:#e3f6e8;color:#11652c;border:2px solid #2e9e4f}
.bad{background:#fdeaea;color:#9b1111;border:3px solid #d12c2c}
.info{background:#e8f0fb;color:#1c3f73;border:2px solid #4a7cc4}
table{width:100%;border-collapse:collapse;background:#fff;border-radius:8px;overflow:hidden}
th,td{padding:12px 14px;border-bottom:1px solid #e4e7eb;text-align:left;vertical-align:top}
th{width:38%;color:#5b6670;font-weight:normal}
.amount{font-size:26px;font-weight:bold;color:#c0392b}
footer{margin-top:18px;color:#7a848d;font-size:14px}
</style>
</head>
<body>
<main>
<h1>缴费核验</h1>
{{- if .Found}}
{{- if .CodeGiven}}
{{- if .CodeOK}}
<div class="banner ok" id="code-status" data-match="true">✓ 核验码一致：此收据与平台记录相符</div>
{{- else}}
<div class="banner bad" id="code-status" data-match="false">✗ 核验码不一致！收据上的核验码与平台记录不符，此收据可能是伪造的，请联系收费单位核实。</div>
{{- end}}
{{- else}}
<div class="banner info" id="code-status">请将收据上的核验码与下方信息一并核对。</div>
{{- end}}
<table>
<tr><th>状态</th><td id="payment-status">{{if .Refunded}}已撤销，款项已退回（{{.RefundTime}}）{{else}}县平台已受理{{end}}</td></tr>
<tr><th>缴费项目</th><td>{{.UtilityName}}</td></tr>
<tr><th>收费单位</th><td>{{.Payee}}</td></tr>
<tr><th>缴费户号</th><td id="account">{{.Account}}</td></tr>
<tr><th>缴费金额</th><td class="amount" id="amount">{{.Amount}} 元</td></tr>
<tr><th>抵缴账单</th><td>{{.Applied}} 元</td></tr>
<tr><th>转入预存</th><td>{{.Prepaid}} 元</td></tr>
<tr><th>受理时间</th><td id="time">{{.Time}}（北京时间）</td></tr>
<tr><th>平台流水号</th><td id="payment-id">{{.PaymentID}}</td></tr>
</table>
{{- else}}
<div class="banner bad" id="code-status" data-match="false">✗ 未找到该笔缴费记录</div>
<p>平台没有流水号为 <b>{{.PaymentID}}</b> 的缴费。请核对收据，或联系收费单位。</p>
{{- end}}
<footer>县“县乡通办”便民服务平台（参考平台）</footer>
</main>
</body>
</html>
`))

type verifyView struct {
	Found, CodeGiven, CodeOK bool
	UtilityName, Payee       string
	Account                  string // masked
	Amount, Applied, Prepaid string // yuan
	Time                     string
	PaymentID                string
	Refunded                 bool // a reversed mobile order took it back
	RefundTime               string
}

func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("paymentId")
	v := verifyView{PaymentID: id}
	status := http.StatusOK
	rec, err := s.store.paymentByID(id)
	switch {
	case err == nil:
		p := rec.Payment
		code := strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("c")))
		v = verifyView{
			Found:       true,
			CodeGiven:   code != "",
			CodeOK:      code != "" && subtle.ConstantTimeCompare([]byte(code), []byte(p.VerifyCode)) == 1,
			UtilityName: utilityName(p.Utility),
			Payee:       rec.Payee,
			Account:     maskAccount(p.Account),
			Amount:      formatYuan(p.Amount),
			Applied:     formatYuan(p.AppliedToBill),
			Prepaid:     formatYuan(p.PrepaidCredit),
			Time:        p.AcceptedAt.In(chinaTime).Format("2006-01-02 15:04:05"),
			PaymentID:   p.PaymentID,
		}
		if rec.RefundedAt != nil {
			v.Refunded, v.RefundTime = true, rec.RefundedAt.In(chinaTime).Format("2006-01-02 15:04:05")
		}
	case errors.Is(err, errPaymentNotFound):
		status = http.StatusNotFound
	default:
		s.log.Error("refplatform: verify page", "paymentId", id, "err", err)
		http.Error(w, "平台暂时无法查询，请稍后再试。", http.StatusServiceUnavailable)
		return
	}
	var buf bytes.Buffer
	if err := verifyPage.Execute(&buf, v); err != nil {
		s.log.Error("refplatform: render verify page", "err", err)
		http.Error(w, "render error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
