import { monotonic, type Clock } from '../core/clock.js';
import { SluiceError } from '../core/errors.js';
import { Deadline } from './deadline.js';
import type { Transport } from './options.js';
import { shownName, type KeyHeader } from './key-header.js';
import { originOf } from './pending-task.js';
import type { Send } from './request.js';
import { letGo } from './send.js';

/**
 * How long a probe's verdict on an origin holds (a success there ends it sooner): the failures of tasks out together
 * share one probe, not one each. Short, as a network that goes meanwhile is told from a refusal only by a probe.
 */
const VERDICT_MS = 10_000;
/** How long before an origin's refusal is told again in an 'error' event (a host that refuses some tasks and takes others, once). */
const RETELL_MS = 10 * 60_000;
/** The longest a probe waits for its answer (less when `timeoutMs` is less). */
const PROBE_MS = 5000;
/** The most origins remembered (webhooks to many hosts must not grow memory for ever): the oldest goes first. */
const MAX_ORIGINS = 1000;

/**
 * The origin of the page or worker the outbox runs in (`location.origin`), read from globalThis when called (never at
 * import); undefined where there is none, as in Node, which has no CORS.
 */
export function platformOrigin(): string | undefined {
  const origin = (globalThis as { location?: { origin?: unknown } }).location?.origin;
  return typeof origin === 'string' ? origin : undefined;
}

export interface CorsContext {
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** The header the task id goes in (`OutboxOptions.idempotencyHeader`), named among what the server must allow. */
  readonly keyHeader: KeyHeader;
  readonly transport: () => Transport;
  /** Tells an origin's refusal in an 'error' event (once, then again after `RETELL_MS`). */
  readonly tell: (error: SluiceError) => void;
}

/** The CORS checks of an outbox that runs where there is a `location` (a page, a worker); none elsewhere (Node). */
export function corsChecks(context: CorsContext, page = platformOrigin()): CorsChecks | undefined {
  return page === undefined ? undefined : new CorsChecks(context, page);
}

/**
 * Tells a browser's CORS refusal from a network failure: fetch rejects with the same bare TypeError for both. A
 * request to another origin that failed so is followed by one probe of its URL in mode 'no-cors', which needs no CORS
 * permission: answered, the host is there, and it was the browser's CORS check that refused the request. The probe's
 * answer is never taken for the host answering (it would end its backoff: a storm at a host that refuses every task).
 */
export class CorsChecks {
  readonly #c: CorsContext;
  readonly #page: string;
  /** Each origin's last verdict (true: its host answered the probe) and when it was reached (monotonic). */
  readonly #verdicts = new Map<string, { readonly refused: boolean; readonly at: number }>();
  /** The probes out, one per origin at a time, which every failure meanwhile waits for. */
  readonly #probes = new Map<string, Promise<boolean>>();
  /** When each origin's refusal was last told (monotonic). */
  readonly #told = new Map<string, number>();

  constructor(context: CorsContext, page: string) {
    this.#c = context;
    this.#page = page;
  }

  /**
   * `error`, a network error of the request `sent`, as an 'ERR_CORS' SluiceError (its cause `error`) when the request
   * went to another origin in mode 'cors' and that origin's host answers a probe; else undefined (a network error, as
   * it was). `race` bounds the wait by the attempt's own time limit. `probed`: a probe was answered for it just now
   * (not a verdict kept from before): the network is there.
   */
  async refusal(sent: Send, error: Error, race: (probe: Promise<boolean>) => Promise<boolean>): Promise<{ readonly error: SluiceError; readonly probed: boolean } | undefined> {
    // A URL as stored: absolute, made whole by `new URL` (see `normaliseTask`), so cut, not parsed again.
    const origin = originOf(sent.url);
    // Mode 'no-cors' needs no permission; 'same-origin' is fetch's refusal of any other origin, whatever the server says.
    if (origin === this.#page || (sent.init.mode ?? 'cors') !== 'cors') return undefined;
    const known = this.#verdicts.get(origin);
    const kept = known !== undefined && monotonic(this.#c.clock) - known.at < VERDICT_MS;
    const refused = kept ? known.refused : await race(this.#verdict(origin, sent.url)).catch(() => false);
    if (!refused) return undefined;
    // The origin in backticks: what a production build's short message keeps of it (build/short-messages.mjs).
    const refusal = new SluiceError('ERR_CORS', `CORS refused the request to \`${origin}\`: ${corsMessage(this.#page, sent.init, this.#c.keyHeader)}`, { cause: error });
    const now = monotonic(this.#c.clock);
    const told = this.#told.get(origin);
    if (told === undefined || now - told >= RETELL_MS) {
      remember(this.#told, origin, now);
      this.#c.tell(refusal);
    }
    return { error: refusal, probed: !kept };
  }

  /**
   * A request to `origin` succeeded (undefined: a batch, for no one origin): its verdict holds no longer. When it was
   * told stays: a host that refuses some tasks and takes others is told once per `RETELL_MS`, not at each refusal.
   */
  answered(origin: string | undefined): void {
    if (origin !== undefined) this.#verdicts.delete(origin);
  }

  /** The probe of `origin` out, or a new one: the failures of tasks out together share it. */
  #verdict(origin: string, url: string): Promise<boolean> {
    let probe = this.#probes.get(origin);
    if (probe === undefined) {
      probe = this.#probe(url).then((refused) => {
        this.#probes.delete(origin);
        remember(this.#verdicts, origin, { refused, at: monotonic(this.#c.clock) });
        return refused;
      });
      this.#probes.set(origin, probe);
    }
    return probe;
  }

  /** Whether `url`'s host answers a HEAD in mode 'no-cors' within the probe's time limit; never rejects. */
  #probe(url: string): Promise<boolean> {
    const limit = new Deadline(this.#c.clock, Math.min(this.#c.timeoutMs, PROBE_MS));
    const init: RequestInit = { method: 'HEAD', mode: 'no-cors', credentials: 'omit', cache: 'no-store', signal: limit.signal };
    return limit
      .race(Promise.resolve().then(() => this.#c.transport()(url, init)), letGo)
      .then(
        (response) => (void letGo(response), true),
        () => false,
      )
      .finally(() => limit.end());
  }
}

/**
 * What the origin's CORS answer must allow for the request `init` describes, whose key header is `key` (none: it has
 * none, see `OutboxOptions.idempotencyHeader`): names only, never a header's value (a token of `headers()` must not
 * reach an error's text). A request of GET, HEAD or POST with only CORS-safelisted headers needs no preflight: then
 * only the responses' `Access-Control-Allow-Origin` is asked for.
 */
export function corsMessage(page: string, init: RequestInit, key: KeyHeader): string {
  // Here, not at the top of the module: a production build drops this function (its short message names the origin
  // alone), and these with it.
  // Content types a request may have without a preflight asking for `Content-Type`.
  const safeType = /^(application\/x-www-form-urlencoded|multipart\/form-data|text\/plain)$/;
  // Names a page may send to another origin unasked (fetch's CORS-safelisted ones), the type (said apart), and those
  // the browser sets itself whatever the request says.
  const unasked = /^(accept|accept-language|content-language|content-type|range|content-length|connection|host|keep-alive|transfer-encoding)$/;
  const headers = (init.headers ?? {}) as Record<string, string>;
  // The key first: the one name every request of the outbox carries.
  const names = key === undefined ? [] : [shownName(key)];
  const type = headers['content-type'];
  if (type !== undefined && !safeType.test(type.split(';')[0]!.trim().toLowerCase())) names.push('Content-Type');
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (lower !== key && !unasked.test(lower)) names.push(shownName(lower));
  }
  const method = (init.method ?? 'GET').toUpperCase();
  const asked = [
    ...(names.length > 0 ? [`\`Access-Control-Allow-Headers: ${names.join(', ')}\``] : []),
    ...(['GET', 'HEAD', 'POST'].includes(method) ? [] : [`\`Access-Control-Allow-Methods: ${method}\``]),
  ];
  const credentials = init.credentials === 'include';
  return (
    `its server answers, but not with what lets this page (${page}) make it. ` +
    `Its responses must carry \`Access-Control-Allow-Origin: ${page}\`${credentials ? ' and `Access-Control-Allow-Credentials: true`' : ' (or `*`)'}` +
    (asked.length > 0 ? `, and its answer to the preflight (OPTIONS) ${asked.join(' and ')}. ` : ' (the request needs no preflight: its method and headers are CORS-safelisted). ') +
    'The task is retried on its host\'s backoff, and delivered once the server allows it.'
  );
}

/** Sets `key` anew (last in the map's order), forgetting the oldest past `MAX_ORIGINS`. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_ORIGINS) map.delete(map.keys().next().value!);
}
