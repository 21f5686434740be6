import { describe, expect, it } from 'vitest';
import { after, monotonic, systemClock } from '../../src/core/clock.js';
import { FakeClock } from '../support/fake-clock.js';

const DAY = 86_400_000;

describe('after()', () => {
  it('waits a delay past what a timer holds (30 days) in a few steps, without a busy loop', () => {
    const clock = new FakeClock();
    let called = 0;
    after(clock, 30 * DAY, () => called++);
    clock.advance(30 * DAY - 1);
    expect(called).toBe(0);
    clock.advance(1);
    expect(called).toBe(1);
    // 2^31 - 1 ms per timer: two timers for 30 days, not millions.
    expect(clock.fired).toBe(2);
  });

  it('a timer armed directly with such a delay fires at once, as real ones do (what after() guards against)', () => {
    const clock = new FakeClock();
    let called = 0;
    clock.setTimeout(() => called++, 30 * DAY);
    clock.advance(1);
    expect(called).toBe(1);
  });

  it('follows the monotonic clock: a wall-clock step neither fires it early nor holds it back', () => {
    const clock = new FakeClock();
    let called = 0;
    after(clock, 60_000, () => called++);
    clock.step(DAY);
    clock.advance(59_999);
    expect(called).toBe(0);
    clock.step(-2 * DAY);
    clock.advance(1);
    expect(called).toBe(1);
  });

  it('arms again for what is left when a timer fires early', () => {
    let now = 0;
    const timers: (() => void)[] = [];
    const early = { now: () => now, setTimeout: (fn: () => void) => timers.push(fn), clearTimeout: () => undefined };
    let called = 0;
    after(early, 1000, () => called++);
    now = 990;
    timers.shift()!();
    expect(called).toBe(0);
    now = 1000;
    timers.shift()!();
    expect(called).toBe(1);
  });

  it('cancels', () => {
    const clock = new FakeClock();
    let called = 0;
    const cancel = after(clock, 30 * DAY, () => called++);
    clock.advance(25 * DAY);
    cancel();
    clock.advance(10 * DAY);
    expect(called).toBe(0);
    expect(clock.pending).toBe(0);
  });
});

describe('monotonic()', () => {
  it("reads the clock's monotonic reading, or its wall clock when it has none", () => {
    const clock = new FakeClock();
    clock.step(5000);
    expect(monotonic(clock)).toBe(0);
    expect(monotonic({ now: () => 42, setTimeout: () => 0, clearTimeout: () => undefined })).toBe(42);
    expect(monotonic(systemClock)).toBeGreaterThan(0);
  });
});
