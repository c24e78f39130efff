// @ts-check
// Numbers and dates as people read them on a report.

/** @type {string | undefined} the language of numbers and dates; the browser's when unset */
let locale;
let compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
let whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
let decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

/**
 * Formats numbers and dates for `tag` (a BCP 47 language tag such as `de-DE`); an unknown or
 * malformed tag keeps the browser's language.
 * @param {unknown} tag
 */
export function setLocale(tag) {
  if (typeof tag !== 'string') return;
  try {
    [locale] = Intl.getCanonicalLocales(tag);
  } catch {
    return;
  }
  compact = new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 });
  whole = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  decimal = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
}

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
  return date.toLocaleDateString(locale, { month: 'short', year: 'numeric', timeZone: 'UTC' });
}
