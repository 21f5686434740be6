import { describe, expect, it } from 'vitest';
import { backoffDelay, grown, probeGap } from '../../src/outbox/backoff.js';
import { defaultClassify } from '../../src/outbox/classify.js';
import { parseRetryAfter } from '../../src/outbox/retry-after.js';

const policy = { initialDelayMs: 1000, maxDelayMs: 300_000, factor: 2 };
const task = { url: 'http://x.test/' };

describe('backoffDelay()', () => {
  it('takes a draw outside [0, 1) as the nearest inside, and one that is no number as the longest wait: never past maxDelayMs, never NaN', () => {
    const policy = { initialDelayMs: 1000, maxDelayMs: 5000, factor: 2 };
    const draws: [unknown, number][] = [[-1, 0], [1.5, 2000], [Infinity, 2000], [NaN, 2000], ['x', 2000], [undefined, 2000]];
    for (const [draw, delay] of draws) expect(backoffDelay(policy, 2, () => draw as number), String(draw)).toBe(delay);
  });

  it('draws uniformly below initial * factor^(attempts-1): full jitter', () => {
    expect(backoffDelay(policy, 1, () => 0.999)).toBe(999);
    expect(backoffDelay(policy, 3, () => 0.5)).toBe(2000);
    expect(backoffDelay(policy, 3, () => 0)).toBe(0);
  });

  it('never exceeds maxDelayMs, however many attempts', () => {
    expect(backoffDelay(policy, 60, () => 0.999999)).toBeLessThan(300_000);
    expect(backoffDelay(policy, 60, () => 0.5)).toBe(150_000);
  });

  it('stays 0 with initialDelayMs 0, however many attempts (past factor^n = Infinity it was NaN)', () => {
    for (const attempts of [1, 1024, 1025, 5000]) expect(backoffDelay({ ...policy, initialDelayMs: 0 }, attempts, () => 0.5)).toBe(0);
    expect(backoffDelay({ ...policy, initialDelayMs: 0, factor: 10 }, 400, () => 0.5)).toBe(0);
    // The probes' gap while offline grows so too: NaN from the 1 025th failure in a row, and no probe came again.
    expect(grown({ ...policy, initialDelayMs: 0 }, 2000)).toBe(0);
  });
});

describe('probeGap()', () => {
  it('draws from half the growth to one and a half: outboxes that went offline together probe apart', () => {
    expect(probeGap(policy, 3, () => 0)).toBe(2000);
    expect(probeGap(policy, 3, () => 0.5)).toBe(4000);
    expect(probeGap(policy, 3, () => 0.999)).toBe(5996);
    // Five draws, five times: before, every one 4 000.
    expect(new Set([0.1, 0.3, 0.5, 0.7, 0.9].map((draw) => probeGap(policy, 3, () => draw))).size).toBe(5);
  });

  it('is 1 s at least, whatever the policy and the draw, and the draw is kept inside [0, 1]', () => {
    expect(probeGap(policy, 1, () => 0)).toBe(1000);
    expect(probeGap({ ...policy, initialDelayMs: 0 }, 5, () => 0.9)).toBe(1000);
    expect(probeGap(policy, 60, () => 0.5)).toBe(300_000);
    for (const draw of [NaN, Infinity, 'x']) expect(probeGap(policy, 60, () => draw as number), String(draw)).toBe(450_000);
    expect(probeGap(policy, 3, () => -1)).toBe(2000);
  });
});

describe('parseRetryAfter()', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('reads an HTTP date, relative to now, and a past date as 0', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 11:00:00 GMT', now)).toBe(0);
    // The obsolete forms a recipient must read too (RFC 9110 §5.6.7); asctime's has no zone and is GMT.
    expect(parseRetryAfter('Thursday, 01-Jan-26 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Thu Jan  1 12:00:30 2026', now)).toBe(30_000);
  });

  it("reads an HTTP date against the response's Date (the server's clock) when it is one, else against now", () => {
    const date = 'Thu, 01 Jan 2026 11:50:00 GMT';
    expect(parseRetryAfter('Thu, 01 Jan 2026 11:51:00 GMT', now, date)).toBe(60_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:30 GMT', now, 'yesterday')).toBe(30_000);
    expect(parseRetryAfter('120', now, date)).toBe(120_000);
  });

  it('ignores what it cannot read, so the computed backoff applies', () => {
    for (const value of [null, undefined, '', '-5', '1.5', 'soon-ish', '12 34']) expect(parseRetryAfter(value, now)).toBeUndefined();
    // What Date.parse would read as dates (a year, a century, months away) is no HTTP date.
    for (const value of ['next 2027', 'retry 3000', 'May 2026', '2026-03-01', 'Thu, 01 Jan 2026']) expect(parseRetryAfter(value, now), value).toBeUndefined();
  });
});

describe('defaultClassify()', () => {
  const status = (s: number) => defaultClassify(new Response(null, { status: s }), task);

  it('counts 2xx as sent', () => {
    for (const s of [200, 201, 202, 204]) expect(status(s)).toBe('sent');
  });

  it('retries 408, 425, 429 and 5xx', () => {
    for (const s of [408, 425, 429, 500, 502, 503, 504]) expect(status(s)).toBe('retry');
  });

  it('sends other statuses to dead (a 400 fails the same way every time)', () => {
    for (const s of [400, 401, 403, 404, 409, 410, 422]) expect(status(s)).toBe('dead');
    // Past 5xx there is no class of statuses at all (Node's fetch passes 600 to 999 on): nothing says retry.
    // (A Response cannot be made with those here, but Node's fetch makes them.)
    for (const s of [600, 799, 999]) expect(defaultClassify({ status: s } as Response, task)).toBe('dead');
  });

  it('retries network errors and timeouts', () => {
    expect(defaultClassify(new TypeError('fetch failed'), task)).toBe('retry');
    expect(defaultClassify(new DOMException('late', 'TimeoutError'), task)).toBe('retry');
  });
});
