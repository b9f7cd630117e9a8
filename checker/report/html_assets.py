"""The stylesheet and script inlined into every HTML report.

Kept apart from the markup so their hashes can go into the report's Content-Security-Policy:
the page may run exactly this script and this stylesheet and load nothing at all, so even a
finding message that slipped past escaping could not execute or call out.
"""
from __future__ import annotations

import base64
import hashlib

CSS = """
:root{--ink:#1d2939;--muted:#475467;--line:#d0d5dd;--soft:#f2f4f7;--panel:#fff;--accent:#1849a9;
--major:#b42318;--minor:#c4570a;--observation:#3e6ea8;--waived:#98a2b3;--findings:#1d2939;
--nc-bg:#fee4e2;--nc:#912018;--err-bg:#f4ebff;--err:#6927da;--na-bg:#fef0c7;--na:#93370d;
--ok-bg:#dcfae6;--ok:#05603a;--man-bg:#d1e9ff;--man:#194185;--nap-bg:#eaecf0;--nap:#344054;
--wv-bg:#e0f2f1;--wv:#134e48}
*{box-sizing:border-box}
html{font-size:15px}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Liberation Sans",sans-serif;
color:var(--ink);background:var(--soft);line-height:1.45}
a{color:var(--accent)}
a:focus-visible,summary:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid #84adff;outline-offset:2px}
.wrap{max-width:1180px;margin:0 auto;padding:0 24px}
header.top{background:#10243e;color:#fff;padding:22px 0 18px}
header.top h1{margin:0 0 4px;font-size:1.6rem;font-weight:650;letter-spacing:.01em}
header.top .sub{color:#c7d7ee;margin:0}
header.top dl{display:flex;flex-wrap:wrap;gap:6px 28px;margin:14px 0 0}
header.top dl div{min-width:0}
header.top dt{font-size:.72rem;text-transform:uppercase;letter-spacing:.06em;color:#9fb6d6}
header.top dd{margin:0;font-weight:600;overflow-wrap:anywhere}
nav.toc{position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid var(--line)}
nav.toc ul{list-style:none;margin:0;padding:0 24px;max-width:1180px;margin:0 auto;display:flex;flex-wrap:wrap;gap:2px 4px}
nav.toc a{display:block;padding:10px 12px;text-decoration:none;font-weight:600;color:var(--muted);border-bottom:3px solid transparent}
nav.toc a:hover{color:var(--accent);border-bottom-color:var(--accent)}
main{padding:8px 0 40px}
[id]{scroll-margin-top:56px}
section.block{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:18px 22px;margin:18px 0}
h2{font-size:1.3rem;margin:0 0 12px}
h3{font-size:1.1rem;margin:22px 0 8px}
h4{font-size:.95rem;margin:16px 0 6px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.note{color:var(--muted)}
p.note{margin:4px 0 12px}
.alert{border:1px solid #fda29b;background:#fef3f2;color:#7a271a;border-radius:8px;padding:12px 16px;margin:18px 0}
.alert strong{display:block;font-size:1.05rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:8px 0 16px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:#fff;border-left-width:5px}
.card .n{font-size:1.7rem;font-weight:700;line-height:1.1;font-variant-numeric:tabular-nums}
.card .l{color:var(--muted);font-size:.85rem}
.card.st-nonconforming,.card.sev-major{border-left-color:var(--major)}
.card.st-error{border-left-color:var(--err)}.card.st-not_assessed{border-left-color:#dc6803}
.card.st-waived{border-left-color:#2e9089}.card.st-manual{border-left-color:#2e90fa}
.card.st-conforming{border-left-color:#17b26a}.card.st-not_applicable{border-left-color:var(--waived)}
.card.sev-minor{border-left-color:var(--minor)}.card.sev-observation{border-left-color:var(--observation)}
.card.total{border-left-color:var(--ink)}
.summary-grid{display:grid;grid-template-columns:1fr 1fr;gap:0 28px}
@media (max-width:800px){.summary-grid{grid-template-columns:1fr}}
.first-grid{display:grid;grid-template-columns:minmax(0,5fr) minmax(0,2fr);gap:0 28px;align-items:start}
@media (max-width:900px){.first-grid{grid-template-columns:1fr}}
.first-grid h3{margin-top:4px}
ol.majors-list,ul.clients-list{list-style:none;margin:0;padding:0}
li.major-row{border:1px solid var(--line);border-left:5px solid var(--major);border-radius:6px;padding:6px 10px;margin:0 0 6px;background:#fff}
li.major-row .f-head{display:flex;flex-wrap:wrap;gap:4px 10px;align-items:baseline}
li.major-row .f-msg{margin:2px 0 0;font-size:.92rem}
li.major-row code.loc{font-size:.8rem;color:var(--muted)}
ul.clients-list li{padding:4px 0;border-bottom:1px solid var(--soft)}
ul.clients-list .chip.sev-major{color:var(--major);border-color:#fda29b}
.badge{display:inline-block;border-radius:999px;padding:1px 9px;font-size:.78rem;font-weight:650;white-space:nowrap;
border:1px solid transparent;vertical-align:baseline}
.b-nonconforming{background:var(--nc-bg);color:var(--nc);border-color:#fda29b}
.b-error{background:var(--err-bg);color:var(--err);border-color:#d9d6fe}
.b-not_assessed{background:var(--na-bg);color:var(--na);border-color:#fec84b}
.b-conforming{background:var(--ok-bg);color:var(--ok);border-color:#75e0a7}
.b-manual{background:var(--man-bg);color:var(--man);border-color:#84caff}
.b-not_applicable{background:var(--nap-bg);color:var(--nap);border-color:var(--line)}
.b-waived{background:var(--wv-bg);color:var(--wv);border-color:#7fd1c7}
.sev{display:inline-block;font-size:.72rem;font-weight:700;text-transform:uppercase;letter-spacing:.04em;
padding:1px 7px;border-radius:4px;color:#fff}
.sev-major.sev{background:var(--major)}.sev-minor.sev{background:var(--minor)}.sev-observation.sev{background:var(--observation)}
.sev.quiet{background:#fff;color:var(--muted);border:1px solid var(--line)}
.chip{display:inline-block;white-space:nowrap;font-size:.78rem;color:var(--muted);border:1px solid var(--line);border-radius:4px;padding:0 6px;background:#fff}
.chip.verify{color:#93370d;border-color:#fec84b;background:#fffaeb;font-weight:650}
.chip.over{color:#194185;border-color:#84caff;background:#eff8ff;font-weight:650}
.toolbar{display:none;flex-wrap:wrap;align-items:center;gap:8px 14px;padding:10px 12px;background:var(--soft);
border:1px solid var(--line);border-radius:8px;margin:0 0 6px}
.js .toolbar{display:flex}
.toolbar fieldset{border:0;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:4px 12px;align-items:center}
.toolbar legend{float:left;font-weight:650;margin-right:6px}
.toolbar input[type=search]{font:inherit;font-size:.88rem;padding:4px 8px;border:1px solid var(--line);border-radius:6px;min-width:16em}
.toolbar label{font-size:.88rem;white-space:nowrap;cursor:pointer}
button{font:inherit;font-size:.88rem;padding:4px 12px;border:1px solid var(--line);border-radius:6px;background:#fff;cursor:pointer;color:var(--ink)}
button:hover{background:var(--soft)}
details.req,details.client{border:1px solid var(--line);border-radius:8px;margin:6px 0;background:#fff}
details.req>summary,details.client>summary{cursor:pointer;padding:8px 12px;display:flex;flex-wrap:wrap;gap:4px 10px;align-items:baseline;list-style:none}
details>summary::-webkit-details-marker{display:none}
details.req>summary{display:grid;grid-template-columns:1em 8.3rem 4.9rem 5.2rem minmax(0,1fr) auto 7rem;gap:4px 10px}
details.req>summary .badge{justify-self:start}
details.req>summary .count{text-align:right;white-space:normal}
@media (max-width:760px){details.req>summary{display:flex}}
details.req>summary::before,details.client>summary::before,details.sub>summary::before{content:"\\25B8";color:var(--muted);display:inline-block;width:1em;transition:transform .12s}
details[open].req>summary::before,details[open].client>summary::before,details[open].sub>summary::before{transform:rotate(90deg)}
details.req[open],details.client[open]{box-shadow:0 1px 3px rgba(16,24,40,.08)}
details.req>summary:hover,details.client>summary:hover{background:#f9fafb}
.rid{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-weight:650;font-size:.9rem}
.clause{color:var(--muted);font-variant-numeric:tabular-nums}
.title{font-weight:600;flex:1 1 320px}
.count{color:var(--muted);font-size:.88rem;white-space:nowrap}
.req-body,.client-body{padding:4px 16px 14px 34px;border-top:1px solid var(--soft)}
.req-body dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:10px 0}
.req-body dl.facts dt{font-weight:650;color:var(--muted)}
.req-body dl.facts dd{margin:0}
ol.findings{list-style:none;padding:0;margin:10px 0 0;counter-reset:f}
ol.findings>li{border:1px solid var(--line);border-left:4px solid var(--major);border-radius:6px;padding:9px 12px;margin:8px 0;background:#fcfcfd}
ol.findings>li.sev-minor{border-left-color:var(--minor)}ol.findings>li.sev-observation{border-left-color:var(--observation)}
ol.findings>li.waived{border-left-color:var(--waived);background:#f9fafb}
.f-head{display:flex;flex-wrap:wrap;gap:4px 10px;align-items:baseline}
.f-msg{margin:6px 0}
dl.f-meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0 0;font-size:.88rem}
dl.f-meta dt{color:var(--muted)}dl.f-meta dd{margin:0;overflow-wrap:anywhere}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.86em;overflow-wrap:anywhere}
ul.related{margin:0;padding-left:18px}
details.why{margin:6px 0 0;font-size:.88rem}details.why>summary{cursor:pointer;color:var(--muted)}ul.why{margin:2px 0;padding-left:18px}li.fails>.verdict{font-weight:600}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;vertical-align:top;padding:6px 10px;border-bottom:1px solid var(--line)}
thead th{background:var(--soft);font-weight:650;border-bottom:2px solid var(--line)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td{overflow-wrap:break-word}
td.name,td.loc{min-width:12em}
td.field{min-width:7em}
.tablewrap{overflow-x:auto}
ol.checklist{list-style:none;padding:0;margin:0}
ol.checklist>li{border:1px solid var(--line);border-radius:8px;padding:10px 14px;margin:8px 0;display:grid;grid-template-columns:auto 1fr;gap:2px 12px}
ol.checklist input{width:18px;height:18px;margin-top:3px}
ol.checklist .ev{grid-column:2;color:var(--ink);margin:4px 0 0}
ol.checklist .ev strong{color:var(--muted)}
details.sub{margin:6px 0}
details.sub>summary{cursor:pointer;color:var(--accent);font-size:.88rem;list-style:none}
svg.chart{width:100%;height:auto;max-width:760px;display:block;margin:6px 0}
svg.chart text{font-family:inherit;fill:var(--ink)}
svg.chart .tick,svg.chart .legend{font-size:11px;fill:var(--muted)}
svg.chart .axis-label{font-size:11.5px}
svg.chart .value{font-size:11px;font-weight:700}
svg.chart .grid{stroke:#eaecf0;stroke-width:1}
svg.chart .axis{stroke:#98a2b3;stroke-width:1}
svg.chart .line{fill:none;stroke-width:2.5}
.series-major{fill:var(--major);stroke:var(--major)}.series-minor{fill:var(--minor);stroke:var(--minor)}
.series-observation{fill:var(--observation);stroke:var(--observation)}.series-waived{fill:var(--waived);stroke:var(--waived)}
.series-findings{fill:var(--findings);stroke:var(--findings)}
svg.chart rect{stroke:none}
svg.chart .tl-cert{fill:#d1e9ff;stroke:#1849a9;stroke-width:1}svg.chart .tl-cert-active{fill:#b2ddff}
svg.chart .tl-cert-suspended,svg.chart .tl-cert-withdrawn{fill:var(--nc-bg);stroke:var(--major)}
svg.chart .tl-audit{fill:var(--ink)}.tl-decision{fill:var(--accent)}.tl-adverse{fill:var(--major)}
svg.chart .tl-due{fill:#fff;stroke-width:2}svg.chart .tl-code{font-size:9.5px;fill:var(--muted)}svg.chart .tl-asof{stroke:var(--accent);stroke-width:1.5;stroke-dasharray:4 3}
svg.chart a circle{stroke:#fff;stroke-width:1}
table.matrix td.has{background:#ecfdf3}table.matrix td,table.matrix th{vertical-align:top}
.nw{white-space:nowrap}
.hidden{display:none!important}
.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
footer{color:var(--muted);font-size:.82rem;padding:0 0 30px}
@media print{
html{font-size:10.5pt}
body{background:#fff}
header.top{background:#fff;color:#000;border-bottom:2px solid #000;padding:0 0 8px}
header.top .sub,header.top dt{color:#333}
nav.toc,.toolbar,.js .toolbar,.no-print{display:none!important}
.wrap{max-width:none;padding:0}
section.block{border:0;padding:0;margin:14px 0;break-inside:auto}
h2{break-after:avoid;border-bottom:1px solid #000;padding-bottom:2px}
h3,h4{break-after:avoid}
details.req,details.client,ol.findings>li,ol.checklist>li,.card{break-inside:avoid;box-shadow:none}
details.req>summary::before,details.client>summary::before,details.sub>summary::before{visibility:hidden}
a{color:inherit;text-decoration:none}
.badge,.sev,.chip,.card,svg.chart,ol.findings>li{-webkit-print-color-adjust:exact;print-color-adjust:exact}
details.sub>summary{color:#000}
}
"""

JS = """
(function () {
  'use strict';
  var root = document.documentElement;
  root.classList.add('js');
  function all(sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); }
  // Buttons open or close every drill-down of one kind (requirements or clients).
  all('button[data-toggle]').forEach(function (btn) {
    btn.addEventListener('click', function () {
      var open = btn.getAttribute('data-open') === 'true';
      all(btn.getAttribute('data-toggle')).forEach(function (d) {
        if (!d.classList.contains('hidden')) { d.open = open; }
      });
    });
  });
  // Status filter: hide requirements whose status is unticked, and clause headings left empty.
  var boxes = all('input[data-status-filter]');
  function applyFilter() {
    var shown = {};
    boxes.forEach(function (b) { shown[b.getAttribute('data-status-filter')] = b.checked; });
    var visible = 0;
    all('details.req').forEach(function (d) {
      var on = shown[d.getAttribute('data-status')] !== false;
      d.classList.toggle('hidden', !on);
      if (on && !d.hasAttribute('data-also')) { visible += 1; }   // a second listing is no second requirement
    });
    all('[data-group]').forEach(function (g) {
      g.classList.toggle('hidden', g.querySelector('details.req:not(.hidden)') === null);
    });
    var out = document.getElementById('filter-count');
    if (out) { out.textContent = visible + ' shown'; }
  }
  boxes.forEach(function (b) { b.addEventListener('change', applyFilter); });
  applyFilter();
  // Client search: keep the clients whose id contains the text typed.
  var find = document.getElementById('client-filter');
  if (find) {
    find.addEventListener('input', function () {
      var q = find.value.trim().toLowerCase();
      all('details.client').forEach(function (d) {
        d.classList.toggle('hidden', q !== '' && d.getAttribute('data-client').indexOf(q) < 0);
      });
    });
  }
  // A link to a requirement or client (#req-..., #client-...) opens its drill-down.
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (!el) { return; }
    if (el.classList.contains('hidden')) {
      boxes.forEach(function (b) {
        if (b.getAttribute('data-status-filter') === el.getAttribute('data-status')) { b.checked = true; }
      });
      applyFilter();
    }
    for (var n = el; n; n = n.parentElement) { if (n.tagName === 'DETAILS') { n.open = true; } }
    el.scrollIntoView();
  }
  window.addEventListener('hashchange', openTarget);
  openTarget();
  // Closed <details> print as their summary only; open everything for paper, then restore.
  var reopened = [];
  window.addEventListener('beforeprint', function () {
    reopened = all('details:not([open])');
    reopened.forEach(function (d) { d.open = true; });
  });
  window.addEventListener('afterprint', function () {
    reopened.forEach(function (d) { d.open = false; });
    reopened = [];
  });
}());
"""


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


CSP = ("default-src 'none'; style-src " + csp_hash(CSS) + "; script-src " + csp_hash(JS)
       + "; img-src data:; base-uri 'none'; form-action 'none'")
