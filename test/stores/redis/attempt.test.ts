// A store call's retries through an outage are timed on the monotonic clock: a step of the wall clock (NTP, a laptop
// waking) neither fails the call at once nor keeps it waiting for the step's length.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { attempt } from '../../../src/stores/redis/attempt.js';

afterEach(() => vi.restoreAllMocks());

/** A connection that is down: every call fails as a lost connection does, after 10 ms. */
const down = {
  client: { status: 'reconnecting' },
  connectionError: () => new Error('connect ECONNREFUSED 127.0.0.1:6379'),
  storeClosed: () => false,
};
const failing = () => new Promise<never>((_, reject) => setTimeout(() => reject(new Error('Connection is closed.')), 10));

describe('attempt(): retries for retryMs', () => {
  it.each([
    ['back an hour', -3_600_000],
    ['forward an hour', 3_600_000],
  ])('whatever the wall clock does meanwhile (%s): ERR_STORAGE after retryMs, not at once nor an hour later', async (_, stepMs) => {
    const started = performance.now();
    const real = Date.now.bind(Date);
    const call = attempt('commit queue "q"', 1_500, down, failing);
    setTimeout(() => vi.spyOn(Date, 'now').mockImplementation(() => real() + stepMs), 300);
    const outcome = await Promise.race([call.then(() => 'resolved', (error: { code?: string }) => error.code), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 5_000))]);
    expect(outcome).toBe('ERR_STORAGE');
    expect(performance.now() - started).toBeGreaterThan(1_400);
  });
});

describe('attempt(): a call no answer comes to', () => {
  const silent = () => new Promise<never>(() => undefined);
  const link = (isCluster: boolean) => ({ client: { status: 'ready', isCluster }, connectionError: () => undefined, storeClosed: () => false });

  it("on a Cluster, names a slot being moved too (the client waits out TRYAGAIN and ASK itself, and sluice never sees them)", async () => {
    const error = await attempt('commit queue "q"', 0, link(true), silent).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_STORAGE', message: expect.stringContaining("or the queue's hash slot is being moved to another node") });
    const alone = await attempt('commit queue "q"', 0, link(false), silent).catch((e: unknown) => e);
    expect(alone).toMatchObject({ code: 'ERR_STORAGE', message: expect.stringContaining('paused or overloaded while its connection stays open. ') });
  });
});
