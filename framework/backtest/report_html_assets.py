"""Static CSS and JavaScript of the HTML report (no external resources: it works offline)."""

from __future__ import annotations

CSS = """
:root { --fg:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc; --card:#fff;
        --pos:#15803d; --neg:#b91c1c; --accent:#2563eb; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
       font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; }
main { max-width:1280px; margin:0 auto; padding:24px 28px 40px; }
header h1 { font-size:22px; margin:0 0 6px; }
.facts { display:flex; flex-wrap:wrap; gap:6px 18px; color:var(--muted); font-size:13px; }
.facts b { color:var(--fg); font-weight:600; margin-right:4px; }
.banner { margin:16px 0 0; padding:10px 14px; border-radius:8px; background:#fef3c7;
          border:1px solid #f59e0b; color:#78350f; }
section { background:var(--card); border:1px solid var(--line); border-radius:10px;
          padding:14px 18px; margin-top:18px; }
section.cards { display:grid; grid-template-columns:repeat(4,1fr);
                gap:12px; background:none; border:none; padding:0; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px;
        padding:12px 14px; }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase;
               letter-spacing:.04em; }
.card .value { font-size:24px; font-weight:650; margin:2px 0; font-variant-numeric:tabular-nums; }
.card .sub { color:var(--muted); font-size:12px; }
h2 { font-size:16px; margin:0 0 8px; }
h3 { font-size:13px; margin:0 0 6px; color:var(--muted); text-transform:uppercase;
     letter-spacing:.04em; }
.caption { color:var(--muted); font-size:12px; margin:-2px 0 8px; }
.note { color:#92400e; font-size:13px; margin:8px 0 0; }
.pos { color:var(--pos); } .neg { color:var(--neg); }
.grid { display:grid; grid-template-columns:repeat(2,1fr); gap:14px 40px; }
@media (max-width: 820px) { section.cards { grid-template-columns:repeat(2,1fr); }
                            .grid { grid-template-columns:1fr; } }
table { border-collapse:collapse; width:100%; }
table.kv th { text-align:left; font-weight:500; padding:3px 8px 3px 0; vertical-align:top;
              white-space:nowrap; }
table.kv td { padding:3px 0; }
table.kv.num td { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
#assumptions table.kv th { width:1%; color:var(--muted); }
.hint { color:var(--muted); font-weight:400; font-size:11px; margin-left:4px; }
table.data { font-size:13px; }
table.data th { text-align:left; font-weight:600; border-bottom:2px solid var(--line);
                padding:6px 6px; white-space:nowrap; position:sticky; top:0; background:#fff; }
table.data td { border-bottom:1px solid var(--line); padding:4px 6px; white-space:nowrap; }
table.data.num td { font-variant-numeric:tabular-nums; }
table.data tr.total td { font-weight:650; }
table.data tr.gap td { border:none; height:8px; padding:0; }
#breakdown-table td:nth-child(n+3), #breakdown-table th:nth-child(n+3) { text-align:right; }
table.heat td { text-align:center; min-width:46px; }
#trades-table th { cursor:pointer; user-select:none; }
#trades-table th.sorted-asc::after { content:" ▲"; }
#trades-table th.sorted-desc::after { content:" ▼"; }
#trades-table td.r { text-align:right; }
.scroll { overflow:auto; max-height:640px; }
.controls { display:flex; gap:10px; align-items:center; flex-wrap:wrap; margin-bottom:8px; }
.controls select, .controls button { font:inherit; padding:3px 8px; border:1px solid var(--line);
                                     border-radius:6px; background:#fff; }
.pager { margin-left:auto; display:flex; gap:8px; align-items:center; }
#t-count, #t-page { color:var(--muted); }
footer { color:var(--muted); font-size:12px; margin-top:24px; text-align:center; }
"""

TRADES_JS = """
(function () {
  var data = JSON.parse(document.getElementById("trades-data").textContent);
  var L = data.lookups, all = data.rows, PAGE = 50;
  all.forEach(function (r, i) { r.push(i + 1); });
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) {
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; }); }
  function when(ms) { return ms == null ? "open" :
    new Date(ms).toISOString().slice(0, 16).replace("T", " "); }
  function num(v) { return v == null ? "" : String(v); }
  function signed(v) { return (v > 0 ? "+" : "") + v.toLocaleString("en-US",
    {minimumFractionDigits: 2, maximumFractionDigits: 2}); }
  function money(v) { return v.toLocaleString("en-US",
    {minimumFractionDigits: 2, maximumFractionDigits: 4}); }
  function tone(v) { return v > 0 ? " pos" : v < 0 ? " neg" : ""; }
  var oneMarket = L.market.length < 2;
  var cols = [
    ["#", 16, function (r) { return r[16]; }, "r"],
    ["Strategy", 0, function (r) { return esc(L.strategy[r[0]]); }, ""],
    ["Leg", 1, function (r) { return esc(L.leg[r[1]]); }, ""],
    ["Side", 2, function (r) { return esc(L.dir[r[2]]); }, ""],
    ["Market", 3, function (r) { return esc(L.market[r[3]]); }, ""],
    ["Entry (UTC)", 4, function (r) { return when(r[4]); }, ""],
    ["Entry price", 6, function (r) { return num(r[6]); }, "r"],
    ["Exit (UTC)", 5, function (r) { return when(r[5]); }, ""],
    ["Exit price", 7, function (r) { return num(r[7]); }, "r"],
    ["Size", 8, function (r) { return num(r[8]); }, "r"],
    ["Bars", 9, function (r) { return r[9]; }, "r"],
    ["Price PnL", 10, function (r) { return signed(r[10]); }, "r"],
    ["Fees", 11, function (r) { return money(r[11]); }, "r"],
    ["Funding", 12, function (r) { return signed(r[12]); }, "r"],
    ["Net PnL", 13, function (r) { return signed(r[13]); }, "r", true],
    ["Exit", 14, function (r) { return esc(L.reason[r[14]]) + (r[15] ? " ⚠ liquidated" : ""); }, ""]
  ].filter(function (c) { return !(oneMarket && c[1] === 3); });
  var table = document.getElementById("trades-table");
  var sortCol = 16, sortDir = 1, page = 0, shown = all;
  var head = "<tr>" + cols.map(function (c, i) {
    return '<th data-col="' + i + '">' + c[0] + "</th>"; }).join("") + "</tr>";
  table.tHead.innerHTML = head;
  function fill(id, label, names) {
    var el = document.getElementById(id);
    el.innerHTML = '<option value="-1">' + label + "</option>" + names.map(function (n, i) {
      return '<option value="' + i + '">' + esc(n) + "</option>"; }).join("");
    el.onchange = apply;
    return el;
  }
  var fs = fill("f-strategy", "all strategies", L.strategy);
  var fl = fill("f-leg", "all legs", L.leg);
  var fd = fill("f-dir", "long and short", L.dir);
  function key(r) { var v = r[sortCol]; return v == null ? Infinity : v; }
  function apply() {
    var s = +fs.value, l = +fl.value, d = +fd.value;
    shown = all.filter(function (r) {
      return (s < 0 || r[0] === s) && (l < 0 || r[1] === l) && (d < 0 || r[2] === d); });
    shown.sort(function (a, b) { var x = key(a), y = key(b);
      return x < y ? -sortDir : x > y ? sortDir : a[16] - b[16]; });
    page = 0; render();
  }
  function render() {
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(Math.max(page, 0), pages - 1);
    var slice = shown.slice(page * PAGE, page * PAGE + PAGE);
    table.tBodies[0].innerHTML = slice.map(function (r) {
      return '<tr class="trade-row">' + cols.map(function (c) {
        var cls = c[3] + (c[4] ? tone(r[13]) : "");
        return '<td class="' + cls + '">' + c[2](r) + "</td>"; }).join("") + "</tr>";
    }).join("");
    document.getElementById("t-count").textContent = shown.length.toLocaleString("en-US") +
      " of " + all.length.toLocaleString("en-US") + " trades";
    document.getElementById("t-page").textContent = "page " + (page + 1) + " / " + pages;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.className = cols[i][1] === sortCol ? (sortDir > 0 ? "sorted-asc" : "sorted-desc") : "";
    });
  }
  table.tHead.onclick = function (e) {
    var th = e.target.closest("th"); if (!th) return;
    var col = cols[+th.dataset.col][1];
    sortDir = col === sortCol ? -sortDir : 1; sortCol = col; apply();
  };
  document.getElementById("t-prev").onclick = function () { page--; render(); };
  document.getElementById("t-next").onclick = function () { page++; render(); };
  apply();
})();
"""
