// @ts-check
// Visuals drawn as SVG (and one HTML table) by Vitrine's own code: card, bar, line, donut,
// table. Bars and slices are buttons: choosing one filters the other visuals of the page.

import { formatDate, formatValue } from './format.js';

/**
 * @typedef {import('./api.js').QueryResult} QueryResult
 * @typedef {{ onSelect?: (value: unknown) => void, selected?: unknown[] }} ChartOptions
 */

const SVG = 'http://www.w3.org/2000/svg';
export const PALETTE = ['#2f5bea', '#18a999', '#f28e2b', '#e15759', '#8e6bd6', '#59a14f', '#edc948', '#ff9da7', '#76b7b2', '#9c755f'];

/**
 * @param {string} name
 * @param {Record<string, string | number>} attributes
 * @param {Element} [parent]
 */
function svg(name, attributes, parent) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  parent?.appendChild(element);
  return element;
}

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
function html(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

/** @param {QueryResult} result */
function empty(result) {
  return result.rows.length === 0;
}

/**
 * @param {HTMLElement} target
 * @param {string} message
 */
function showEmpty(target, message = 'No data for this selection') {
  target.replaceChildren(html('p', 'chart-empty', message));
}

/**
 * Totals, one per measure.
 * @param {HTMLElement} target
 * @param {QueryResult} result
 */
export function renderCard(target, result) {
  const row = result.rows[0] ?? [];
  const wrap = html('div', 'card-values');
  // One measure is named by the visual's title already.
  const labelled = result.columns.length > 1;
  result.columns.forEach((column, index) => {
    const item = html('div', 'card-value');
    item.append(html('span', 'card-number', formatValue(row[index])));
    if (labelled) item.append(html('span', 'card-label', column.label));
    item.title = `${column.label}: ${formatValue(row[index], { compact: false })}`;
    wrap.append(item);
  });
  target.replaceChildren(wrap);
}

/**
 * Horizontal bars, largest first, labelled on both sides; each bar is a button.
 * @param {HTMLElement} target
 * @param {QueryResult} result
 * @param {ChartOptions} options
 */
export function renderBar(target, result, options = {}) {
  if (empty(result)) return showEmpty(target);
  const isDate = result.columns[0]?.kind === 'date';
  const grain = result.columns[0]?.grain;
  const max = Math.max(...result.rows.map((row) => Number(row[1]) || 0), 1);
  // Drawn at the size shown, with rows as tall as the text is large (larger on a TV).
  const fontSize = parseFloat(getComputedStyle(target).fontSize) || 14;
  const width = Math.max(280, Math.round(target.clientWidth || 480));
  const row = Math.round(fontSize * 2);
  const labelWidth = Math.round(Math.min(width * 0.32, fontSize * 11));
  const valueWidth = Math.round(fontSize * 4.5);
  const trackWidth = Math.max(40, width - labelWidth - valueWidth - 16);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${row * result.rows.length}`, width, height: row * result.rows.length, class: 'bar-chart', role: 'list' });
  chart.setAttribute('aria-label', result.columns[1]?.label ?? 'values');
  result.rows.forEach((values, index) => {
    const [label, value] = values;
    const selected = Boolean(options.selected?.includes(label));
    const name = isDate ? formatDate(label, grain) : formatValue(label);
    const bar = svg('g', { class: selected ? 'bar-button selected' : 'bar-button', role: 'listitem', transform: `translate(0 ${index * row})` }, chart);
    const tip = svg('title', {}, bar);
    tip.textContent = `${name}: ${formatValue(value, { compact: false })}`;
    svg('rect', { class: 'bar-hit', x: 0, y: 0, width, height: row, rx: 6 }, bar);
    const text = svg('text', { class: 'bar-label', x: 4, y: row / 2, 'dominant-baseline': 'central' }, bar);
    text.textContent = name;
    const top = row * 0.2;
    svg('rect', { class: 'bar-track', x: labelWidth, y: top, width: trackWidth, height: row * 0.6, rx: 4 }, bar);
    const length = Math.max(2, (Number(value) / max) * trackWidth);
    svg('rect', { class: 'bar-fill', x: labelWidth, y: top, width: length, height: row * 0.6, rx: 4, fill: PALETTE[index % PALETTE.length] }, bar);
    const amount = svg('text', { class: 'bar-value', x: width - 4, y: row / 2, 'text-anchor': 'end', 'dominant-baseline': 'central' }, bar);
    amount.textContent = formatValue(value);
    if (options.onSelect) {
      bar.setAttribute('role', 'button');
      bar.setAttribute('tabindex', '0');
      bar.setAttribute('aria-pressed', String(selected));
      bar.setAttribute('aria-label', tip.textContent ?? name);
      bar.addEventListener('click', () => options.onSelect?.(label));
      bar.addEventListener('keydown', (event) => {
        const key = /** @type {KeyboardEvent} */ (event).key;
        if (key === 'Enter' || key === ' ') {
          event.preventDefault();
          options.onSelect?.(label);
        }
      });
    }
  });
  target.replaceChildren(chart);
}

/**
 * A line over time with its area, first and last labels and the range.
 * @param {HTMLElement} target
 * @param {QueryResult} result
 */
export function renderLine(target, result) {
  if (empty(result)) return showEmpty(target);
  // Drawn at the size it is shown, so text keeps its size on any screen.
  const fontSize = parseFloat(getComputedStyle(target).fontSize) || 14;
  const width = Math.max(320, Math.round(target.clientWidth || 640));
  const height = Math.round(Math.min(fontSize * 24, Math.max(200, width * 0.28)));
  const pad = { left: fontSize * 4, right: fontSize, top: fontSize, bottom: fontSize * 2 };
  const values = result.rows.map((row) => Number(row[1]) || 0);
  const max = Math.max(...values, 0);
  const min = Math.min(...values, 0);
  const span = max - min || 1;
  const x = (/** @type {number} */ i) =>
    pad.left + (values.length === 1 ? 0.5 : i / (values.length - 1)) * (width - pad.left - pad.right);
  const y = (/** @type {number} */ v) => pad.top + (1 - (v - min) / span) * (height - pad.top - pad.bottom);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'line-chart', role: 'img' });
  chart.setAttribute('aria-label', `${result.columns[1]?.label ?? ''} over time`);
  for (const fraction of [0, 0.5, 1]) {
    const value = min + span * fraction;
    svg('line', { x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value), class: 'grid' }, chart);
    const label = svg('text', { x: pad.left - fontSize / 2, y: y(value) + fontSize / 3, 'text-anchor': 'end', class: 'axis' }, chart);
    label.textContent = formatValue(value);
  }
  const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`);
  const baseline = y(Math.max(min, 0));
  svg('path', { d: `M${x(0)},${baseline} L${points.join(' L')} L${x(values.length - 1)},${baseline} Z`, class: 'area' }, chart);
  svg('polyline', { points: points.join(' '), class: 'line' }, chart);
  const first = svg('text', { x: pad.left, y: height - fontSize / 2, class: 'axis' }, chart);
  const grain = result.columns[0]?.grain;
  first.textContent = formatDate(result.rows[0][0], grain);
  const last = svg('text', { x: width - pad.right, y: height - fontSize / 2, 'text-anchor': 'end', class: 'axis' }, chart);
  last.textContent = formatDate(result.rows[result.rows.length - 1][0], grain);
  const lastPoint = svg('circle', { cx: x(values.length - 1), cy: y(values[values.length - 1]), r: fontSize / 3, class: 'point' }, chart);
  const tip = svg('title', {}, lastPoint);
  tip.textContent = `${formatDate(result.rows[result.rows.length - 1][0], grain)}: ${formatValue(values[values.length - 1], { compact: false })}`;
  target.replaceChildren(chart);
}

/**
 * Slices of a whole, with a legend; each slice and legend entry selects its value.
 * @param {HTMLElement} target
 * @param {QueryResult} result
 * @param {ChartOptions} options
 */
export function renderDonut(target, result, options = {}) {
  if (empty(result)) return showEmpty(target);
  const total = result.rows.reduce((sum, row) => sum + (Number(row[1]) || 0), 0) || 1;
  const size = 200;
  const radius = 80;
  const chart = svg('svg', { viewBox: `0 0 ${size} ${size}`, class: 'donut-chart', role: 'img' });
  chart.setAttribute('aria-label', result.columns[1]?.label ?? 'share');
  let angle = -Math.PI / 2;
  const legend = html('ul', 'legend');
  result.rows.forEach((row, index) => {
    const [label, value] = row;
    const share = (Number(value) || 0) / total;
    const end = angle + share * Math.PI * 2;
    const large = share > 0.5 ? 1 : 0;
    const point = (/** @type {number} */ a) => `${size / 2 + radius * Math.cos(a)},${size / 2 + radius * Math.sin(a)}`;
    const color = PALETTE[index % PALETTE.length];
    const selected = options.selected?.includes(label);
    const d =
      share >= 0.9999
        ? `M${size / 2},${size / 2 - radius} a${radius},${radius} 0 1,1 0,${2 * radius} a${radius},${radius} 0 1,1 0,${-2 * radius}`
        : `M${point(angle)} A${radius},${radius} 0 ${large} 1 ${point(end)}`;
    const arc = svg('path', { d, stroke: color, class: selected ? 'slice selected' : 'slice' }, chart);
    const tip = svg('title', {}, arc);
    tip.textContent = `${formatValue(label)}: ${formatValue(value, { compact: false })} (${Math.round(share * 100)}%)`;
    if (options.onSelect) arc.addEventListener('click', () => options.onSelect?.(label));
    angle = end;
    const entry = html('li', selected ? 'selected' : '');
    const button = /** @type {HTMLButtonElement} */ (html('button', 'legend-button'));
    button.type = 'button';
    button.disabled = !options.onSelect;
    button.setAttribute('aria-pressed', String(Boolean(selected)));
    const swatch = html('span', 'swatch');
    swatch.style.background = color;
    button.append(swatch, html('span', 'legend-label', formatValue(label)), html('span', 'legend-value', `${Math.round(share * 100)}%`));
    if (options.onSelect) button.addEventListener('click', () => options.onSelect?.(label));
    entry.append(button);
    legend.append(entry);
  });
  const centre = svg('text', { x: size / 2, y: size / 2 + 6, 'text-anchor': 'middle', class: 'donut-total' }, chart);
  centre.textContent = formatValue(total);
  const wrap = html('div', 'donut');
  wrap.append(chart, legend);
  target.replaceChildren(wrap);
}

/**
 * The rows as a table.
 * @param {HTMLElement} target
 * @param {QueryResult} result
 */
export function renderTable(target, result) {
  if (empty(result)) return showEmpty(target);
  const table = html('table', 'data-table');
  const head = html('thead');
  const headRow = html('tr');
  result.columns.forEach((column) => headRow.append(html('th', column.kind === 'text' ? '' : 'num', column.label)));
  head.append(headRow);
  const body = html('tbody');
  for (const row of result.rows) {
    const tr = html('tr');
    row.forEach((value, index) => {
      const kind = result.columns[index]?.kind;
      const grain = result.columns[index]?.grain;
      tr.append(html('td', kind === 'text' ? '' : 'num', kind === 'date' ? formatDate(value, grain) : formatValue(value, { compact: false })));
    });
    body.append(tr);
  }
  table.append(head, body);
  const wrap = html('div', 'table-wrap');
  wrap.append(table);
  if (result.truncated) wrap.append(html('p', 'muted', `Showing the first ${result.rows.length} rows.`));
  target.replaceChildren(wrap);
}

/** @type {Record<string, (target: HTMLElement, result: QueryResult, options: ChartOptions) => void>} */
export const RENDERERS = {
  card: renderCard,
  bar: renderBar,
  line: renderLine,
  donut: renderDonut,
  table: renderTable,
};
