import type { Rule } from '../core/validate.js';
import { TOKEN } from './http-checks.js';

/**
 * The header a task's id travels under (`OutboxOptions.idempotencyHeader`): its name, lower-cased as stored headers'
 * names are, or undefined for none. Every request of a task carries it (a batch: the batch's key), over any header
 * of that name the task or `headers()` has, so that a server sees one key across retries.
 */
export type KeyHeader = string | undefined;

/**
 * Names the key may not go under: fetch's forbidden request headers (https://fetch.spec.whatwg.org/#forbidden-request-header:
 * browsers drop them silently, Node's fetch refuses some), the method overrides it forbids for some values, those
 * sluice reads itself ('Sluice-Group' names a live request's group, 'Sluice-Queued' a stored one's id), and the
 * content type, which the body decides.
 */
const REFUSED = /^(accept-(charset|encoding)|access-control-request-(headers|method)|connection|content-(length|type)|cookie2?|date|dnt|expect|host|keep-alive|origin|referer|set-cookie|te|trailer|transfer-encoding|upgrade|via|x-(http-)?method(-override)?|sluice-(group|queued)|(proxy|sec)-.*)$/i;

/** The rule of `OutboxOptions.idempotencyHeader`. */
export const keyHeaderRule: Rule = [
  'false or a header name fetch lets a page set (not Content-Type, Sluice-Group, Sluice-Queued, nor one fetch forbids: Content-Length, Host, Cookie, Origin, Proxy-*, Sec-*…)',
  (v) => v === false || (typeof v === 'string' && TOKEN.test(v) && !REFUSED.test(v)),
];

/** The resolved key header of a valid `idempotencyHeader`. */
export function keyHeaderOf(option: string | false): KeyHeader {
  return option === false ? undefined : option.toLowerCase();
}

/** A lower-cased header name as messages show it: 'x-request-id' as 'X-Request-Id'. */
export function shownName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

