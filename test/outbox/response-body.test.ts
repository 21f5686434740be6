import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_RESPONSE_BYTES } from '../../src/outbox/response-body.js';
import { next, rig, type Rig } from './helpers.js';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

describe("the body of a response judged sent (read for the 'sent' listeners)", () => {
  it('is read to its end: the listener gets all of it', async () => {
    r.server.next({ status: 201, body: 'x'.repeat(100_000) });
    await r.outbox.enqueue({ url: '/x' });
    const sent = next<{ response: Response }>(r.outbox, 'sent');
    await r.outbox.flush();
    expect(await (await sent).response.text()).toHaveLength(100_000);
  });

  // Twice the limit, where an endless body, or a small one that inflates to gigabytes, would hold the attempt forever.
  it('that goes on past MAX_RESPONSE_BYTES is read no further: sent, cancelled, and the listener told it was cut', async () => {
    let pulled = 0;
    let cancelled = false;
    const endless = async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull: (controller) => {
            if (pulled >= 2 * MAX_RESPONSE_BYTES) return controller.close();
            pulled += 1 << 20;
            controller.enqueue(new Uint8Array(1 << 20));
          },
          cancel: () => void (cancelled = true),
        }),
        { status: 200 },
      );
    await r.reopen({ fetch: endless });
    await r.outbox.enqueue({ url: '/x' });
    const sent = next<{ response: Response }>(r.outbox, 'sent');
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, retried: 0 });
    expect(cancelled).toBe(true);
    expect(pulled).toBeLessThanOrEqual(MAX_RESPONSE_BYTES + 2 * (1 << 20));
    const reader = (await sent).response.body!.getReader();
    let read = 0;
    const error = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        read += value.length;
      }
    })().catch((e: unknown) => e);
    expect(read).toBe(MAX_RESPONSE_BYTES);
    expect(error).toMatchObject({ code: 'ERR_ITEM_TOO_LARGE' });
  });
});
