// Type declarations of Vitrine's embedding SDK (vitrine-embed.js).

/** The answer of Vitrine's `POST /api/v1/embed/tokens`, passed on by the host's backend. */
export interface TokenAnswer {
  token: string;
  tokenId: string;
  expiration: string;
  expiresInSeconds: number;
  refresh: { everySeconds: number | null; beforeExpirySeconds: number };
}

/** Vitrine's error answer, passed on by the host's backend when it refuses or Vitrine does. */
export interface ErrorAnswer {
  error: { code: string; message?: string };
  /** The HTTP status, when the host wants to say it; 403 is assumed for a refusal. */
  status?: number;
}

/** One filter: the rows whose `column` is one of `values`. */
export interface Filter {
  column: string;
  values: (string | number | boolean)[];
}

export interface EmbedOptions {
  /** Vitrine's address, such as `https://bi.example.com`. */
  url: string;
  /** The report to show. */
  reportId: string;
  /**
   * Asks the host's own backend for a token for the signed-in user. Resolve with Vitrine's
   * token answer, or with an error answer to refuse (the report ends with `accessEnded`);
   * throw when the backend cannot be reached (the report retries with backoff).
   */
  fetchToken: () => Promise<TokenAnswer | ErrorAnswer>;
  /** The page to open first (a page id); the report's first page otherwise. */
  page?: string;
  /** Filters of the first page. */
  filters?: Filter[];
  /** `tv`: a wallboard, large type, pages rotating every `rotateSeconds`. */
  mode?: 'normal' | 'tv';
  theme?: 'light' | 'dark';
  /** A BCP 47 language tag for numbers and dates, such as `de-DE`; the browser's otherwise. */
  locale?: string;
  /** TV mode: switch to the next page this often (5 to 3600 seconds). */
  rotateSeconds?: number;
  /** Re-read the data this often (1 to 1440 minutes), besides the live updates. */
  refreshMinutes?: number;
  /** The frame's accessible title until the report's name is known. */
  title?: string;
  /** Size the frame's height to the report (default true); false fills the element. */
  autoSize?: boolean;
}

export interface PageInfo {
  id: string;
  title: string;
  active: boolean;
}

export interface VitrineErrorDetail {
  code: string;
  message: string;
}

export interface EventDetails {
  loaded: { reportId: string; name: string; pages: PageInfo[] };
  rendered: { page: string };
  error: VitrineErrorDetail;
  pageChanged: { page: string; title: string };
  filtersChanged: { page: string; filters: Filter[] };
  dataSelected: { page: string; visual: string; column: string; value: string | number | boolean; filters: Filter[] };
  tokenRefreshed: { reason: string; tokenId: string; expiration: string };
  capacity: { state: 'paused' | 'starting' | 'running'; code?: string; message?: string };
  accessEnded: VitrineErrorDetail;
}

export interface EmbeddedReport {
  /** The iframe showing the report. */
  readonly frame: HTMLIFrameElement;
  /** Listens to an event; returns a function that stops listening. */
  on<K extends keyof EventDetails>(name: K, handler: (detail: EventDetails[K]) => void): () => void;
  off<K extends keyof EventDetails>(name: K, handler: (detail: EventDetails[K]) => void): void;
  /** Replaces the current page's filters; resolves once the visuals show them. */
  setFilters(filters: Filter[]): Promise<Filter[]>;
  /** Opens a page by id; resolves once it is drawn. */
  setPage(page: string): Promise<PageInfo>;
  getPages(): Promise<PageInfo[]>;
  getFilters(): Promise<Filter[]>;
  /** Re-reads the data of the current page. */
  refresh(): Promise<void>;
  /** Removes the frame and stops everything. */
  destroy(): void;
}

/** A refusal or failure with one of Vitrine's stable error codes. */
export class VitrineError extends Error {
  constructor(code: string, message: string);
  readonly code: string;
}

export function embed(element: HTMLElement, options: EmbedOptions): EmbeddedReport;
