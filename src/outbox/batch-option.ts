import { check, defined, invalid, limit, optionsObject } from '../core/validate.js';
import { badPort, hasCredentials, otherHost } from './http-checks.js';
import { httpUrl } from './option-rules.js';
import type { BatchOptions } from './options.js';

/** Refuses a URL fetch would refuse: one with credentials, or on a bad port (not echoed: a password is the point). */
export function fetchable(option: string, url: URL): void {
  if (hasCredentials(url)) invalid(option, 'a URL without a user name or password', '(a URL with credentials)');
  const port = badPort(url);
  if (port) invalid(option, port, url.origin);
}

/** `OutboxOptions.batch` with its defaults, checked against `baseUrl`; undefined when not given. */
export function resolveBatch(given: BatchOptions | undefined, baseUrl: string | undefined): Required<BatchOptions> | undefined {
  if (given === undefined) return undefined;
  // An empty url would be the base URL itself: surely a slip, not where batches are meant to go.
  const batch = { maxItems: 100, maxBytes: 1 << 20, ...defined(optionsObject(given, 'batch', ['url', 'maxItems', 'maxBytes'])) } as Required<BatchOptions>;
  check(batch, { url: ['a non-empty URL (where batches go)', (v) => typeof v === 'string' && v !== ''] }, 'batch.');
  check(batch, { url: httpUrl(baseUrl), maxItems: limit(1), maxBytes: limit(1) }, 'batch.');
  const other = otherHost(batch.url, baseUrl);
  if (other) invalid('batch.url', `a path on the host of \`baseUrl\`, or a whole URL (https://…) for another host; it names the host ${other}`, batch.url);
  // Every batch would fail as if the network were down.
  fetchable('batch.url', new URL(batch.url, baseUrl));
  return batch;
}
