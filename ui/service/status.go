package service

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"tongban/drivers/device"
)

// roleNames are the roles' labels, Chinese first.
var roleNames = map[string][2]string{
	"billValidator": {"纸币识别器", "Bill validator"},
	"printer":       {"凭条打印机", "Receipt printer"},
	"idCardReader":  {"身份证阅读器", "ID card reader"},
	"scanner":       {"扫码器", "Barcode scanner"},
	"coinAcceptor":  {"硬币器", "Coin acceptor"},
	"gpio":          {"柜体信号", "Cabinet I/O"},
}

// stateNames are the XFS4IoT states' labels and a colour class.
var stateNames = map[device.State][3]string{
	device.Online:        {"在线", "online", "ok"},
	device.Offline:       {"离线", "offline", "bad"},
	device.NoDevice:      {"未连接", "no device", "bad"},
	device.HardwareError: {"硬件故障", "hardware error", "bad"},
	device.UserError:     {"需处理", "user error", "warn"},
	device.Busy:          {"忙", "busy", "info"},
	device.Starting:      {"启动中", "starting", "info"},
}

type pageDevice struct {
	ZH, EN    string
	Name      string
	Driver    string
	Path      string
	StateZH   string
	StateEN   string
	State     string
	Class     string
	Since     string
	Detail    string
	Counters  []string
	LastError string
	ErrorAt   string
}

type page struct {
	TerminalID string
	Version    string
	Now        string
	Uptime     string
	Online     int
	Total      int
	Devices    []pageDevice
}

func ago(now, t time.Time) string {
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return t.Format("15:04:05") + " (" + d.String() + ")"
}

func (s *Server) page() page {
	rep := s.Report()
	p := page{TerminalID: rep.TerminalID, Version: rep.Version, Now: rep.Now.Format("2006-01-02 15:04:05"),
		Uptime: rep.Now.Sub(rep.Started).Round(time.Second).String(), Total: len(rep.Devices)}
	for _, h := range rep.Devices {
		names, ok := roleNames[h.Name]
		if !ok {
			names = [2]string{h.Name, h.Name}
		}
		st, ok := stateNames[h.State]
		if !ok {
			st = [3]string{string(h.State), string(h.State), "bad"}
		}
		if h.State == device.Online {
			p.Online++
		}
		d := pageDevice{ZH: names[0], EN: names[1], Name: h.Name, Driver: h.Driver, Path: h.Path,
			StateZH: st[0], StateEN: st[1], State: string(h.State), Class: st[2], Since: ago(rep.Now, h.Since), Detail: h.Detail, LastError: h.LastError}
		if !h.ErrorAt.IsZero() {
			d.ErrorAt = h.ErrorAt.Format("2006-01-02 15:04:05") + " (" + rep.Now.Sub(h.ErrorAt).Round(time.Second).String() + " ago)"
		}
		for c, v := range h.Counters {
			d.Counters = append(d.Counters, fmt.Sprintf("%s %d", c, v))
		}
		slices.Sort(d.Counters)
		p.Devices = append(p.Devices, d)
	}
	return p
}

// The page refreshes itself with a meta refresh: no script, and the
// Content-Security-Policy allows nothing but the inline style.
var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="2">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>设备状态 Device status · {{.TerminalID}}</title>
<style>
body{font:14px/1.45 system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 20px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}
header .sum{font-size:15px}
main{padding:16px 20px}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08)}
th,td{text-align:left;vertical-align:top;padding:8px 10px;border-bottom:1px solid #e4e6eb}
th{background:#eceef2;font-weight:600;white-space:nowrap}
th small,td small{display:block;color:#667085;font-weight:400}
.state{display:inline-block;padding:2px 8px;border-radius:10px;font-weight:600;white-space:nowrap}
.ok{background:#d9f5e3;color:#13632f}.warn{background:#fff1cc;color:#7a5300}.bad{background:#fde2e1;color:#9b1c15}.info{background:#dde9fb;color:#1d4f91}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.path{word-break:break-all}
ul{margin:0;padding:0;list-style:none}
li{white-space:nowrap}
.err{color:#9b1c15}
footer{padding:0 20px 20px;color:#667085;font-size:12px}
footer a{color:#1d4f91}
</style>
</head>
<body>
<header>
<h1>设备状态 · Device status</h1>
<span>终端 Terminal <b class="mono">{{.TerminalID}}</b></span>
<span class="sum">在线 Online: <b>{{.Online}} / {{.Total}}</b></span>
</header>
<main>
<table>
<thead><tr>
<th>设备<small>Device</small></th>
<th>驱动 · 端口<small>Driver · port</small></th>
<th>状态<small>State</small></th>
<th>详情<small>Detail</small></th>
<th>计数<small>Counters</small></th>
<th>最近错误<small>Last error</small></th>
</tr></thead>
<tbody>
{{range .Devices}}<tr id="dev-{{.Name}}">
<td><b>{{.ZH}}</b><small>{{.EN}} · {{.Name}}</small></td>
<td>{{.Driver}}<small class="mono path">{{.Path}}</small></td>
<td><span class="state {{.Class}}" data-state="{{.State}}">{{.StateZH}} {{.StateEN}}</span><small>自 since {{.Since}}</small></td>
<td>{{.Detail}}</td>
<td><ul class="mono">{{range .Counters}}<li>{{.}}</li>{{end}}</ul></td>
<td>{{if .LastError}}<span class="err">{{.LastError}}</span><small>{{.ErrorAt}}</small>{{else}}—{{end}}</td>
</tr>
{{else}}<tr><td colspan="6">硬件配置中没有设备 · No devices in the hardware profile</td></tr>
{{end}}</tbody>
</table>
</main>
<footer>kioskd {{.Version}} · 运行 up {{.Uptime}} · {{.Now}} · 每 2 秒刷新 refreshes every 2 s ·
<a href="/api/devices">/api/devices</a> · <a href="/metrics">/metrics</a></footer>
</body>
</html>
`))

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	if err := statusPage.Execute(&b, s.page()); err != nil {
		s.log.Error("status page", "err", err)
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Write([]byte(b.String()))
}
