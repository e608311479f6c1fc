package refplatform

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"tongban/kiosk/uplink"
)

// trackPage is what a resident's phone shows after scanning the receipt's
// tracking QR (Case.TrackURL). Inline CSS only, no script, no other
// request: it must render on any phone behind any network. The applicant
// shows masked, as on a public notice.
var trackPage = template.Must(template.New("track").Parse(`<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>办件进度查询 - 县便民服务平台</title>
<style>
body{margin:0;font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;background:#f3f5f7;color:#1d2329;font-size:18px}
main{max-width:560px;margin:0 auto;padding:20px}
h1{font-size:24px;margin:8px 0 16px}
.banner{padding:14px 16px;border-radius:8px;font-weight:bold;margin-bottom:16px;font-size:20px}
.ok{background:#e3f6e8;color:#11652c;border:2px solid #2e9e4f}
.bad{background:#fdeaea;color:#9b1111;border:3px solid #d12c2c}
.info{background:#e8f0fb;color:#1c3f73;border:2px solid #4a7cc4}
table{width:100%;border-collapse:collapse;background:#fff;border-radius:8px;overflow:hidden;margin-bottom:18px}
th,td{padding:12px 14px;border-bottom:1px solid #e4e7eb;text-align:left;vertical-align:top}
th{width:34%;color:#5b6670;font-weight:normal}
ol{list-style:none;margin:0;padding:0;background:#fff;border-radius:8px}
li{padding:12px 14px 12px 40px;border-bottom:1px solid #e4e7eb;position:relative}
li:before{content:"";position:absolute;left:16px;top:19px;width:10px;height:10px;border-radius:50%;background:#4a7cc4}
li.last:before{background:#2e9e4f;box-shadow:0 0 0 4px #d3efdb}
li.rejected:before{background:#d12c2c}
.when{color:#5b6670;font-size:15px}
.step{font-weight:bold}
.place{margin-top:6px;padding:8px 10px;background:#f7f9fb;border-radius:6px;font-size:16px}
footer{margin-top:18px;color:#7a848d;font-size:14px}
</style>
</head>
<body>
<main>
<h1>办件进度查询</h1>
{{- if .Found}}
<div class="banner {{.BannerClass}}" id="case-status" data-status="{{.Status}}">{{.StatusName}}</div>
<table>
<tr><th>办件编号</th><td id="case-number">{{.CaseNumber}}</td></tr>
<tr><th>事项名称</th><td id="matter">{{.Matter}}</td></tr>
<tr><th>受理地点</th><td>{{.Township}}</td></tr>
<tr><th>申请人</th><td id="applicant">{{.Applicant}}</td></tr>
<tr><th>受理时间</th><td>{{.Accepted}}（北京时间）</td></tr>
</table>
<ol id="timeline">
{{- range .Events}}
<li{{with .Class}} class="{{.}}"{{end}}><div class="step">{{.Name}}</div><div class="when">{{.At}}</div><div>{{.Note}}</div>
{{- with .Place}}<div class="place">{{.Name.Zh}}<br>地址：{{.Address}}<br>时间：{{.Hours.Zh}}{{if .Phone}}<br>电话：{{.Phone}}{{end}}</div>{{end}}</li>
{{- end}}
</ol>
{{- else}}
<div class="banner bad" id="case-status" data-status="not_found">✗ 未找到该办件</div>
<p>平台没有编号为 <b>{{.CaseID}}</b> 的办件。请核对回执上的二维码，或到便民服务中心查询。</p>
{{- end}}
<footer>县“县乡通办”便民服务平台（参考平台，样例数据）</footer>
</main>
</body>
</html>
`))

type trackEvent struct {
	Name, At, Note, Class string
	Place                 *uplink.ServicePoint
}

type trackView struct {
	Found                       bool
	CaseID, CaseNumber          string
	Status, StatusName          string
	BannerClass                 string
	Matter, Township, Applicant string
	Accepted                    string
	Events                      []trackEvent
}

func (s *Server) handleTrack(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("caseId")
	v := trackView{CaseID: id}
	status := http.StatusOK
	var rec caseRecord
	err := errCaseNotFound
	if uplink.ValidCaseID(id) {
		rec, err = s.store.caseByID(id, s.env(r), s.apps.caseStep)
	}
	switch {
	case err == nil:
		c := rec.Case
		v = trackView{Found: true, CaseID: c.CaseID, CaseNumber: c.CaseNumber, Status: string(c.Status),
			StatusName: uplink.CaseStatusName(c.Status).Zh, BannerClass: "info", Matter: c.MatterName.Zh,
			Township: rec.TownshipName.Zh + "便民服务中心", Applicant: c.Applicant,
			Accepted: c.AcceptedAt.In(chinaTime).Format("2006-01-02 15:04")}
		switch c.Status {
		case uplink.CaseReady:
			v.BannerClass, v.StatusName = "ok", "✓ "+v.StatusName+"：请到便民服务中心领取"
		case uplink.CaseRejected:
			v.BannerClass = "bad"
		}
		for i, e := range c.Timeline {
			te := trackEvent{Name: uplink.CaseStatusName(e.Status).Zh, At: e.At.In(chinaTime).Format("2006-01-02 15:04"), Note: e.Note.Zh, Place: e.Place}
			if e.Status == uplink.CaseRejected {
				te.Class = "rejected"
			}
			if i == len(c.Timeline)-1 {
				te.Class = strings.TrimSpace(te.Class + " last")
			}
			v.Events = append(v.Events, te)
		}
	case errors.Is(err, errCaseNotFound):
		status = http.StatusNotFound
	default:
		s.log.Error("refplatform: track page", "caseId", id, "err", err)
		http.Error(w, "平台暂时无法查询，请稍后再试。", http.StatusServiceUnavailable)
		return
	}
	var buf bytes.Buffer
	if err := trackPage.Execute(&buf, v); err != nil {
		s.log.Error("refplatform: render track page", "err", err)
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
