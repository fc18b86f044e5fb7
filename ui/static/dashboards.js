// Draws a dashboard's charts with the vendored Chart.js (ui/static/vendor/chartjs) from the
// data each canvas carries in data-dashboard-chart: {type, labels, values, links, label,
// fill?, horizontal?, stacked?}. A click on a bar, point or slice opens its drill-down link
// (the entity's list view filtered to the records behind it); the figures under the chart
// carry the same links.
const PALETTE = ["#3f51b5", "#4caf50", "#ff9800", "#03a9f4", "#f44336", "#9c27b0",
  "#009688", "#795548", "#607d8b", "#e91e63"];

for (const canvas of document.querySelectorAll("canvas[data-dashboard-chart]")) {
  const spec = JSON.parse(canvas.dataset.dashboardChart);
  const round = spec.type === "pie" || spec.type === "doughnut";
  const colours = spec.values.map((_, index) => PALETTE[index % PALETTE.length]);
  const stacked = Boolean(spec.stacked);
  // eslint-disable-next-line no-undef
  const chart = new Chart(canvas, {
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
      scales: round ? {} : {x: {stacked}, y: {stacked}},
      onClick: (event) => {
        const points = chart.getElementsAtEventForMode(event, "nearest",
          {intersect: true}, true);
        const link = points.length ? spec.links[points[0].index] : null;
        if (link) {
          window.location.assign(link);
        }
      },
      onHover: (event, points) => {
        const drillable = points.length && spec.links[points[0].index];
        canvas.style.cursor = drillable ? "pointer" : "default";
      },
    },
  });
  canvas.dataset.chartReady = "1";
}
