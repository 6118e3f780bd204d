// Metric charts (the console's metrics pages): the series come as JSON in the page
// (<script type="application/json" id="metric-data">, data only: the CSP runs no inline script)
// and again from the page's data URL every few seconds, drawn with the vendored uPlot.
(function () {
  "use strict";
  var REFRESH_MS = 5000;
  var plots = {};

  function options(chart, width) {
    return {
      width: width, height: 180,
      scales: { x: { time: true } },
      series: [{}, { label: chart.metric + " (" + chart.stat + ")", stroke: "#0972d3", width: 2,
                     fill: "rgba(9,114,211,0.08)", spanGaps: false, points: { show: true, size: 4 } }],
      axes: [{}, { size: 72 }],
      legend: { show: true }
    };
  }

  function draw(data) {
    var root = document.getElementById("charts");
    if (!root || typeof uPlot === "undefined") { return; }
    data.charts.forEach(function (chart) {
      var box = root.querySelector('[data-chart="' + chart.id + '"] .plot');
      var summary = root.querySelector('[data-chart="' + chart.id + '"] .summary');
      if (summary) { summary.textContent = chart.summary === null ? "no data" : String(Math.round(chart.summary * 100) / 100); }
      if (!box) { return; }
      var series = [chart.xs, chart.ys];
      if (plots[chart.id]) { plots[chart.id].setData(series); return; }
      plots[chart.id] = new uPlot(options(chart, Math.max(300, box.clientWidth || 400)), series, box);
    });
  }

  function refresh(url) {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { draw(data); } })
      .catch(function () { /* the next refresh tries again */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var holder = document.getElementById("metric-data");
    if (!holder) { return; }
    draw(JSON.parse(holder.textContent));
    var url = holder.getAttribute("data-url");
    if (url) { setInterval(function () { refresh(url); }, REFRESH_MS); }
  });
})();
