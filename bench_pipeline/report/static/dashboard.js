// The history dashboard's charts and filters (bench_pipeline/report/dashboard_pages.py renders the pages
// and their inert JSON; plotly.js comes from /dashboard/static/plotly.min.js). Every string from the
// data is escaped before Plotly reads it as pseudo-HTML.
(function () {
  "use strict";
  var COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  var DASHES = ["solid", "dot", "dash", "longdash", "dashdot"];
  var UNIT = {wall: [1e6, "ms"], cpu: [1e6, "ms"], rss: [1048576, "MiB"]};
  var WORDS = {wall: "wall time", cpu: "CPU time", rss: "peak memory"};
  var CONFIG = {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"]};
  var VERDICT = {regression: "#cf222e", slower: "#cf222e", improvement: "#1a7f37", faster: "#1a7f37",
    equivalent: "#0969da", inconclusive: "#6e7781"};

  function $(id) { return document.getElementById(id); }
  function esc(s) { return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }
  function unit(metric) { return UNIT[metric] || [1, ""]; }
  function scaled(metric, v) { return v === null || v === undefined ? null : v / unit(metric)[0]; }
  function fmt(metric, v) {
    if (v === null || v === undefined) return "–";
    if (metric === "rss") return (v / 1048576).toFixed(1) + " MiB";
    if (!UNIT[metric]) return Number(v).toPrecision(4);
    if (v >= 1e9) return (v / 1e9).toFixed(2) + " s";
    if (v >= 1e6) return (v / 1e6).toFixed(2) + " ms";
    return (v / 1e3).toFixed(0) + " µs";
  }
  function rgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }
  function safely(fn) {
    try { fn(); } catch (err) { console.error(err); document.body.setAttribute("data-chart-error", String(err)); }
  }

  // ---------------------------------------------------------------- forms (tables: tables.js)
  Array.prototype.forEach.call(document.querySelectorAll("select[data-autosubmit]"), function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });
  var jump = $("operation-jump");
  if (jump) jump.addEventListener("change", function () { window.location.href = jump.value; });

  var block = $("dash-data");
  if (!block || typeof Plotly === "undefined") return;
  var D = JSON.parse(block.textContent);

  // ---------------------------------------------------------------- operation: medians over time
  function drawOperation() {
    var chart = $("op-chart"), hostSel = $("host-filter"), metric = D.metric;
    var sizes = Array.prototype.filter.call(document.querySelectorAll(".size-filter"), function (c) { return c.checked; })
      .map(function (c) { return c.value; });
    var host = hostSel.value, fixtures = D.fixtures.map(function (f) { return f.name; });
    var shown = D.series.filter(function (s) { return s.host === host && sizes.indexOf(s.fixture) >= 0; });
    var traces = [], shapes = [], annotations = [], cps = {x: [], y: [], text: []}, changes = [], points = 0;
    shown.forEach(function (s) {
      var color = COLORS[D.tools.indexOf(s.tool) % COLORS.length], dash = DASHES[fixtures.indexOf(s.fixture) % DASHES.length];
      var key = s.tool + " · " + s.fixture, pts = s.points.filter(function (p) { return p.median !== null; });
      var band = pts.filter(function (p) { return p.ci_low !== null && p.ci_high !== null; });
      points += pts.length;
      if (band.length) {
        traces.push({type: "scatter", mode: "lines", x: band.map(function (p) { return p.started_at; }),
          y: band.map(function (p) { return scaled(metric, p.ci_high); }), line: {width: 0, color: color},
          hoverinfo: "skip", showlegend: false, legendgroup: key, name: esc(key) + " CI"});
        traces.push({type: "scatter", mode: "lines", x: band.map(function (p) { return p.started_at; }),
          y: band.map(function (p) { return scaled(metric, p.ci_low); }), line: {width: 0, color: color},
          fill: "tonexty", fillcolor: rgba(color, 0.16), hoverinfo: "skip", showlegend: false, legendgroup: key,
          name: esc(key) + " CI"});
      }
      traces.push({type: "scatter", mode: "lines+markers", name: esc(key), legendgroup: key,
        x: pts.map(function (p) { return p.started_at; }), y: pts.map(function (p) { return scaled(metric, p.median); }),
        line: {color: color, width: 2, dash: dash}, marker: {color: color, size: 5},
        text: pts.map(function (p) {
          return esc(key) + "<br>run " + esc(p.run_id) + (p.git_tag ? " · tag " + esc(p.git_tag) : "") +
            "<br>median " + fmt(metric, p.median) + (p.ci_low !== null ? " [" + fmt(metric, p.ci_low) + "–" + fmt(metric, p.ci_high) + "]" : "") +
            "<br>n " + p.n + " · " + esc(p.host);
        }), hoverinfo: "text"});
      s.change_points.forEach(function (cp) {
        shapes.push({type: "line", xref: "x", yref: "paper", x0: cp.started_at, x1: cp.started_at, y0: 0, y1: 1,
          line: {color: color, width: 1.5, dash: "dash"}});
        cps.x.push(cp.started_at); cps.y.push(scaled(metric, cp.after_median));
        cps.text.push("change point · " + esc(key) + "<br>from run " + esc(cp.run_id) + ": " + fmt(metric, cp.before_median) +
          " → " + fmt(metric, cp.after_median) + " (×" + cp.ratio.toFixed(3) + ")");
        changes.push({key: key, cp: cp});
      });
    });
    if (cps.x.length) {
      traces.push({type: "scatter", mode: "markers", name: "change point", x: cps.x, y: cps.y, text: cps.text,
        hoverinfo: "text", marker: {symbol: "star", size: 16, color: "#cf222e", line: {color: "#fff", width: 1}}});
    }
    D.tags.forEach(function (t) {
      shapes.push({type: "line", xref: "x", yref: "paper", x0: t.started_at, x1: t.started_at, y0: 0, y1: 1,
        line: {color: "#57606a", width: 1, dash: "dot"}});
      annotations.push({x: t.started_at, xref: "x", y: 1, yref: "paper", yanchor: "bottom", showarrow: false,
        text: "tag " + esc(t.tag), font: {size: 11, color: "#57606a"}});
    });
    Plotly.react(chart, traces, {
      height: 460, margin: {l: 64, r: 20, t: 40, b: 50}, font: {size: 12}, shapes: shapes, annotations: annotations,
      legend: {orientation: "h", y: -0.18}, hovermode: "closest",
      xaxis: {type: "date", title: {text: "run start"}},
      yaxis: {title: {text: (WORDS[metric] || esc(metric)) + (unit(metric)[1] ? " (" + unit(metric)[1] + ")" : "")}, rangemode: "tozero"}
    }, CONFIG);
    chart.setAttribute("data-series", String(shown.length));
    chart.setAttribute("data-points", String(points));
    chart.setAttribute("data-change-points", String(changes.length));
    $("op-chart-note").textContent = shown.length + " series, " + points + " run medians, " + changes.length +
      " change point(s), " + D.tags.length + " tag(s)" + (shown.length ? "" : ": nothing measured for this filter");
    var list = $("op-changes");
    list.innerHTML = changes.length ? changes.map(function (c) {
      return "<li><b>" + esc(c.key) + "</b>: from run <code>" + esc(c.cp.run_id) + "</code> (" + esc(c.cp.started_at.slice(0, 10)) +
        ") " + esc(c.cp.direction || "") + ", " + fmt(metric, c.cp.before_median) + " → " + fmt(metric, c.cp.after_median) +
        " (×" + c.cp.ratio.toFixed(3) + ")</li>";
    }).join("") : "<li>none in the series shown</li>";
    var params = new URLSearchParams(window.location.search);
    params.set("host", host);
    params.set("size", sizes.join(","));
    window.history.replaceState(null, "", window.location.pathname + "?" + params.toString());
  }

  function setupOperation() {
    var params = new URLSearchParams(window.location.search), hostSel = $("host-filter");
    if (params.get("host") && Array.prototype.some.call(hostSel.options, function (o) { return o.value === params.get("host"); })) {
      hostSel.value = params.get("host");
    }
    if (params.has("size")) {
      var wanted = params.get("size").split(",");
      Array.prototype.forEach.call(document.querySelectorAll(".size-filter"), function (c) { c.checked = wanted.indexOf(c.value) >= 0; });
    }
    hostSel.addEventListener("change", function () { safely(drawOperation); });
    Array.prototype.forEach.call(document.querySelectorAll(".size-filter"), function (c) {
      c.addEventListener("change", function () { safely(drawOperation); });
    });
    safely(drawOperation);
  }

  // ---------------------------------------------------------------- compare: ratios with CIs
  function drawCompare() {
    var rows = D.rows.filter(function (r) { return r.ratio !== null && r.ratio > 0; }).slice(0, 80);
    var labels = rows.map(function (r) { return esc(r.operation + " · " + r.fixture + " · " + (r.tool || "")); });
    var groups = {};
    rows.forEach(function (r, i) {
      var g = groups[r.verdict] = groups[r.verdict] || {x: [], y: [], lo: [], hi: [], text: []}, ok = r.ci_low !== null && r.ci_high !== null;
      g.x.push(r.ratio); g.y.push(labels[i]);
      g.lo.push(ok ? Math.max(r.ratio - r.ci_low, 0) : 0); g.hi.push(ok ? Math.max(r.ci_high - r.ratio, 0) : 0);
      g.text.push(labels[i] + "<br>ratio " + r.ratio.toFixed(3) + (ok ? " [" + r.ci_low.toFixed(3) + "–" + r.ci_high.toFixed(3) + "]" : "") +
        "<br>" + esc(r.verdict));
    });
    var traces = Object.keys(groups).map(function (v) {
      var g = groups[v], color = VERDICT[v] || "#6e7781";
      return {type: "scatter", mode: "markers", name: esc(v) + " (" + g.x.length + ")", x: g.x, y: g.y, text: g.text, hoverinfo: "text",
        marker: {color: color, size: 9}, error_x: {type: "data", symmetric: false, array: g.hi, arrayminus: g.lo, color: color}};
    });
    Plotly.react($("compare-chart"), traces, {
      height: Math.max(240, 110 + rows.length * 20), margin: {l: 10, r: 20, t: 30, b: 50}, font: {size: 12},
      legend: {orientation: "h", y: 1.02, yanchor: "bottom", x: 0},
      xaxis: {type: "log", title: {text: "ratio candidate / baseline (log scale; above 1: slower)"}},
      yaxis: {type: "category", categoryorder: "array", categoryarray: labels, autorange: "reversed", automargin: true},
      shapes: [{type: "line", xref: "x", yref: "paper", x0: 1, x1: 1, y0: 0, y1: 1, line: {color: "#59636e", width: 1, dash: "dot"}}]
    }, CONFIG);
    $("compare-chart-note").textContent = D.rows.length > rows.length ? "Showing " + rows.length + " of " + D.rows.length + " cells (worst first): the table has them all." : "";
  }

  if (D.page === "operation") setupOperation();
  if (D.page === "compare") safely(drawCompare);
})();
