package report

import (
	"html/template"
	"strconv"
)

// page is the data of the whole report.
type page struct {
	Title  string
	Multi  bool
	Charts []chart
	Total  stats // HasWindows, HasLabels: any series has them
}

var funcs = template.FuncMap{
	// n formats a count with thousands separators.
	"n": func(v int) string {
		s := strconv.Itoa(v)
		neg := v < 0
		if neg {
			s = s[1:]
		}
		var b []byte
		for i := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b = append(b, ',')
			}
			b = append(b, s[i])
		}
		if neg {
			return "-" + string(b)
		}
		return string(b)
	},
	"svgW":   func() int { return svgW },
	"plotX":  func() int { return plotX },
	"plotR":  func() int { return plotX + plotW },
	"plotW":  func() int { return plotW },
	"mainY":  func() int { return mainY },
	"mainH":  func() int { return mainH },
	"scoreH": func() int { return scoreH },
	"stripH": func() int { return incStripH },
	"labelY": func() int { return labelY },
}

const css = `
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--flag:#dc2626;--truth:#d97706;--exp:#2563eb;--val:#3b4a5e}
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Liberation Sans","DejaVu Sans",sans-serif}
main{max-width:1100px;margin:0 auto;padding:18px 22px 40px}
h1{font-size:20px;margin:0 0 4px}
.sub{color:var(--muted);margin:0 0 14px;font-size:13px}
section.s{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 16px 10px;margin:0 0 16px}
section.s h2{font-size:15px;margin:0;display:inline-block;word-break:break-all}
section.s h2 a{color:inherit;text-decoration:none}
.top{float:right;font-size:12px;color:var(--muted);text-decoration:none}
.span{color:var(--muted);font-size:12px;margin-left:8px}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;color:#4b5563;margin:6px 0 2px}
.legend span{display:inline-flex;align-items:center;gap:5px}
.legend svg{width:22px;height:12px}
svg.chart{display:block;width:100%;height:auto;overflow:visible}
table{border-collapse:collapse;font-size:12.5px;font-variant-numeric:tabular-nums}
th,td{padding:3px 10px;text-align:right;border-bottom:1px solid var(--line);white-space:nowrap}
th{font-weight:600;color:#4b5563;background:#f9fafb}
th:first-child,td:first-child{text-align:left}
table.sum{background:#fff;border:1px solid var(--line);margin:0 0 18px;width:100%}
table.sum td:first-child{white-space:normal;word-break:break-all}
table.sum tr.tot td{font-weight:600;border-top:2px solid var(--line)}
table.one{margin:4px 0 2px 40px}
table.one td,table.one th{border-bottom:0}
table.one th{white-space:normal;vertical-align:bottom}
.warn{color:var(--flag)}
a{color:#1d4ed8}
.grid{stroke:#eceef1;stroke-width:1}
.gridd{stroke:#d5d9df;stroke-width:1}
.frame{fill:none;stroke:#cfd4da;stroke-width:1}
.tick{font-size:11px;fill:var(--muted)}
.tickb{font-size:11px;fill:#374151;font-weight:600}
.win{fill:var(--truth);fill-opacity:.16}
.band{fill:#60a5fa;fill-opacity:.26}
.bound{fill:none;stroke:#60a5fa;stroke-width:1;stroke-dasharray:4 3}
.exp{fill:none;stroke:var(--exp);stroke-width:1.1;stroke-opacity:.8;stroke-linejoin:round}
.val{fill:none;stroke:var(--val);stroke-width:1;stroke-linejoin:round;stroke-linecap:round}
.score{fill:none;stroke:#8b5cf6;stroke-width:.9;stroke-opacity:.85;stroke-linejoin:round;stroke-linecap:round}
.lab{fill:none;stroke:var(--truth);stroke-width:1.6}
.f{fill:var(--flag);stroke:#fff;stroke-width:.8}
.calm{fill:#6b7280;fill-opacity:.16}
.calh{fill:#059669;fill-opacity:.14}
.incf{fill:var(--flag);fill-opacity:.06}
.incb{fill:var(--flag)}
.incbo{fill:#fff;stroke:var(--flag);stroke-width:1;stroke-dasharray:3 2}
.incl{font-size:9.5px;font-weight:600;fill:#991b1b}
.nodata{font-size:14px;fill:var(--muted)}
`

var pageTmpl = template.Must(template.New("page").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>` + css + `</style>
</head>
<body>
<main id="top">
<h1>{{.Title}}</h1>
<p class="sub">{{len .Charts}} series · {{n .Total.Points}} points · {{n .Total.Flagged}} flagged{{if .Total.HasIncidents}} · {{n .Total.Incidents}} incident{{if ne .Total.Incidents 1}}s{{end}}{{end}}{{if .Total.HasWindows}} · {{n .Total.WindowsHit}} of {{n .Total.Windows}} labelled windows hit · {{n .Total.FlagsOutside}} flags outside windows{{end}}</p>
{{- if .Multi}}
<table class="sum">
<thead><tr><th>Series</th><th>Points</th><th>Flagged</th>{{if .Total.HasIncidents}}<th>Incidents</th>{{if .Total.HasWindows}}<th>Incidents in windows</th>{{end}}{{end}}{{if .Total.HasLabels}}<th>Labelled points</th><th>Labelled &amp; flagged</th>{{end}}{{if .Total.HasWindows}}<th>Windows</th><th>Windows hit</th><th>Flags outside windows</th>{{end}}</tr></thead>
<tbody>
{{- range .Charts}}
<tr><td><a href="#{{.ID}}">{{.Name}}</a></td><td>{{n .Stats.Points}}</td><td>{{n .Stats.Flagged}}</td>
{{- if $.Total.HasIncidents}}{{if .Stats.HasIncidents}}<td>{{n .Stats.Incidents}}</td>{{else}}<td>–</td>{{end}}{{if $.Total.HasWindows}}{{if and .Stats.HasIncidents .Stats.HasWindows}}<td>{{n .Stats.IncidentsInWindows}}</td>{{else}}<td>–</td>{{end}}{{end}}{{end}}
{{- if $.Total.HasLabels}}{{if .Stats.HasLabels}}<td>{{n .Stats.Labelled}}</td><td>{{n .Stats.LabelledFlagged}}</td>{{else}}<td>–</td><td>–</td>{{end}}{{end}}
{{- if $.Total.HasWindows}}{{if .Stats.HasWindows}}<td>{{n .Stats.Windows}}</td><td{{if lt .Stats.WindowsHit .Stats.Windows}} class="warn"{{end}}>{{n .Stats.WindowsHit}}</td><td>{{n .Stats.FlagsOutside}}</td>{{else}}<td>–</td><td>–</td><td>–</td>{{end}}{{end}}</tr>
{{- end}}
<tr class="tot"><td>Total</td><td>{{n .Total.Points}}</td><td>{{n .Total.Flagged}}</td>{{if .Total.HasIncidents}}<td>{{n .Total.Incidents}}</td>{{if .Total.HasWindows}}<td>{{n .Total.IncidentsInWindows}}</td>{{end}}{{end}}{{if .Total.HasLabels}}<td>{{n .Total.Labelled}}</td><td>{{n .Total.LabelledFlagged}}</td>{{end}}{{if .Total.HasWindows}}<td>{{n .Total.Windows}}</td><td>{{n .Total.WindowsHit}}</td><td>{{n .Total.FlagsOutside}}</td>{{end}}</tr>
</tbody>
</table>
{{- end}}
{{range .Charts}}
<section class="s" id="{{.ID}}">
{{- if $.Multi}}<a class="top" href="#top">↑ summary</a>{{end}}
<h2><a href="#{{.ID}}">{{.Name}}</a></h2>{{with .Span}}<span class="span">{{.}}</span>{{end}}
<div class="legend">
<span><svg viewBox="0 0 22 12"><path class="val" d="M1 8l5-4 5 3 5-5 5 4"/></svg>value</span>
{{- if .HasExpected}}<span><svg viewBox="0 0 22 12"><path class="exp" d="M1 6h20"/></svg>expected</span>{{end}}
{{- if .HasBand}}<span><svg viewBox="0 0 22 12"><rect class="band" x="1" y="1" width="20" height="10"/></svg>lower/upper band</span>{{end}}
{{- if .HasBound}}<span><svg viewBox="0 0 22 12"><path class="bound" d="M1 6h20"/></svg>{{if .Lower}}lower{{else}}upper{{end}} bound</span>{{end}}
<span><svg viewBox="0 0 22 12"><circle class="f" cx="11" cy="6" r="3.6"/></svg>flagged ({{n .Stats.Flagged}})</span>
{{- if .Stats.HasIncidents}}<span><svg viewBox="0 0 22 12"><rect class="incf" x="1" y="0" width="20" height="12"/><rect class="incb" x="1" y="0" width="20" height="3"/></svg>incident ({{n .Stats.Incidents}})</span>{{end}}
{{- if .Stats.HasLabels}}<span><svg viewBox="0 0 22 12"><circle class="lab" cx="11" cy="6" r="4.5"/></svg>labelled point ({{n .Stats.Labelled}})</span>{{end}}
{{- if .Stats.HasWindows}}<span><svg viewBox="0 0 22 12"><rect class="win" x="4" y="0" width="14" height="12"/></svg>labelled window ({{n .Stats.Windows}})</span>{{end}}
{{- if .Maintenance}}<span><svg viewBox="0 0 22 12"><rect class="calm" x="4" y="0" width="14" height="12"/></svg>maintenance ({{n .Maintenance}})</span>{{end}}
{{- if .Holidays}}<span><svg viewBox="0 0 22 12"><rect class="calh" x="4" y="0" width="14" height="12"/></svg>holiday ({{n .Holidays}})</span>{{end}}
{{- if .HasScore}}<span><svg viewBox="0 0 22 12"><path class="score" d="M1 9l6-2 4 1 4-6 6 6"/></svg>{{.ScoreNote}}</span>{{end}}
</div>
<svg class="chart" viewBox="0 0 {{svgW}} {{.H}}" width="{{svgW}}" height="{{.H}}" role="img" aria-label="{{.Name}}">
{{- if .Empty}}
<rect class="frame" x="{{plotX}}" y="{{mainY}}" width="{{plotW}}" height="{{mainH}}"/>
<text class="nodata" x="{{plotX}}" y="{{mainY}}" dx="{{plotW}}" dy="125" text-anchor="end">no data</text>
{{- else}}
{{- range .YTicks}}
<line class="grid" x1="{{plotX}}" x2="{{plotR}}" y1="{{.Y}}" y2="{{.Y}}"/><text class="tick" x="{{plotX}}" y="{{.Y}}" dx="-6" dy=".32em" text-anchor="end">{{.Label}}</text>
{{- end}}
{{- $c := .}}
{{- range .XTicks}}{{$x := .X}}
<line class="{{if .Emphasis}}gridd{{else}}grid{{end}}" x1="{{.X}}" x2="{{.X}}" y1="{{mainY}}" y2="{{$c.AxisY}}"/><text class="{{if .Emphasis}}tickb{{else}}tick{{end}}" x="{{.X}}" y="{{$c.AxisY}}" dy="14" text-anchor="middle">{{.Label}}</text>{{with .Sub}}<text class="tickb" x="{{$x}}" y="{{$c.AxisY}}" dy="27" text-anchor="middle">{{.}}</text>{{end}}
{{- end}}
<svg x="{{plotX}}" y="{{mainY}}" width="{{plotW}}" height="{{mainH}}" viewBox="{{plotX}} {{mainY}} {{plotW}} {{mainH}}">
{{- range .Calendar}}
<rect class="{{.Class}}" x="{{.X}}" y="{{mainY}}" width="{{.W}}" height="{{mainH}}">{{with .Title}}<title>{{.}}</title>{{end}}</rect>
{{- end}}
{{- range .Windows}}
<rect class="win" x="{{.X}}" y="{{mainY}}" width="{{.W}}" height="{{mainH}}"/>
{{- end}}
{{- with .Band}}
<path class="band" d="{{.}}"/>{{end}}
{{- with .Lower}}
<path class="bound" d="{{.}}"/>{{end}}
{{- with .Upper}}
<path class="bound" d="{{.}}"/>{{end}}
{{- with .Expected}}
<path class="exp" d="{{.}}"/>{{end}}
{{- with .Values}}
<path class="val" d="{{.}}"/>{{end}}
</svg>
<rect class="frame" x="{{plotX}}" y="{{mainY}}" width="{{plotW}}" height="{{mainH}}"/>
{{- range .Incidents}}{{$x := .X}}
<g class="inc">{{with .Title}}<title>{{.}}</title>{{end}}<rect class="incf" x="{{.X}}" y="{{mainY}}" width="{{.W}}" height="{{mainH}}"/><rect class="{{.Class}}" x="{{.X}}" y="{{mainY}}" width="{{.W}}" height="{{stripH}}"/>{{with .Label}}<text class="incl" x="{{$x}}" y="{{labelY}}">{{.}}</text>{{end}}</g>
{{- end}}
{{- range .Labelled}}
<circle class="lab" cx="{{.X}}" cy="{{.Y}}" r="6"/>
{{- end}}
{{- range .Flags}}
<circle class="f" cx="{{.X}}" cy="{{.Y}}" r="3.2">{{with .Title}}<title>{{.}}</title>{{end}}</circle>
{{- end}}
{{- if .HasScore}}
{{- range .STicks}}
<line class="grid" x1="{{plotX}}" x2="{{plotR}}" y1="{{.Y}}" y2="{{.Y}}"/><text class="tick" x="{{plotX}}" y="{{.Y}}" dx="-6" dy=".32em" text-anchor="end">{{.Label}}</text>
{{- end}}
<rect class="frame" x="{{plotX}}" y="{{.ScoreY}}" width="{{plotW}}" height="{{scoreH}}"/>
<svg x="{{plotX}}" y="{{.ScoreY}}" width="{{plotW}}" height="{{scoreH}}" viewBox="{{plotX}} {{.ScoreY}} {{plotW}} {{scoreH}}">
{{- $sy := .ScoreY}}
{{- range .Incidents}}
<rect class="incf" x="{{.X}}" y="{{$sy}}" width="{{.W}}" height="{{scoreH}}"/>
{{- end}}
{{- with .Score}}
<path class="score" d="{{.}}"/>{{end}}
</svg>
{{- end}}
{{- end}}
</svg>
<table class="one"><thead><tr><th>Points</th><th>Flagged</th>{{if .Stats.HasIncidents}}<th>Incidents</th>{{if .Stats.HasWindows}}<th>Incidents in windows</th>{{end}}{{end}}{{if .Stats.HasLabels}}<th>Labelled points</th><th>Labelled &amp; flagged</th>{{end}}{{if .Stats.HasWindows}}<th>Windows</th><th>Windows hit</th><th>Flags outside windows</th>{{end}}{{if .FlagsNoValue}}<th>Flagged, no value (not drawn)</th>{{end}}</tr></thead>
<tbody><tr><td>{{n .Stats.Points}}</td><td>{{n .Stats.Flagged}}</td>{{if .Stats.HasIncidents}}<td>{{n .Stats.Incidents}}</td>{{if .Stats.HasWindows}}<td>{{n .Stats.IncidentsInWindows}}</td>{{end}}{{end}}{{if .Stats.HasLabels}}<td>{{n .Stats.Labelled}}</td><td>{{n .Stats.LabelledFlagged}}</td>{{end}}{{if .Stats.HasWindows}}<td>{{n .Stats.Windows}}</td><td{{if lt .Stats.WindowsHit .Stats.Windows}} class="warn"{{end}}>{{n .Stats.WindowsHit}}</td><td>{{n .Stats.FlagsOutside}}</td>{{end}}{{if .FlagsNoValue}}<td>{{n .FlagsNoValue}}</td>{{end}}</tr></tbody></table>
</section>
{{end}}
</main>
</body>
</html>
`))
