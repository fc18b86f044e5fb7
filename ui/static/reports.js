// Draws a report's chart with the vendored Chart.js (ui/static/vendor/chartjs), from the
// data the page embeds in data-report-chart: {type, labels, values, label, fill?,
// horizontal?}. The table below the chart holds the same figures exactly.
const PALETTE = ["#3f51b5", "#4caf50", "#ff9800", "#03a9f4", "#f44336", "#9c27b0",
  "#009688", "#795548", "#607d8b", "#e91e63"];

for (const canvas of document.querySelectorAll("canvas[data-report-chart]")) {
  const spec = JSON.parse(canvas.dataset.reportChart);
  const round = spec.type === "pie" || spec.type === "doughnut";
  const colours = spec.values.map((_, index) => PALETTE[index % PALETTE.length]);
  // eslint-disable-next-line no-undef
  new Chart(canvas, {
    type: spec.type,
    data: {
      labels: spec.labels,
      datasets: [{
        label: spec.label,
        data: spec.values,
        backgroundColor: round ? colours : PALETTE[0],
        borderColor: PALETTE[0],
        fill: Boolean(spec.fill),
      }],
    },
    options: {
      maintainAspectRatio: false,
      indexAxis: spec.horizontal ? "y" : "x",
      animation: false,
      plugins: {legend: {display: round}},
    },
  });
}
