// chart.js - a bar chart of daily cost with the daily task count as a line, drawn as our own SVG
// (createElementNS only; labels are text nodes). Each bar carries data-day, data-cost and
// data-tasks so that tests and tooltips can read what it shows.
const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = String(text);
  return el;
}

/** Rounds up to a "nice" axis maximum (1, 2, 5 × 10^n). */
function nice(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * days: [{day: 'YYYY-MM-DD', cost: Number, tasks: Number}], oldest first. Returns an <svg>.
 */
export function dailyChart(days, currency) {
  const W = 760, H = 270, L = 56, R = 44, T = 30, B = 44;
  const iw = W - L - R, ih = H - T - B;
  const maxCost = nice(Math.max(0, ...days.map((d) => d.cost)));
  const maxTasks = Math.max(4, Math.ceil(Math.max(0, ...days.map((d) => d.tasks)) / 4) * 4); // whole ticks
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img',
    'aria-label': 'daily cost and tasks' });
  const title = s('title', {}, `Daily cost (${currency}, bars) and tasks (line)`);
  svg.appendChild(title);
  // grid and axes
  for (let i = 0; i <= 4; i++) {
    const y = T + ih - (ih * i) / 4;
    svg.appendChild(s('line', { x1: L, x2: L + iw, y1: y, y2: y, class: 'grid' }));
    svg.appendChild(s('text', { x: L - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' },
      ((maxCost * i) / 4).toFixed(maxCost < 4 ? 2 : 0)));
    svg.appendChild(s('text', { x: L + iw + 6, y: y + 4, class: 'axis tasks-axis' },
      Math.round((maxTasks * i) / 4)));
  }
  svg.appendChild(s('text', { x: L - 6, y: 12, class: 'axis', 'text-anchor': 'end' }, currency));
  svg.appendChild(s('text', { x: L + iw + 6, y: 12, class: 'axis tasks-axis' }, 'tasks'));
  const n = Math.max(days.length, 1);
  const slot = iw / n, bw = Math.max(2, Math.min(40, slot * 0.7));
  const labelEvery = Math.ceil(n / 10);
  const pts = [];
  days.forEach((d, i) => {
    const x = L + slot * i + (slot - bw) / 2;
    const bh = (ih * d.cost) / maxCost;
    const bar = s('rect', { x, y: T + ih - bh, width: bw, height: Math.max(bh, 0), class: 'bar',
      'data-day': d.day, 'data-cost': d.cost, 'data-tasks': d.tasks });
    bar.appendChild(s('title', {}, `${d.day}: ${d.cost.toFixed(2)} ${currency}, ${d.tasks} tasks`));
    svg.appendChild(bar);
    if (d.cost > 0 && bw >= 14)
      svg.appendChild(s('text', { x: x + bw / 2, y: T + ih - bh - 4, class: 'axis value', 'text-anchor': 'middle' }, d.cost.toFixed(2)));
    const cx = L + slot * i + slot / 2;
    pts.push([cx, T + ih - (ih * d.tasks) / maxTasks]);
    if (i % labelEvery === 0)
      svg.appendChild(s('text', { x: cx, y: T + ih + 16, class: 'axis', 'text-anchor': 'middle' }, d.day.slice(5)));
  });
  if (pts.length) {
    svg.appendChild(s('polyline', { points: pts.map((p) => p.join(',')).join(' '), class: 'tasks-line' }));
    for (const [x, y] of pts) svg.appendChild(s('circle', { cx: x, cy: y, r: 3, class: 'tasks-dot' }));
  }
  svg.appendChild(s('line', { x1: L, x2: L + iw, y1: T + ih, y2: T + ih, class: 'axis-line' }));
  const legend = s('g', { class: 'legend' });
  legend.appendChild(s('rect', { x: L, y: H - 16, width: 10, height: 10, class: 'bar' }));
  legend.appendChild(s('text', { x: L + 14, y: H - 7, class: 'axis' }, `cost (${currency})`));
  legend.appendChild(s('line', { x1: L + 110, x2: L + 130, y1: H - 11, y2: H - 11, class: 'tasks-line' }));
  legend.appendChild(s('text', { x: L + 134, y: H - 7, class: 'axis' }, 'tasks'));
  svg.appendChild(legend);
  return svg;
}
