import { describe, expectTypeOf, it } from 'vitest';
import type { DeadLetter, DeadReason } from '../../src/outbox/dead-letters.js';
import type { FlushResult, SentDetail } from '../../src/outbox/events.js';
import type { OutboxOptions } from '../../src/outbox/options.js';
import { Outbox } from '../../src/outbox/outbox.js';
import type { HttpTask } from '../../src/outbox/task.js';

describe('Outbox types', () => {
  it('matches the API contract', () => {
    expectTypeOf(Outbox.open).parameter(0).toEqualTypeOf<OutboxOptions>();
    expectTypeOf(Outbox.open).returns.resolves.toEqualTypeOf<Outbox>();
    expectTypeOf<Outbox['enqueue']>().parameter(0).toEqualTypeOf<HttpTask | Request>();
    expectTypeOf<Outbox['enqueue']>().returns.resolves.toBeString();
    expectTypeOf<Outbox['enqueueMany']>().returns.resolves.toEqualTypeOf<string[]>();
    expectTypeOf<Outbox['flush']>().returns.resolves.toEqualTypeOf<FlushResult>();
    expectTypeOf<Outbox['fetch']>().returns.resolves.toEqualTypeOf<Response>();
    expectTypeOf<Outbox['online']>().toBeBoolean();
    expectTypeOf<Awaited<ReturnType<Outbox['dead']['list']>>>().toEqualTypeOf<DeadLetter[]>();
    expectTypeOf<DeadLetter['reason']>().toEqualTypeOf<DeadReason>();
    expectTypeOf<OutboxOptions['partitions']>().toEqualTypeOf<number | undefined>();
  });

  it('types event listeners by name', () => {
    const listen = (outbox: Outbox) =>
      outbox.addEventListener('sent', (event) => {
        expectTypeOf(event.detail).toEqualTypeOf<SentDetail>();
      });
    expectTypeOf(listen).toBeFunction();
  });
});
