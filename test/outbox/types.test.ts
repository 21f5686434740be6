import { describe, expectTypeOf, it } from 'vitest';
import { BodyRef } from '../../src/outbox/body.js';
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

  it('lets no app build a BodyRef (one would name any stored body by its key), nor shows what it stands for', () => {
    // @ts-expect-error the constructor is private
    expectTypeOf(() => new BodyRef({ key: 'k', size: 1 }, undefined)).toBeFunction();
    expectTypeOf<keyof typeof BodyRef>().toEqualTypeOf<'prototype'>();
    expectTypeOf<keyof BodyRef>().toEqualTypeOf<'size' | 'type' | 'toJSON'>();
  });

  // Before, the option was `typeof fetch`: the Response-like fake README allows did not compile.
  it('takes as `fetch` the platform fetch, a wrapper of it, or a fake resolving with a Response-like answer', () => {
    expectTypeOf(fetch).toExtend<NonNullable<OutboxOptions['fetch']>>();
    expectTypeOf((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init)).toExtend<NonNullable<OutboxOptions['fetch']>>();
    const fake = async (url: string | Request) => ({ status: String(url).length > 0 ? 204 : 500, headers: { get: () => null }, arrayBuffer: async () => new ArrayBuffer(0) });
    expectTypeOf(fake).toExtend<NonNullable<OutboxOptions['fetch']>>();
    // @ts-expect-error an answer with no status is none
    const noStatus: NonNullable<OutboxOptions['fetch']> = async () => ({ headers: { get: () => null }, arrayBuffer: async () => new ArrayBuffer(0) });
    expectTypeOf(noStatus).toBeFunction();
  });

  it('types event listeners by name', () => {
    const listen = (outbox: Outbox) =>
      outbox.addEventListener('sent', (event) => {
        expectTypeOf(event.detail).toEqualTypeOf<SentDetail>();
      });
    expectTypeOf(listen).toBeFunction();
  });
});
