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
 * A date as the period it stands for: a visual grouped by a time grain answers each period's
 * first day, shown as "2025", "Q1 2025", "Mar 2025", "week of 3 Mar 2025" or "3 Mar 2025";
 * a date without a grain is shown as its day.
 * @param {unknown} value
 * @param {string} [grain] `day`, `week`, `month`, `quarter` or `year`
 */
export function formatDate(value, grain) {
  if (typeof value !== 'string') return formatValue(value);
  const date = new Date(`${value.slice(0, 10)}T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return value;
  /** @param {Intl.DateTimeFormatOptions} options */
  const show = (options) => date.toLocaleDateString(locale, { ...options, timeZone: 'UTC' });
  const year = date.getUTCFullYear();
  switch (grain) {
    case 'year':
      return String(year);
    case 'quarter':
      return `Q${Math.floor(date.getUTCMonth() / 3) + 1} ${year}`;
    case 'month':
      return show({ month: 'short', year: 'numeric' });
    case 'week':
      return `week of ${show({ day: 'numeric', month: 'short', year: 'numeric' })}`;
    default:
      return show({ day: 'numeric', month: 'short', year: 'numeric' });
  }
}
