import { afterEach, beforeEach, expect, it } from 'vitest';
import { backgroundSync } from '../../src/sw.js';
import { rig, type Rig } from '../outbox/helpers.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

for (const trigger of ['message', 'sync'] as const) {
  it(`a ${trigger} while the server stays unreachable: one try, not a storm of flushes`, async () => {
    await r.server.down();
    await r.outbox.enqueue({ url: '/x', id: 'x' });
    await r.outbox.flush();
    expect(r.outbox.online).toBe(false);
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });
    const stop = backgroundSync(r.outbox, { tag: 'api', scope });
    for (let i = 0; i < 5; i++) await tick();
    const before = r.calls.length;
    const event = Object.assign(new Event(trigger), { tag: 'api', data: { type: 'sluice:flush' }, waitUntil: (p: Promise<unknown>) => void p.catch(() => undefined) });
    scope.dispatchEvent(event);
    for (let i = 0; i < 300; i++) await tick();
    const sends = r.calls.length - before;
    stop();
    expect(sends).toBeLessThanOrEqual(2);
    expect(r.events('online').length).toBeLessThanOrEqual(1);
  });
}
