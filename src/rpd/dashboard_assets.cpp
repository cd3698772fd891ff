#include "rpd/dashboard_assets.h"

#include <fstream>
#include <iterator>

namespace enclave::rpd::dashboard {

const std::string& StyleSheet() {
  // Readable from a phone to 1280x800 and up: one column, wide tables scroll inside their own box
  // instead of widening the page, and every focusable element shows where the focus is.
  static const std::string kCss = R"CSS(
*, *::before, *::after { box-sizing: border-box; }
html { font: 16px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; background: #fafafa; }
body { margin: 0; }
a { color: #0b57d0; }
:focus-visible { outline: 3px solid #e8710a; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: .5em 1em; }
.skip:focus { left: .5em; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .5em 1.5em; padding: .6em 1.2em;
         background: #1d2a3a; color: #fff; }
header a { color: #fff; }
.brand { margin: 0; font-weight: 600; }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: .3em 1em; margin: 0; padding: 0; }
.logout { margin-left: auto; }
button { font: inherit; padding: .35em .9em; border: 1px solid #556; border-radius: 4px; background: #fff;
         color: #1d1d1f; cursor: pointer; }
main { max-width: 78em; margin: 0 auto; padding: .5em 1.2em 3em; }
main:focus { outline: none; }
h1 { font-size: 1.6em; margin: .6em 0 .3em; }
h2 { font-size: 1.2em; margin: 1.6em 0 .5em; }
.source { color: #555; font-weight: normal; }
.note { color: #555; margin-top: 0; }
.windows ul { margin-bottom: .5em; }
.totals { display: grid; grid-template-columns: repeat(auto-fit, minmax(11em, 1fr)); gap: .6em; margin: 0; }
.totals > div { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .5em .8em; }
.totals dt { color: #555; font-size: .85em; }
.totals dd { margin: 0; font-size: 1.35em; font-variant-numeric: tabular-nums; }
.totals dd ul { font-size: .75em; }
.plain { list-style: none; margin: 0; padding: 0; }
.chart { position: relative; height: 18em; background: #fff; border: 1px solid #ddd; border-radius: 6px;
         padding: .5em; margin-bottom: 1em; }
.scroll { overflow-x: auto; max-width: 100%; margin-bottom: 1em; }
table { border-collapse: collapse; min-width: 100%; background: #fff; }
caption { text-align: left; font-weight: 600; padding: .3em 0; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #e3e3e3; white-space: nowrap; }
thead th { background: #f0f2f5; font-size: .9em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { display: inline-block; padding: .05em .5em; border-radius: 1em; background: #e8e8e8; font-size: .85em; }
.state-new { background: #dbe8ff; } .state-ongoing { background: #fff0c2; }
.state-escalating { background: #ffd0cc; color: #7a0b00; } .state-regressed { background: #f4d0ff; color: #4b0066; }
.state-resolved { background: #d3f2dc; color: #0a4b20; }
.lists { display: grid; gap: .3em; } .lists dt { font-weight: 600; } .lists dd { margin: 0 0 .4em; }
.ids { columns: 22em auto; font-size: .85em; }
.ids code { word-break: break-all; }
.login { max-width: 26em; background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 1em 1.2em; }
.login label { display: block; font-weight: 600; margin-bottom: .3em; }
.login input { font: inherit; width: 100%; padding: .4em .5em; }
.message { color: #9b1c1c; font-weight: 600; }
@media (max-width: 40em) {
  html { font-size: 15px; }
  main { padding: .3em .7em 2em; }
  .chart { height: 14em; }
  .logout { margin-left: 0; }
}
)CSS";
  return kCss;
}

const std::string& ChartScript() {
  // Draws each chart from the JSON element beside its canvas. Values are the API's fractions;
  // only the axis and the tooltips show them as percentages. No animation: the chart is complete
  // on the first frame (a screenshot or a reader arriving by keyboard sees the final picture).
  static const std::string kJs = R"JS("use strict";
(function () {
  const colors = ["#0b57d0", "#c5221f", "#188038", "#9334e6", "#e8710a", "#12858a", "#5f6368", "#b06000"];
  const percent = v => Number((v * 100).toPrecision(3)) + " %";
  const shortHour = s => (typeof s === "string" && s.length >= 16) ? s.slice(5, 16).replace("T", " ") : s;
  if (typeof Chart === "undefined") return;
  document.querySelectorAll('script[type="application/json"][data-chart-for]').forEach(el => {
    const canvas = document.getElementById(el.dataset.chartFor);
    if (!canvas) return;
    const spec = JSON.parse(el.textContent);
    const line = spec.type === "line";
    const datasets = spec.datasets.map((d, i) => ({
      label: d.label, data: d.data, borderColor: colors[i % colors.length],
      backgroundColor: colors[i % colors.length] + (line ? "" : "aa"), borderWidth: 2,
      pointRadius: line ? 2 : 0, tension: 0
    }));
    new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: {
          x: { ticks: { callback: function (v) { return line ? shortHour(this.getLabelForValue(v)) : this.getLabelForValue(v); } } },
          y: { beginAtZero: true, ticks: { callback: v => spec.y === "fraction" ? percent(v) : v } }
        },
        plugins: { tooltip: { callbacks: { label: c => c.dataset.label + ": " +
          (spec.y === "fraction" ? percent(c.parsed.y) : c.parsed.y) } } }
      }
    });
  });
})();
)JS";
  return kJs;
}

Result<std::shared_ptr<const std::string>> LoadChartJs(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return OSStatusError(errsec::kIO,
                         "Chart.js is missing at " + path +
                             " (install Debian's libjs-chart.js, or name the file with --chart-js)");
  }
  auto text =
      std::make_shared<std::string>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text->empty()) return OSStatusError(errsec::kIO, "Chart.js at " + path + " is empty");
  return std::shared_ptr<const std::string>(std::move(text));
}

}  // namespace enclave::rpd::dashboard
