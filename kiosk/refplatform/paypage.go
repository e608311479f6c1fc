package refplatform

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"

	"tongban/kiosk/uplink"
)

// payPage is what the resident's phone shows after scanning a dynamic
// payment QR (Order.QRPayload). It plays the wallet's checkout: one button
// per wallet, a plain form post, no script. Inline CSS only: the page must
// render with no other request.
var payPage = template.Must(template.New("pay").Parse(`<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>扫码缴费 - 县便民服务平台</title>
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
form{margin-top:18px}
button{display:block;width:100%;margin:0 0 12px;padding:16px;border:0;border-radius:8px;font-size:20px;font-weight:bold;color:#fff}
.wechat{background:#07a35a}.alipay{background:#1677ff}.unionpay{background:#d7261e}
footer{margin-top:18px;color:#7a848d;font-size:14px}
</style>
</head>
<body>
<main>
<h1>扫码缴费</h1>
{{- if .Found}}
{{- if eq .Status "paid"}}
<div class="banner ok" id="status" data-status="paid">✓ 支付成功（{{.Wallet}}，{{.Time}}）</div>
{{- else if eq .Status "closed"}}
<div class="banner bad" id="status" data-status="closed">订单已关闭，未扣款。请回到终端重新缴费。</div>
{{- else if eq .Status "reversed"}}
<div class="banner bad" id="status" data-status="reversed">订单已撤销{{if .Refunded}}，款项已原路退回{{else}}，未扣款{{end}}。</div>
{{- else if .CanPay}}
<div class="banner info" id="status" data-status="pending">请核对缴费信息后选择支付方式。</div>
{{- else}}
<div class="banner info" id="status" data-status="pending">请在手机上确认付款。</div>
{{- end}}
<table>
<tr><th>缴费项目</th><td>{{.UtilityName}}</td></tr>
<tr><th>收费单位</th><td>{{.Payee}}</td></tr>
<tr><th>缴费户号</th><td id="account">{{.Account}}</td></tr>
<tr><th>缴费金额</th><td class="amount" id="amount">{{.Amount}} 元</td></tr>
<tr><th>订单号</th><td id="order-id">{{.OrderID}}</td></tr>
</table>
{{- if .CanPay}}
<form method="post">
<button type="submit" name="wallet" value="wechat" class="wechat">微信支付</button>
<button type="submit" name="wallet" value="alipay" class="alipay">支付宝</button>
<button type="submit" name="wallet" value="unionpay" class="unionpay">云闪付</button>
</form>
{{- end}}
{{- else}}
<div class="banner bad" id="status" data-status="unknown">✗ 未找到该订单</div>
<p>平台没有订单号为 <b>{{.OrderID}}</b> 的缴费订单。请回到终端重新扫码。</p>
{{- end}}
<footer>县“县乡通办”便民服务平台（参考平台：模拟支付，不产生真实扣款）</footer>
</main>
</body>
</html>
`))

type payView struct {
	Found, CanPay, Refunded bool
	Status                  uplink.OrderStatus
	UtilityName, Payee      string
	Account                 string // masked
	Amount                  string // yuan
	Wallet                  string
	Time                    string
	OrderID                 string
}

func walletName(w uplink.Wallet) string {
	switch w {
	case uplink.WalletWeChat:
		return "微信支付"
	case uplink.WalletAlipay:
		return "支付宝"
	case uplink.WalletUnionPay:
		return "云闪付"
	}
	return string(w)
}

func (s *Server) handlePayPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("orderId")
	v := payView{OrderID: id}
	status := http.StatusOK
	rec, err := s.orderForPage(r, id)
	switch {
	case err == nil:
		o := rec.Order
		v = payView{
			Found:       true,
			CanPay:      o.Status == uplink.OrderPending && o.Kind == uplink.OrderDynamicQR,
			Refunded:    o.Refunded(),
			Status:      o.Status,
			UtilityName: utilityName(o.Utility),
			Account:     maskAccount(o.Account),
			Amount:      formatYuan(o.Amount),
			Wallet:      walletName(o.Wallet),
			OrderID:     o.OrderID,
		}
		if o.PaidAt != nil {
			v.Time = o.PaidAt.In(chinaTime).Format("2006-01-02 15:04:05")
		}
		if a, err := s.store.account(o.Utility, o.Account); err == nil {
			v.Payee = a.Payee
		}
	case errors.Is(err, errOrderNotFound):
		status = http.StatusNotFound
	default:
		s.log.Error("refplatform: pay page", "order", id, "err", err)
		http.Error(w, "平台暂时无法查询，请稍后再试。", http.StatusServiceUnavailable)
		return
	}
	var buf bytes.Buffer
	if err := payPage.Execute(&buf, v); err != nil {
		s.log.Error("refplatform: render pay page", "err", err)
		http.Error(w, "render error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) orderForPage(r *http.Request, id string) (orderRecord, error) {
	if !uplink.ValidOrderID(id) {
		return orderRecord{}, errOrderNotFound
	}
	return s.store.order(id, s.env(r))
}

// handlePayPagePost is the pay button: it pays a pending dynamicQR order
// with the chosen wallet, then shows the page again (303, so a reload does
// not post twice; a second post would change nothing anyway).
func (s *Server) handlePayPagePost(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("orderId")
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	wallet := uplink.Wallet(r.PostForm.Get("wallet"))
	if !uplink.ValidWallet(wallet) {
		http.Error(w, "请选择支付方式", http.StatusBadRequest)
		return
	}
	rec, err := s.orderForPage(r, id)
	if err == nil && rec.Order.Kind == uplink.OrderDynamicQR {
		rec, err = s.store.payOrder(id, wallet, s.env(r))
		if err == nil {
			s.log.Info("refplatform: order paid on the pay page", "order", id, "wallet", wallet, "paymentId", rec.Order.PaymentID)
		}
	}
	switch {
	case err == nil, errors.Is(err, errOrderNotPending):
		// The page shows whatever the order is now.
	case errors.Is(err, errOrderNotFound):
		s.handlePayPage(w, r)
		return
	default:
		s.log.Error("refplatform: pay page", "order", id, "err", err)
		http.Error(w, "平台暂时无法处理，请稍后再试。", http.StatusServiceUnavailable)
		return
	}
	http.Redirect(w, r, "/pay/"+id, http.StatusSeeOther)
}
