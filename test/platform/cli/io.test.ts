import { describe, expect, it } from 'vitest';
import { onSignals } from '../../../src/platform/cli/io.js';

describe('onSignals()', () => {
  it('hears the first signal of either kind only: a second, of the same kind or the other, is left to end the process', () => {
    for (const first of ['SIGINT', 'SIGTERM'] as const) {
      const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
      const heard: string[] = [];
      const unheard = onSignals((signal) => heard.push(signal));
      process.emit(first, first);
      // Nothing of ours listens now: the second signal meets the default, which ends the process.
      expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
      expect(heard).toEqual([first]);
      unheard();
    }
  });

  it('hears nothing once the function it returned was called', () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const unheard = onSignals(() => expect.unreachable());
    expect(process.listenerCount('SIGINT')).toBe(before[0]! + 1);
    unheard();
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
  });
});
