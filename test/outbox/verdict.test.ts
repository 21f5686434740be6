import { describe, expect, it } from 'vitest';
import { defaultClassify } from '../../src/outbox/classify.js';
import { verdictFor, type Policy } from '../../src/outbox/verdict.js';

const task = { url: 'https://api.test/x', id: 'k' };
const policy: Policy = {
  classify: defaultClassify,
  retry: { initialDelayMs: 1000, maxDelayMs: 300_000, factor: 2, maxAttempts: 5, maxAgeMs: 60_000 },
  random: () => 0.5,
};
const NOW = 1_000_000;
const at = (attempts: number, age = 0) => ({ attempts, createdAt: NOW - age, now: NOW });
const response = (status: number, headers: Record<string, string> = {}) => new Response(null, { status, headers });

describe('verdictFor()', () => {
  it('a 2xx is sent', () => {
    expect(verdictFor(response(204), task, policy, at(1))).toEqual({ kind: 'sent' });
  });

  it('a 5xx is retried after a full-jitter backoff; the server is reachable', () => {
    expect(verdictFor(response(503), task, policy, at(1))).toEqual({ kind: 'retry', delayMs: 500, cause: 'server' });
    expect(verdictFor(response(503), task, policy, at(3))).toEqual({ kind: 'retry', delayMs: 2000, cause: 'server' });
  });

  it('a network error is retried, and says the network failed it (a success elsewhere ends its wait)', () => {
    expect(verdictFor(new TypeError('fetch failed'), task, policy, at(1))).toEqual({ kind: 'retry', delayMs: 500, cause: 'network' });
  });

  it('Retry-After wins over the backoff, in seconds or as a date', () => {
    expect(verdictFor(response(429, { 'retry-after': '7' }), task, policy, at(1))).toEqual({ kind: 'retry', delayMs: 7000, cause: 'server' });
    const date = new Date(NOW + 50_000).toUTCString();
    expect(verdictFor(response(503, { 'retry-after': date }), task, policy, at(1))).toMatchObject({ kind: 'retry', delayMs: 50_000 });
  });

  it('a Retry-After of no wait (0, a date past) is taken for none: the backoff applies, never a request a turn', () => {
    expect(verdictFor(response(503, { 'retry-after': '0' }), task, policy, at(1))).toEqual({ kind: 'retry', delayMs: 500, cause: 'server' });
    const past = new Date(NOW - 50_000).toUTCString();
    expect(verdictFor(response(503, { 'retry-after': past }), task, policy, at(3))).toEqual({ kind: 'retry', delayMs: 2000, cause: 'server' });
  });

  it('a Retry-After whose wait would end past maxAgeMs makes the task dead as "max-age" now', () => {
    expect(verdictFor(response(503, { 'retry-after': '59' }), task, policy, at(1))).toMatchObject({ kind: 'retry', delayMs: 59_000 });
    expect(verdictFor(response(503, { 'retry-after': '60' }), task, policy, at(1))).toEqual({ kind: 'dead', reason: 'max-age' });
    expect(verdictFor(response(503, { 'retry-after': '30' }), task, policy, at(1, 30_000))).toEqual({ kind: 'dead', reason: 'max-age' });
    const year = new Date(NOW + 365 * 86_400_000).toUTCString();
    expect(verdictFor(response(429, { 'retry-after': year }), task, policy, at(1))).toEqual({ kind: 'dead', reason: 'max-age' });
  });

  it('a Retry-After of more digits than a number holds is a finite wait (a hundred years at most), never Infinity', () => {
    const forever = { ...policy, retry: { ...policy.retry, maxAgeMs: Infinity } };
    const verdict = verdictFor(response(503, { 'retry-after': '9'.repeat(400) }), task, forever, at(1));
    expect(verdict).toEqual({ kind: 'retry', delayMs: 100 * 365 * 86_400_000, cause: 'server' });
    expect(verdictFor(response(503, { 'retry-after': '9'.repeat(400) }), task, policy, at(1))).toEqual({ kind: 'dead', reason: 'max-age' });
  });

  it('a status classify calls dead is dead as "status"; a network error it calls dead is "network"', () => {
    expect(verdictFor(response(400), task, policy, at(1))).toEqual({ kind: 'dead', reason: 'status' });
    expect(verdictFor(new TypeError('x'), task, { ...policy, classify: () => 'dead' }, at(1))).toEqual({ kind: 'dead', reason: 'network' });
  });

  it('a retry past maxAttempts or maxAgeMs is dead instead', () => {
    expect(verdictFor(response(500), task, policy, at(5))).toEqual({ kind: 'dead', reason: 'max-attempts' });
    expect(verdictFor(response(500), task, policy, at(1, 60_000))).toEqual({ kind: 'dead', reason: 'max-age' });
  });

  it('a classify that returns no verdict (a missing return, a Promise) is ERR_INVALID_OPTION naming it, never a silent retry', () => {
    for (const [returned, mention] of [[undefined, 'got undefined'], ['ok', 'got "ok"'], [Promise.resolve('sent'), 'synchronously']] as const) {
      const bad = { ...policy, classify: () => returned as unknown as 'sent' };
      expect(() => verdictFor(response(200), task, bad, at(1))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining(mention) }));
    }
  });

  it('hands classify the outcome and the task', () => {
    const seen: unknown[] = [];
    verdictFor(response(418), task, { ...policy, classify: (o, t) => (seen.push([o instanceof Response && o.status, t.id]), 'sent') }, at(1));
    expect(seen).toEqual([[418, 'k']]);
  });
});
