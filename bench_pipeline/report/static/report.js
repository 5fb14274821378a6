// Charts, sorting and filtering of the self-contained HTML report, drawn from its embedded JSON
// (plotly.js is inlined before it); bench_pipeline/report/html.py inlines this file.
(function () {
  "use strict";
  var R = JSON.parse(document.getElementById("report-data").textContent);
  var TOOLS = R.run.tools;
  var COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  var UNIT = {wall: [1e6, "ms"], cpu: [1e6, "ms"], rss: [1048576, "MiB"]};
  var WORDS = {wall: "wall time", cpu: "CPU time", rss: "peak memory"};
  var MAX_ROWS = 60;
  var CONFIG = {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"]};

  // Plotly reads pseudo-HTML in labels: escape every string that comes from the data.
  function esc(s) { return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }
  function $(id) { return document.getElementById(id); }
  function color(tool) { var i = TOOLS.indexOf(tool); return COLORS[(i < 0 ? TOOLS.length : i) % COLORS.length]; }
  function fmt(metric, v) {
    if (v === null || v === undefined) return "–";
    if (metric === "rss") return (v / 1048576).toFixed(1) + " MiB";
    if (v >= 1e9) return (v / 1e9).toFixed(2) + " s";
    if (v >= 1e6) return (v / 1e6).toFixed(2) + " ms";
    return (v / 1e3).toFixed(0) + " µs";
  }
  function scaled(metric, v) { return v === null || v === undefined ? null : v / UNIT[metric][0]; }
  function terms(id) { var el = $(id); return el ? el.value.toLowerCase().split(/\s+/).filter(Boolean) : []; }
  function matches(text, ts) { text = text.toLowerCase(); return ts.every(function (t) { return text.indexOf(t) >= 0; }); }
  function note(id, text) { var el = $(id + "-note"); if (el) el.textContent = text; }
  function draw(id, traces, layout) {
    layout.margin = layout.margin || {l: 10, r: 20, t: 30, b: 50};
    layout.font = {size: 12};
    layout.legend = layout.legend || {orientation: "h", y: 1.02, yanchor: "bottom", x: 0};
    Plotly.react($(id), traces, layout, CONFIG);
  }
  // Log axes: ticks at 1-2-5 × 10^k (or every digit on a narrow range) with full labels, not plotly's
  // bare digits between decades.
  function logAxis(values, base) {
    var v = values.filter(function (x) { return x > 0 && isFinite(x); });
    if (!v.length) return base;
    var lo = Math.min.apply(null, v), hi = Math.max.apply(null, v), ticks = [];
    [[1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]].some(function (set) {
      ticks = [];
      for (var k = Math.floor(Math.log10(lo)) - 1; k <= Math.ceil(Math.log10(hi)) + 1; k++) {
        set.forEach(function (m) { var t = Number((m * Math.pow(10, k)).toPrecision(6)); if (t >= lo / 1.15 && t <= hi * 1.15) ticks.push(t); });
      }
      return ticks.length >= 3;
    });
    base.type = "log";
    if (ticks.length >= 2) { base.tickvals = ticks; base.ticktext = ticks.map(function (t) { return String(t); }); }
    return base;
  }
  function on(ids, fn) { ids.forEach(function (id) { var el = $(id); if (el) el.addEventListener(el.tagName === "INPUT" ? "input" : "change", fn); }); }

  // ---------------------------------------------------------------- distributions (box per tool)
  function drawDistributions() {
    if (!$("dist-chart")) return;
    var metric = $("dist-metric").value, fixture = $("dist-fixture").value, ts = terms("dist-filter");
    var rows = R.operations.filter(function (r) { return r.fixture === fixture && matches(r.operation, ts); });
    var shown = rows.slice(0, MAX_ROWS), labels = shown.map(function (r) { return esc(r.operation); });
    var traces = [], missing = [];
    TOOLS.forEach(function (tool) {
      var b = {y: [], q1: [], median: [], q3: [], lowerfence: [], upperfence: [], mean: [], text: []};
      var ext = {x: [], y: [], text: []};
      shown.forEach(function (r, i) {
        var c = r.tools[tool], m = c && c.metrics[metric];
        if (!c || !m || m.median === null || c.status !== "measured") {
          var why = !c ? "not planned" : c.status === "na" ? "n/a" : c.status;
          missing.push(tool + " / " + r.operation + ": " + why);
          return;
        }
        var med = m.median, q1 = m.q1 !== null ? m.q1 : med, q3 = m.q3 !== null ? m.q3 : med;
        var lo = m.p5 !== null ? m.p5 : (m.min !== null ? m.min : q1), hi = m.p95 !== null ? m.p95 : (m.max !== null ? m.max : q3);
        b.y.push(labels[i]); b.median.push(scaled(metric, med)); b.q1.push(scaled(metric, Math.min(q1, med)));
        b.q3.push(scaled(metric, Math.max(q3, med))); b.lowerfence.push(scaled(metric, Math.min(lo, q1, med)));
        b.upperfence.push(scaled(metric, Math.max(hi, q3, med))); b.mean.push(scaled(metric, m.mean !== null ? m.mean : med));
        var tip = esc(tool) + (c.valid === false ? " (INVALID)" : "") + "<br>" + labels[i] + " · n=" + m.n +
          "<br>min " + fmt(metric, m.min) + " · p5 " + fmt(metric, m.p5) + "<br>q1 " + fmt(metric, m.q1) +
          " · median " + fmt(metric, med) + " · q3 " + fmt(metric, m.q3) + "<br>p95 " + fmt(metric, m.p95) + " · max " + fmt(metric, m.max);
        b.text.push(tip);
        [m.min, m.max].forEach(function (v) { if (v !== null) { ext.x.push(scaled(metric, v)); ext.y.push(labels[i]); ext.text.push(tip); } });
      });
      traces.push({type: "box", orientation: "h", name: esc(tool), legendgroup: tool, offsetgroup: tool,
        y: b.y, q1: b.q1, median: b.median, q3: b.q3, lowerfence: b.lowerfence, upperfence: b.upperfence,
        mean: b.mean, boxmean: false, text: b.text, hoverinfo: "text", marker: {color: color(tool)}, line: {width: 1.5}});
      traces.push({type: "scatter", mode: "markers", orientation: "h", name: esc(tool) + " min/max", legendgroup: tool, offsetgroup: tool,
        showlegend: false, x: ext.x, y: ext.y, text: ext.text, hoverinfo: "text",
        marker: {symbol: "line-ns-open", size: 9, color: color(tool), line: {width: 2}}});
    });
    var height = Math.max(260, 90 + shown.length * (14 + 12 * TOOLS.length));
    draw("dist-chart", traces, {height: height, boxmode: "group", scattermode: "group", boxgroupgap: 0.25,
      xaxis: logAxis(traces.reduce(function (all, t) { return all.concat(t.x || [], t.lowerfence || [], t.upperfence || []); }, []),
        {title: {text: WORDS[metric] + " (" + UNIT[metric][1] + ", log scale)"}, gridcolor: "#e5e8eb"}),
      yaxis: {type: "category", categoryorder: "array", categoryarray: labels, autorange: "reversed", automargin: true}});
    var text = (rows.length > shown.length ? "Showing " + shown.length + " of " + rows.length + " operations: type in the filter to narrow. " : "") +
      (missing.length ? "Not drawn (" + missing.length + "): " + missing.slice(0, 12).join("; ") + (missing.length > 12 ? "; …" : "") + "." : "");
    note("dist-chart", text);
  }

  // ---------------------------------------------------------------- forest plot of ratios
  var VERDICT_STYLE = {
    faster: {symbol: "circle", color: "#1a7f37"}, slower: {symbol: "circle", color: "#cf222e"},
    equivalent: {symbol: "diamond", color: "#0969da"}, inconclusive: {symbol: "circle-open", color: "#6e7781"},
    invalid: {symbol: "x", color: "#8250df"}
  };
  function drawForest() {
    if (!$("forest-chart")) return;
    var pair = $("forest-pair").value, ts = terms("forest-filter");
    var all = R.comparisons.filter(function (c) {
      return c.metric === "wall" && (pair === "all" || c.tool_a + "|" + c.tool_b === pair) &&
        matches(c.operation + " " + c.fixture + " " + c.tool_a + " " + c.tool_b + " " + c.verdict, ts);
    });
    var plotted = all.filter(function (c) { return c.ratio !== null && c.ratio > 0; });
    var shown = plotted.slice(0, MAX_ROWS + 20);
    function label(c) { return esc(c.operation) + " · " + esc(c.fixture) + " · " + esc(c.tool_b) + " vs " + esc(c.tool_a); }
    var labels = shown.map(label), groups = {}, d = R.delta || 0.03;
    shown.forEach(function (c, i) {
      var v = VERDICT_STYLE[c.verdict] ? c.verdict : "inconclusive", g = groups[v] = groups[v] || {x: [], y: [], lo: [], hi: [], text: []};
      var ok = c.ci_low !== null && c.ci_high !== null && c.verdict !== "invalid";
      g.x.push(c.ratio); g.y.push(labels[i]);
      g.hi.push(ok ? Math.max(c.ci_high - c.ratio, 0) : 0); g.lo.push(ok ? Math.max(c.ratio - c.ci_low, 0) : 0);
      g.text.push(labels[i] + "<br>ratio " + c.ratio.toFixed(3) + (c.ci_low !== null && c.ci_high !== null ? " [" + c.ci_low.toFixed(3) + "–" + c.ci_high.toFixed(3) + "]" : " (no CI)") +
        "<br>p_adj " + (c.p_adjusted === null ? "–" : c.p_adjusted.toPrecision(2)) + " · " + esc(c.verdict) + "<br>n " + c.n_a + "/" + c.n_b);
    });
    var traces = Object.keys(VERDICT_STYLE).filter(function (v) { return groups[v]; }).map(function (v) {
      var g = groups[v], s = VERDICT_STYLE[v];
      return {type: "scatter", mode: "markers", name: v + " (" + g.x.length + ")", x: g.x, y: g.y, text: g.text, hoverinfo: "text",
        marker: {symbol: s.symbol, color: s.color, size: 9, line: {width: 1.5, color: s.color}},
        error_x: {type: "data", symmetric: false, array: g.hi, arrayminus: g.lo, color: s.color, thickness: 1.5, width: 3}};
    });
    draw("forest-chart", traces, {height: Math.max(240, 110 + shown.length * 20),
      xaxis: logAxis(shown.reduce(function (all, c) { return all.concat([c.ratio, c.ci_low, c.ci_high, 1 / (1 + d), 1 + d]); }, []),
        {title: {text: "ratio of medians B/A, wall time (log scale; below 1: B is faster)"}, gridcolor: "#e5e8eb", zeroline: false}),
      yaxis: {type: "category", categoryorder: "array", categoryarray: labels, autorange: "reversed", automargin: true},
      shapes: [
        {type: "rect", xref: "x", yref: "paper", x0: 1 / (1 + d), x1: 1 + d, y0: 0, y1: 1, fillcolor: "rgba(9,105,218,0.10)", line: {width: 0}, layer: "below"},
        {type: "line", xref: "x", yref: "paper", x0: 1, x1: 1, y0: 0, y1: 1, line: {color: "#59636e", width: 1, dash: "dot"}}
      ]});
    var msg = [];
    if (plotted.length > shown.length) msg.push("Showing " + shown.length + " of " + plotted.length + " rows: filter or pick a pair to narrow.");
    if (all.length > plotted.length) msg.push((all.length - plotted.length) + " comparison(s) have no ratio (a tool without a measurement): see the table.");
    note("forest-chart", msg.join(" "));
  }

  // ---------------------------------------------------------------- history lines and change points
  function drawHistory() {
    if (!$("history-chart")) return;
    var key = JSON.parse($("history-series").value), metric = key[2];
    var series = R.history.filter(function (s) { return s.operation === key[0] && s.fixture === key[1] && s.metric === metric; });
    var traces = [], shapes = [], cx = [], cy = [], ct = [];
    series.forEach(function (s) {
      var pts = s.points.filter(function (p) { return p.median !== null; });
      traces.push({type: "scatter", mode: "lines+markers", name: esc(s.tool), x: pts.map(function (p) { return p.started_at; }),
        y: pts.map(function (p) { return scaled(metric, p.median); }), line: {color: color(s.tool), width: 2}, marker: {color: color(s.tool), size: 6},
        text: pts.map(function (p) { return esc(s.tool) + " · run " + esc(p.run_id) + "<br>median " + fmt(metric, p.median) + (p.ci_low !== null && p.ci_high !== null ? " [" + fmt(metric, p.ci_low) + "–" + fmt(metric, p.ci_high) + "]" : ""); }),
        hoverinfo: "text",
        error_y: {type: "data", symmetric: false, color: color(s.tool), thickness: 1, width: 2,
          array: pts.map(function (p) { return p.ci_high !== null ? scaled(metric, p.ci_high - p.median) : 0; }),
          arrayminus: pts.map(function (p) { return p.ci_low !== null ? scaled(metric, p.median - p.ci_low) : 0; })}});
      s.change_points.forEach(function (cp) {
        shapes.push({type: "line", xref: "x", yref: "paper", x0: cp.started_at, x1: cp.started_at, y0: 0, y1: 1, line: {color: color(s.tool), width: 1.5, dash: "dash"}});
        cx.push(cp.started_at); cy.push(scaled(metric, cp.after_median));
        ct.push("change point · " + esc(s.tool) + " · run " + esc(cp.run_id) + "<br>" + fmt(metric, cp.before_median) + " → " + fmt(metric, cp.after_median) + (cp.ratio !== null ? " (×" + cp.ratio.toFixed(2) + ")" : ""));
      });
    });
    if (cx.length) traces.push({type: "scatter", mode: "markers", name: "change point", x: cx, y: cy, text: ct, hoverinfo: "text",
      marker: {symbol: "star", size: 15, color: "#cf222e", line: {color: "#fff", width: 1}}});
    draw("history-chart", traces, {height: 380, shapes: shapes, margin: {l: 60, r: 20, t: 30, b: 50},
      xaxis: {type: "date", title: {text: "run start"}}, yaxis: {title: {text: WORDS[metric] + " (" + UNIT[metric][1] + ")"}, rangemode: "tozero"}});
  }

  // ---------------------------------------------------------------- scaling curves (log-log)
  var GROWTH = {
    constant: function () { return 0; }, log: function (n) { return Math.log(n); }, linear: function (n) { return n; },
    "n log n": function (n) { return n * Math.log(n); }, quadratic: function (n) { return n * n; }
  };
  function drawScaling() {
    if (!$("scaling-chart")) return;
    var key = JSON.parse($("scaling-op").value), op = key[0], basis = key[1], fixture = key[2];
    var metric = $("scaling-metric").value, traces = [];
    TOOLS.forEach(function (tool) {
      var fit = R.scaling.filter(function (f) {
        return f.tool === tool && f.operation === op && f.metric === metric && f.basis === basis && (f.fixture || null) === fixture;
      })[0];
      var pts = [];
      if (fit) {
        fit.sizes.forEach(function (p) { if (p.median !== null && p.n > 0) pts.push({n: p.n, median: p.median, label: p.label || p.fixture}); });
      } else if ((basis === "commits" || basis === "files") && fixture === null) {
        R.operations.forEach(function (r) {
          var size = R.fixtures[r.fixture], n = size && size[basis], c = r.tools[tool], m = c && c.status === "measured" && c.metrics[metric];
          if (r.operation === op && n && m && m.median !== null) pts.push({n: n, median: m.median, label: r.fixture});
        });
      }
      if (!pts.length) return;
      pts.sort(function (a, b) { return a.n - b.n; });
      var curve = fit && fit.fixed !== null && fit.slope !== null && GROWTH[fit.growth];
      var name = esc(tool) + (fit ? " — " + esc(fit.growth) + (fit.r_squared !== null ? ", R² " + fit.r_squared.toFixed(2) : "") : "");
      traces.push({type: "scatter", mode: curve ? "markers" : "lines+markers", name: name, legendgroup: tool,
        x: pts.map(function (p) { return p.n; }), y: pts.map(function (p) { return scaled(metric, p.median); }),
        line: {color: color(tool), width: 2}, marker: {size: 8, color: color(tool)}, hoverinfo: "text",
        text: pts.map(function (p) { return esc(tool) + " · " + esc(p.label) + " (n=" + p.n + ")<br>median " + fmt(metric, p.median); })});
      if (curve) {
        var lo = pts[0].n, hi = pts[pts.length - 1].n, xs = [], ys = [];
        for (var i = 0; i <= 40; i++) { var n = lo * Math.pow(hi / lo, i / 40); xs.push(n); ys.push(scaled(metric, fit.fixed + fit.slope * GROWTH[fit.growth](n))); }
        traces.push({type: "scatter", mode: "lines", name: esc(tool) + " fit", legendgroup: tool, showlegend: false, x: xs, y: ys,
          hoverinfo: "skip", line: {color: color(tool), width: 1.5, dash: "dash"}});
      }
    });
    var xTitle = basis === "commits" || basis === "files" ? "fixture size (" + basis + ", log scale)" : esc(basis) + " (parameter value, log scale)";
    draw("scaling-chart", traces, {height: 380, margin: {l: 60, r: 20, t: 30, b: 50},
      xaxis: logAxis([].concat.apply([], traces.map(function (t) { return t.x; })), {title: {text: xTitle}}),
      yaxis: logAxis([].concat.apply([], traces.map(function (t) { return t.y; })), {title: {text: WORDS[metric] + " (" + UNIT[metric][1] + ", log scale)"}})});
    note("scaling-chart", traces.length ? "" : "No tool has a measurement of this operation on two sizes for this metric.");
  }

  // tables: sorting and filter boxes are tables.js (shared with the dashboard)
  var opsTable = $("ops-table"), opsMetric = $("ops-metric");
  if (opsTable && opsMetric) {
    // the stylesheet hides wall/cpu/rss columns by data-metric; extra metrics (any name) by script
    var showMetric = function () {
      var own = "m-" + opsMetric.value;
      opsTable.setAttribute("data-metric", opsMetric.value);
      opsTable.querySelectorAll("[class*='m-']").forEach(function (cell) {
        var mine = Array.prototype.filter.call(cell.classList, function (k) { return k.indexOf("m-") === 0; });
        if (mine.length) cell.style.display = mine.indexOf(own) >= 0 ? "table-cell" : "none";
      });
    };
    showMetric();
    opsMetric.addEventListener("change", showMetric);
  }

  // ---------------------------------------------------------------- wire up
  function safely(fn) { try { fn(); } catch (err) { var el = document.body; console.error(err); el.setAttribute("data-chart-error", String(err)); } }
  if (typeof Plotly === "undefined") return;
  on(["dist-metric", "dist-fixture", "dist-filter"], function () { safely(drawDistributions); });
  on(["forest-pair", "forest-filter"], function () { safely(drawForest); });
  on(["history-series"], function () { safely(drawHistory); });
  on(["scaling-op", "scaling-metric"], function () { safely(drawScaling); });
  [drawDistributions, drawForest, drawHistory, drawScaling].forEach(safely);
})();
