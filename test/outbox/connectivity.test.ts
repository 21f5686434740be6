import { describe, expect, it } from 'vitest';
import { eventConnectivity, platformConnectivity } from '../../src/outbox/connectivity.js';

describe('platformConnectivity()', () => {
  it('is undefined in Node, which has no online events: sends decide there', () => {
    expect(platformConnectivity()).toBeUndefined();
  });
});

describe('eventConnectivity()', () => {
  it('reads navigator.onLine as a hint and reports online/offline events until unsubscribed', () => {
    const target = Object.assign(new EventTarget(), { navigator: { onLine: false } });
    const c = eventConnectivity(target);
    expect(c.online).toBe(false);
    const seen: boolean[] = [];
    const stop = c.subscribe((online) => seen.push(online));
    target.dispatchEvent(new Event('online'));
    target.dispatchEvent(new Event('offline'));
    stop();
    target.dispatchEvent(new Event('online'));
    expect(seen).toEqual([true, false]);
  });
});
