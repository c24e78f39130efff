// @ts-check
// Numbers and dates as people read them on a report.

const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

/**
 * A value for display: large numbers compact (1.2M), small ones exact.
 * @param {unknown} value
 * @param {{ compact?: boolean }} [options]
 */
export function formatValue(value, options = {}) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') {
    if (options.compact !== false && Math.abs(value) >= 10_000) return compact.format(value);
    return Number.isInteger(value) ? whole.format(value) : decimal.format(value);
  }
  return String(value);
}

/**
 * A date label ("Mar 2024") for a time axis.
 * @param {unknown} value
 */
export function formatDate(value) {
  if (typeof value !== 'string') return formatValue(value);
  const date = new Date(`${value.slice(0, 10)}T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return value;
  return date.toLocaleDateString(undefined, { month: 'short', year: 'numeric', timeZone: 'UTC' });
}
