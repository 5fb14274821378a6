// Sortable tables (click a header; again to reverse; cells without a value sort last) and filter boxes
// (keep the rows containing every word) of the HTML report and the dashboard; the report inlines this
// file, the dashboard serves it (bench_pipeline/report/html.py, interfaces/http/dashboard.py).
(function () {
  "use strict";
  function $(id) { return document.getElementById(id); }
  function matches(text, ts) { text = text.toLowerCase(); return ts.every(function (t) { return text.indexOf(t) >= 0; }); }
  function key(td) { var v = td.getAttribute("data-v"); return v === null ? td.textContent.trim() : v; }
  function sortTable(t, col, th) {
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    Array.prototype.forEach.call(t.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    var body = t.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var keys = rows.map(function (r) { return r.cells[col] ? key(r.cells[col]) : ""; });
    var numeric = keys.every(function (k) { return k === "" || !isNaN(Number(k)); });
    var order = rows.map(function (r, i) { return i; }).sort(function (a, b) {
      var ka = keys[a], kb = keys[b];
      if (ka === "" || kb === "") return ka === kb ? a - b : (ka === "" ? 1 : -1);
      var c = numeric ? Number(ka) - Number(kb) : ka.localeCompare(kb, undefined, {numeric: true});
      return c * dir || a - b;
    });
    var frag = document.createDocumentFragment();
    order.forEach(function (i) { frag.appendChild(rows[i]); });
    body.appendChild(frag);
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (t) {
    Array.prototype.forEach.call(t.tHead.rows[0].cells, function (th, i) {
      th.addEventListener("click", function () { sortTable(t, i, th); });
      th.addEventListener("keydown", function (ev) { if (ev.key === "Enter") sortTable(t, i, th); });
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("input.filter"), function (inp) {
    var t = $(inp.getAttribute("data-table")), counter = document.querySelector('[data-count-for="' + t.id + '"]');
    inp.addEventListener("input", function () {
      var ts = inp.value.toLowerCase().split(/\s+/).filter(Boolean), shown = 0, rows = t.tBodies[0].rows;
      Array.prototype.forEach.call(rows, function (r) { var ok = matches(r.textContent, ts); r.hidden = !ok; if (ok) shown++; });
      counter.textContent = (ts.length ? shown + " of " : "") + rows.length + (rows.length === 1 ? " row" : " rows");
    });
  });
})();
