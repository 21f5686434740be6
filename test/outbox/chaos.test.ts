import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeadReason } from '../../src/outbox/dead-letters.js';
import { Outbox } from '../../src/outbox/outbox.js';
import type { RedirectPolicy } from '../../src/outbox/redirects.js';
import type { HttpTask } from '../../src/outbox/task.js';
import { FileStore } from '../../src/stores/fs/file-store.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import type { Store } from '../../src/core/store.js';
import { SluiceError } from '../../src/core/errors.js';
import { FaultyStore } from '../support/faulty-store.js';
import { FakeClock } from '../support/fake-clock.js';
import { describeRedis } from '../support/redis-suite.js';
import { FaultServer, type Fault } from './fault-server.js';

// `npm test` runs a few cases; run many with e.g. `SLUICE_PROPERTY_RUNS=500 npx vitest run test/outbox/chaos.test.ts`.
const runs = Number(process.env.SLUICE_PROPERTY_RUNS ?? 15);
/** A failure's case again: SLUICE_PROPERTY_SEED and SLUICE_PROPERTY_PATH as fast-check printed them. */
const replay = process.env.SLUICE_PROPERTY_SEED ? { seed: Number(process.env.SLUICE_PROPERTY_SEED), path: process.env.SLUICE_PROPERTY_PATH } : {};
const TIMEOUT_MS = 5_000;
const MAX_ATTEMPTS = 4;
/** Redirects followed within one attempt (`MAX_HOPS` in the source: this test states it, not imports it). */
const HOPS = 5;

/**
 * What a server may do with one request, and what the default policy makes of it: 'sent', 'retry', 'dead' (as
 * 'status'), or a redirect within the origin ('here') or to another ('away').
 */
type Effect = 'sent' | 'retry' | 'dead' | 'here' | 'away';
const answers: Record<string, { fault: () => Fault; effect: Effect }> = {
  200: { fault: () => ({}), effect: 'sent' },
  201: { fault: () => ({ status: 201, body: 'made' }), effect: 'sent' },
  204: { fault: () => ({ status: 204 }), effect: 'sent' },
  // No whole response, so not sent (the server saw it: the Idempotency-Key is what makes the next one harmless).
  'a 200 whose body stalls': { fault: () => ({ status: 200, stallBody: 'half' }), effect: 'retry' },
  500: { fault: () => ({ status: 500, body: 'oops' }), effect: 'retry' },
  503: { fault: () => ({ status: 503 }), effect: 'retry' },
  408: { fault: () => ({ status: 408 }), effect: 'retry' },
  'a 429 asking for 2 s': { fault: () => ({ status: 429, headers: { 'retry-after': '2' } }), effect: 'retry' },
  'a 429 asking for a date': { fault: () => ({ status: 429, headers: { 'retry-after': new Date(Date.now() + 3_000).toUTCString() } }), effect: 'retry' },
  'a 429 asking for nonsense': { fault: () => ({ status: 429, headers: { 'retry-after': 'soon' } }), effect: 'retry' },
  'a 503 whose body stalls': { fault: () => ({ status: 503, stallBody: 'x' }), effect: 'retry' },
  'a reset': { fault: () => ({ reset: true }), effect: 'retry' },
  'no answer': { fault: () => ({ hang: true }), effect: 'retry' },
  400: { fault: () => ({ status: 400, body: 'no' }), effect: 'dead' },
  410: { fault: () => ({ status: 410 }), effect: 'dead' },
  'a 302 without Location': { fault: () => ({ status: 302 }), effect: 'dead' },
  'a 307 within the origin': { fault: () => ({ status: 307, headers: { location: '/moved' } }), effect: 'here' },
  'a 303 within the origin': { fault: () => ({ status: 303, headers: { location: '/seen' } }), effect: 'here' },
  'a 301 within the origin': { fault: () => ({ status: 301, headers: { location: '/there' } }), effect: 'here' },
  'a 308 to another origin': { fault: () => ({ status: 308, headers: { location: 'http://localhost:9/elsewhere' } }), effect: 'away' },
};

/**
 * How a task must end, from its script alone: each attempt reads answers until one is not a redirect followed, an
 * answer past the script is a 200, and the attempts are counted up to `MAX_ATTEMPTS`.
 */
function expectedEnd(script: readonly string[], redirect: RedirectPolicy): 'sent' | DeadReason {
  let next = 0;
  for (let attempt = 1; ; attempt++) {
    let effect: Effect;
    for (let hops = 0; ; hops++) {
      effect = answers[script[next++] ?? 200]!.effect;
      if (effect !== 'here' && effect !== 'away') break;
      if (redirect === 'error' || effect === 'away' || hops >= HOPS) return 'redirect';
    }
    if (effect === 'sent') return 'sent';
    if (effect === 'dead') return 'status';
    if (attempt >= MAX_ATTEMPTS) return 'max-attempts';
  }
}

/** A body of each kind a task may carry, from its seed, with the bytes a request must carry for it. */
const bodies: Record<string, (seed: number) => { body: unknown; bytes: Uint8Array }> = {
  none: () => ({ body: undefined, bytes: new Uint8Array(0) }),
  JSON: (seed) => ({ body: { seed, text: 'é€😀' }, bytes: utf8(JSON.stringify({ seed, text: 'é€😀' })) }),
  text: (seed) => ({ body: `text ${seed} é€😀`, bytes: utf8(`text ${seed} é€😀`) }),
  bytes: (seed) => same(filled(seed, 300)),
  // Over 64 KB: stored beside the task, and read again for each request.
  'large bytes': (seed) => same(filled(seed, 70_000)),
  'a Blob': (seed) => {
    const bytes = filled(seed, 5_000);
    return { body: new Blob([bytes]), bytes };
  },
  'a stream': (seed) => {
    const bytes = filled(seed, 20_000);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 6_000) controller.enqueue(bytes.slice(at, at + 6_000));
        controller.close();
      },
    });
    return { body, bytes };
  },
};
const utf8 = (text: string) => new TextEncoder().encode(text);
const same = (bytes: Uint8Array) => ({ body: bytes.slice(), bytes });
function filled(seed: number, length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed + i * 31) & 0xff;
  return bytes;
}

const scenarioArb = fc.record({
  tasks: fc.array(
    fc.record({
      group: fc.constantFrom(undefined, 'a', 'b'),
      script: fc.array(fc.constantFrom(...Object.keys(answers)), { maxLength: 7 }),
      body: fc.constantFrom(...Object.keys(bodies)),
      priority: fc.constantFrom(undefined, 'high' as const, 'low' as const),
      /** Its `expiresAt`, this long after it is enqueued: then it may end dead as 'expired' instead. */
      expiresIn: fc.option(fc.integer({ min: 0, max: 40 * 60_000 }), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 10 },
  ),
  /** An `onBeforeSend` that returns each task as it is, a tick later (acks then go one at a time, told in turn). */
  beforeSend: fc.boolean(),
  /** How many tasks are enqueued before delivery starts; the rest while the first flush runs. */
  first: fc.integer({ min: 1, max: 10 }),
  ordering: fc.constantFrom<'group' | 'fifo' | 'none'>('group', 'fifo', 'none'),
  partitions: fc.constantFrom(1, 3),
  limits: fc.option(fc.record({ maxTasks: fc.integer({ min: 1, max: 6 }), overflow: fc.constantFrom<'reject' | 'drop-oldest'>('reject', 'drop-oldest') })),
  concurrency: fc.integer({ min: 1, max: 4 }),
  redirect: fc.constantFrom<RedirectPolicy>('error', 'follow-same-origin'),
  files: fc.boolean(),
  /** Handles delivering from the same store at once (tabs, or processes on one directory). */
  handles: fc.integer({ min: 1, max: 2 }),
  restartAfter: fc.integer({ min: 0, max: 8 }),
  /** Wall-clock jumps (either way, up to 12 hours) after rounds of delivery. */
  steps: fc.array(fc.record({ round: fc.integer({ min: 0, max: 8 }), ms: fc.integer({ min: -12 * 3600_000, max: 12 * 3600_000 }) }), { maxLength: 3 }),
  seed: fc.integer(),
});

let server: FaultServer;
let run = 0;
const dirs: string[] = [];
beforeAll(async () => {
  server = await FaultServer.start();
});
afterAll(async () => {
  await server.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * What each case starts from: a directory for a FileStore when `files` (removed after the file), a fake clock, a seeded
 * generator (a failing case replays with the same jitter), and fetch with its clock pump (see `pumped`).
 */
function scene(files: boolean, seed: number, idleStepMs = 0) {
  const dir = files ? mkdtempSync(join(tmpdir(), 'sluice-chaos-')) : undefined;
  if (dir) dirs.push(dir);
  const clock = new FakeClock();
  let state = seed;
  const random = () => (state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  return { dir, clock, random, ...pumped(clock, idleStepMs) };
}

/**
 * fetch, counting the requests it has not answered yet, and a pump that moves `clock` on by a time limit whenever
 * every request still out is one the server holds without an answer (or with its body stalled): then, and only then,
 * the time limit is all that can end them. A request the server is still answering is never timed out by the pump,
 * so every task ends as its script says. With `idleStepMs`, time also moves by that much whenever no request is out
 * (retry delays pass while a run goes on by itself); small beside a lease, so none ends between a response and its ack.
 */
function pumped(clock: FakeClock, idleStepMs = 0) {
  let out = 0;
  const stepped = new WeakSet<object>();
  const fetching: typeof fetch = async (input, init) => {
    out++;
    try {
      return await fetch(input, init);
    } finally {
      out--;
    }
  };
  const pump = async <T>(work: Promise<T>): Promise<T> => {
    let done = false;
    const finished = work.finally(() => (done = true));
    while (!done) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      const held = [...server.holding];
      const unanswered = held.filter(([, kind]) => kind === 'hang').length;
      if (out === unanswered && held.some(([res]) => !stepped.has(res))) {
        for (const [res] of held) stepped.add(res);
        clock.advance(TIMEOUT_MS + 1);
      } else if (out === 0 && idleStepMs > 0) clock.advance(idleStepMs);
    }
    return finished;
  };
  return { fetching, pump };
}

describe('Outbox under a server that fails every way (property)', () => {
  it('ends every task as its answers say: sent, or dead for the reason they give, never lost, never both', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ tasks, first, ordering, partitions, limits, concurrency, redirect, files, handles, restartAfter, steps, seed, beforeSend }) => {
        const prefix = `c${run++}-`;
        const memory = new MemoryStore();
        const { dir, clock, random, fetching, pump } = scene(files, seed);
        // Each handle a store of its own on the directory, as a process would; tabs share one MemoryStore.
        const storeOf = () => (dir ? new FileStore({ dir }) : memory);
        const open = (store = storeOf()) =>
          Outbox.open({
            name: 'chaos',
            store,
            clock,
            random,
            concurrency,
            ordering,
            partitions,
            ...(limits && { limits }),
            redirect,
            fetch: fetching,
            timeoutMs: TIMEOUT_MS,
            baseUrl: server.url,
            retry: { maxAttempts: MAX_ATTEMPTS, maxDelayMs: 10_000 },
            ...(beforeSend && { onBeforeSend: async (task: HttpTask) => (await Promise.resolve(), task) }),
          });
        const outboxes = await Promise.all(Array.from({ length: handles }, () => open()));
        const ids = tasks.map((_, i) => `${prefix}${i}`);
        tasks.forEach((t, i) => server.plan(ids[i]!, t.script.map((name) => answers[name]!.fault())));
        const sending = tasks.map((t, i) => bodies[t.body]!(i));
        const all = tasks.map((t, i) => ({
          url: `/t/${i}`,
          method: 'POST',
          body: sending[i]!.body as string,
          id: ids[i]!,
          ...(t.group && { group: t.group }),
          ...(t.priority && { priority: t.priority }),
          ...(t.expiresIn !== undefined && { expiresAt: clock.now() + t.expiresIn }),
        }));
        // Tasks refused for want of room: all of one call, or none ('drop-oldest' too, when what is left to evict
        // is in flight).
        const refused = new Set<string>();
        const enqueue = async (outbox: Outbox, list: typeof all): Promise<void> => {
          try {
            await (list.length === 1 ? outbox.enqueue(list[0]!) : outbox.enqueueMany(list));
          } catch (error) {
            expect(limits && (error as { code?: string }).code).toBe('ERR_QUOTA_EXCEEDED');
            for (const task of list) refused.add(task.id);
          }
        };
        await enqueue(outboxes[0]!, all.slice(0, first));
        for (let round = 0; round < 60 && (round === 0 || (await outboxes[0]!.size()) > 0); round++) {
          const flushing = Promise.all(outboxes.map((o) => o.flush()));
          // The rest from the last handle, while the first flush runs: one at a time, then together.
          const late = all.slice(first);
          const more = round === 0 && late.length > 0 ? enqueue(outboxes.at(-1)!, late.slice(0, 1)).then(() => (late.length > 1 ? enqueue(outboxes.at(-1)!, late.slice(1)) : undefined)) : undefined;
          await pump(Promise.all([flushing, more]));
          if (limits) expect(await outboxes[0]!.size(), 'pending tasks past limits.maxTasks').toBeLessThanOrEqual(limits.maxTasks);
          if (round === restartAfter) {
            await outboxes[0]!.close();
            outboxes[0] = await open();
          }
          for (const step of steps) if (step.round === round) clock.step(step.ms);
          // Past every retry delay and any probe backoff; later by hours, past a wait stored before a restart and
          // stretched by a step back (a wall time: see `clock` in the README).
          clock.advance(round < 30 ? 10 * 60_000 : 2 * 3600_000);
        }
        expect(await outboxes[0]!.size()).toBe(0);
        // Every request that kept its method (no 301, 302 or 303 on the way) carried the whole body, every time.
        for (const r of server.received.filter((r) => r.key?.startsWith(prefix) && r.method === 'POST')) {
          const { bytes } = sending[ids.indexOf(r.key!)]!;
          expect(Buffer.compare(r.body, bytes), `${r.key}: ${r.body.length} bytes of ${bytes.length}`).toBe(0);
        }
        const dead = new Map((await outboxes[0]!.dead.list()).map((l) => [l.task.id, l.reason]));
        await Promise.all(outboxes.map((o) => o.close()));
        const sent = server.received.filter((r) => r.key?.startsWith(prefix) && (r.fault.status ?? 200) < 300 && !r.fault.reset && !r.fault.hang && r.fault.stallBody === undefined);
        tasks.forEach((t, i) => {
          const id = ids[i]!;
          const ends = sent.filter((r) => r.key === id).length;
          const actual = ends > 0 ? (dead.has(id) ? `sent ${ends}x and dead as ${dead.get(id)}` : ends === 1 ? 'sent' : `sent ${ends}x`) : (dead.get(id) ?? 'lost');
          const about = `${id} answered ${JSON.stringify(t.script)}, redirect '${redirect}'`;
          if (refused.has(id)) {
            expect(server.received.some((r) => r.key === id), `${about}: refused, yet sent`).toBe(false);
            expect(actual, about).toBe('lost');
          } else if (actual === 'evicted') expect(limits?.overflow, about).toBe('drop-oldest');
          else if (actual === 'expired') expect(t.expiresIn, `${about}: expired`).toBeDefined();
          else expect(actual, about).toBe(expectedEnd(t.script, redirect));
        });
        // Within a lane, the server saw deliveries in enqueue order.
        for (const group of ordering === 'group' ? [undefined, 'a', 'b'] : ordering === 'fifo' ? ['every'] : []) {
          const order = ids.filter((_, i) => group === 'every' || tasks[i]!.group === group);
          const seen = sent.map((r) => r.key!).filter((id) => order.includes(id));
          expect(seen).toEqual(order.filter((id) => seen.includes(id)));
        }
      }),
      { numRuns: runs, ...replay },
    );
  }, Math.max(60_000, runs * 1_000));
});

const batchArb = fc.record({
  tasks: fc.array(
    fc.record({ group: fc.constantFrom(undefined, 'a', 'b'), body: fc.constantFrom('JSON', 'text', 'large bytes') }),
    { minLength: 1, maxLength: 14 },
  ),
  /** The server's answers, request by request, whatever each carries; 200 once they run out. */
  answers: fc.array(fc.constantFrom(...Object.keys(answers), 'a 413'), { maxLength: 14 }),
  maxItems: fc.integer({ min: 1, max: 6 }),
  ordering: fc.constantFrom<'group' | 'none'>('group', 'none'),
  concurrency: fc.integer({ min: 1, max: 4 }),
  redirect: fc.constantFrom<RedirectPolicy>('error', 'follow-same-origin'),
  files: fc.boolean(),
  handles: fc.integer({ min: 1, max: 2 }),
  restartAfter: fc.integer({ min: 0, max: 8 }),
  seed: fc.integer(),
});

describe('Outbox in batches under a server that fails every way (property)', () => {
  it('ends every task sent once (its body received) or dead, never both, never neither, lanes in order', async () => {
    await fc.assert(
      fc.asyncProperty(batchArb, async (scenario) => {
        const { tasks, maxItems, ordering, concurrency, redirect, files, handles, restartAfter, seed } = scenario;
        const at = `/b${run++}`;
        const script = scenario.answers.map((name) => (name === 'a 413' ? { status: 413 } : answers[name]!.fault()));
        server.script((request) => (request.path.startsWith(at) ? script.shift() : undefined));
        const memory = new MemoryStore();
        const { dir, clock, random, fetching, pump } = scene(files, seed);
        const sent: string[] = [];
        const open = async () => {
          const outbox = await Outbox.open({
            name: 'chaos',
            store: dir ? new FileStore({ dir }) : memory,
            clock,
            random,
            concurrency,
            ordering,
            redirect,
            fetch: fetching,
            timeoutMs: TIMEOUT_MS,
            baseUrl: server.url,
            batch: { url: `${at}/batch`, maxItems },
            retry: { maxAttempts: MAX_ATTEMPTS, maxDelayMs: 10_000 },
          });
          outbox.addEventListener('sent', (e) => !e.detail.remote && sent.push(e.detail.task.id));
          return outbox;
        };
        const outboxes = await Promise.all(Array.from({ length: handles }, () => open()));
        const ids = tasks.map((_, i) => `${at.slice(1)}-${i}`);
        const sending = tasks.map((t, i) => bodies[t.body]!(i));
        await outboxes[0]!.enqueueMany(
          tasks.map((t, i) => ({ url: `${at}/t/${i}`, method: 'POST', body: sending[i]!.body as string, id: ids[i]!, ...(t.group && { group: t.group }) })),
        );
        for (let round = 0; round < 60 && (await outboxes[0]!.size()) > 0; round++) {
          await pump(Promise.all(outboxes.map((o) => o.flush())));
          if (round === restartAfter) {
            await outboxes[0]!.close();
            outboxes[0] = await open();
          }
          clock.advance(10 * 60_000);
        }
        server.script(() => undefined);
        expect(await outboxes[0]!.size()).toBe(0);
        const dead = new Map((await outboxes[0]!.dead.list()).map((l) => [l.task.id, l.reason]));
        await Promise.all(outboxes.map((o) => o.close()));
        // What the server was given of each task: its body in a batch (JSON as it is, text as a JSON string), or alone.
        const batched = tasks.map((t, i) => (t.body === 'JSON' ? { seed: i, text: 'é€😀' } : t.body === 'text' ? `text ${i} é€😀` : undefined)).map((v) => JSON.stringify(v));
        const given = new Set<string>();
        for (const r of server.received.filter((r) => r.path.startsWith(at) && r.method === 'POST')) {
          if (r.path === `${at}/batch`) {
            for (const body of JSON.parse(r.body.toString()) as unknown[]) {
              const i = batched.indexOf(JSON.stringify(body));
              if (i >= 0) given.add(ids[i]!);
            }
          } else {
            const i = ids.findIndex((_, i) => r.path === `${at}/t/${i}`);
            if (i >= 0 && Buffer.compare(r.body, sending[i]!.bytes) === 0) given.add(ids[i]!);
          }
        }
        for (const id of ids) {
          const times = sent.filter((s) => s === id).length;
          const ends = times === 1 && !dead.has(id) ? 'sent' : dead.has(id) && times === 0 ? 'dead' : `sent ${times}x, dead as ${dead.get(id)}`;
          expect(['sent', 'dead'], `${id} ended ${ends}`).toContain(ends);
          if (ends === 'sent') expect(given.has(id), `${id} sent, but its body never reached the server`).toBe(true);
          else expect(['status', 'max-attempts', 'redirect']).toContain(dead.get(id));
        }
        if (ordering === 'group') {
          for (const group of [undefined, 'a', 'b']) {
            const order = ids.filter((_, i) => tasks[i]!.group === group);
            const seen = sent.filter((id) => order.includes(id));
            expect(seen).toEqual(order.filter((id) => seen.includes(id)));
          }
        }
      }),
      { numRuns: runs, ...replay },
    );
  }, Math.max(60_000, runs * 1_000));
});


type Action =
  | { kind: 'remove' | 'retry' | 'purge'; pick: number }
  | { kind: 'retry all' | 'offline' | 'online' | 'stop' | 'start' }
  | { kind: 'enqueue'; count: number }
  | { kind: 'pause'; ms: number };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constantFrom('remove' as const, 'retry' as const, 'purge' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constantFrom('retry all' as const, 'offline' as const, 'online' as const, 'stop' as const, 'start' as const) }),
  fc.record({ kind: fc.constant('enqueue' as const), count: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 0, max: 15 }) }),
);

/** What the user's calls did that decides how a task ends, and the tasks a call that rejected may have changed. */
interface Acted {
  readonly removed: Set<string>;
  readonly purged: Set<string>;
  readonly unsure: Set<string>;
}

/**
 * Does what the user does in `a` to `outbox`, whose tasks are `ids` (`enqueue` stores `count` more). With `failing`,
 * a call may reject (a store failing under it): that is checked, and the tasks it may have changed are counted unsure.
 */
async function act(outbox: Outbox, a: Action, ids: readonly string[], enqueue: (count: number) => Promise<void>, acted: Acted, failing = false): Promise<void> {
  const guard = <T>(call: Promise<T>, about: readonly string[]): Promise<T | undefined> =>
    failing
      ? call.catch((error: unknown) => {
          expect(error, 'what a failed call rejects with').toBeInstanceOf(SluiceError);
          for (const id of about) acted.unsure.add(id);
          return undefined;
        })
      : call;
  const letter = async (pick: number) => {
    const letters = (await guard(outbox.dead.list(), [])) ?? [];
    return letters[pick % Math.max(1, letters.length)];
  };
  if (a.kind === 'remove') {
    const id = ids[a.pick % ids.length]!;
    if ((await guard(outbox.remove([id]), [id])) === 1) acted.removed.add(id);
  } else if (a.kind === 'retry') {
    const l = await letter(a.pick);
    if (l) await guard(outbox.dead.retry([l.id]), []);
  } else if (a.kind === 'purge') {
    const l = await letter(a.pick);
    if (l && (await guard(outbox.dead.purge([l.id]), [l.task.id])) === 1) acted.purged.add(l.task.id);
  } else if (a.kind === 'retry all') await guard(outbox.dead.retry(), []);
  else if (a.kind === 'offline' || a.kind === 'online') outbox.setOnline(a.kind === 'online');
  else if (a.kind === 'stop') await outbox.stop();
  else if (a.kind === 'start') outbox.start();
  else if (a.kind === 'enqueue') await enqueue(a.count);
  else if (a.kind === 'pause') await new Promise((resolve) => setTimeout(resolve, a.ms));
}

/**
 * Has the server keep an Idempotency-Key's word, as it asks of it: a key of `plans` is answered from its plan until it
 * had a 2xx, and with a 2xx from then on (an ack the store lost sends the task again). Returns the keys accepted.
 */
function keepingItsWord(plans: ReadonlyMap<string, Fault[]>): Set<string> {
  const accepted = new Set<string>();
  server.script((request) => {
    const key = request.key;
    if (key === undefined || !plans.has(key)) return undefined;
    if (accepted.has(key)) return {};
    const fault = plans.get(key)!.shift() ?? {};
    if ((fault.status ?? 200) < 300 && !fault.reset && !fault.hang && fault.stallBody === undefined) accepted.add(key);
    return fault;
  });
  return accepted;
}

const userArb = fc.record({
  first: fc.integer({ min: 1, max: 6 }),
  scripts: fc.array(fc.array(fc.constantFrom(...Object.keys(answers)), { maxLength: 4 }), { minLength: 20, maxLength: 20 }),
  actions: fc.array(actionArb, { maxLength: 25 }),
  ordering: fc.constantFrom<'group' | 'none'>('group', 'none'),
  concurrency: fc.integer({ min: 1, max: 3 }),
  files: fc.boolean(),
  seed: fc.integer(),
});

describe('Outbox while its user acts on it (property)', () => {
  it('ends every task sent once, dead, removed or purged, one of them only, whatever the user does while it delivers', async () => {
    await fc.assert(
      fc.asyncProperty(userArb, async ({ first, scripts, actions, ordering, concurrency, files, seed }) => {
        const prefix = `u${run++}-`;
        const { dir, clock, random, fetching, pump } = scene(files, seed, 200);
        const outbox = await Outbox.open({
          name: 'chaos',
          store: dir ? new FileStore({ dir }) : new MemoryStore(),
          clock,
          random,
          concurrency,
          ordering,
          fetch: fetching,
          timeoutMs: TIMEOUT_MS,
          baseUrl: server.url,
          retry: { maxAttempts: MAX_ATTEMPTS, initialDelayMs: 100, maxDelayMs: 2_000 },
        });
        const ids: string[] = [];
        const enqueue = async (count: number) => {
          const made = Array.from({ length: Math.min(count, scripts.length - ids.length) }, (_, k) => `${prefix}${ids.length + k}`);
          made.forEach((id, k) => server.plan(id, scripts[ids.length + k]!.map((name) => answers[name]!.fault())));
          ids.push(...made);
          await outbox.enqueueMany(made.map((id) => ({ url: `/u/${id}`, method: 'POST', body: { id }, id, group: id.length % 2 ? 'a' : 'b' })));
        };
        const acted: Acted = { removed: new Set(), purged: new Set(), unsure: new Set() };
        const { removed, purged } = acted;
        await enqueue(first);
        outbox.start();
        await pump(
          (async () => {
            for (const a of actions) await act(outbox, a, ids, enqueue, acted);
            // Then left to finish: online, delivering, until nothing is pending.
            outbox.setOnline(true);
            outbox.start();
            while ((await outbox.size()) > 0) await new Promise((resolve) => setTimeout(resolve, 5));
            await outbox.stop();
          })(),
        );
        const dead = new Set((await outbox.dead.list()).map((l) => l.task.id));
        await outbox.close();
        const sent = server.received.filter((r) => r.key?.startsWith(prefix) && (r.fault.status ?? 200) < 300 && !r.fault.reset && !r.fault.hang && r.fault.stallBody === undefined);
        for (const id of ids) {
          const ends = [
            ...sent.filter((r) => r.key === id).map(() => 'sent'),
            ...(dead.has(id) ? ['dead'] : []),
            ...(removed.has(id) ? ['removed'] : []),
            ...(purged.has(id) ? ['purged'] : []),
          ];
          expect(ends.length === 1 ? 'one end' : ends.join(' and ') || 'lost', id).toBe('one end');
        }
      }),
      { numRuns: runs, ...replay },
    );
  }, Math.max(60_000, runs * 2_000));
});

const storeFaultArb = fc.record({
  method: fc.constantFrom('commit' as const, 'token' as const, 'load' as const, 'read' as const),
  storage: fc.constantFrom(undefined, 'chaos', 'chaos.dead'),
  landed: fc.boolean(),
  times: fc.integer({ min: 1, max: 3 }),
  round: fc.integer({ min: 0, max: 6 }),
});

const flakyArb = fc.record({
  tasks: fc.array(
    fc.record({ group: fc.constantFrom(undefined, 'a', 'b'), script: fc.array(fc.constantFrom(...Object.keys(answers)), { maxLength: 5 }) }),
    { minLength: 1, maxLength: 10 },
  ),
  /** How many tasks each enqueueMany stores, in turn. */
  chunk: fc.integer({ min: 1, max: 4 }),
  faults: fc.array(storeFaultArb, { maxLength: 12 }),
  concurrency: fc.integer({ min: 1, max: 3 }),
  files: fc.boolean(),
  handles: fc.integer({ min: 1, max: 2 }),
  restartAfter: fc.integer({ min: 0, max: 8 }),
  /** Rounds after which the user retries every dead letter (faults may meet that too). */
  retries: fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 2 }),
  seed: fc.integer(),
});

type FlakyCase = typeof flakyArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * One case of the flaky-store property: its tasks enqueued and delivered by one or two handles over a store that fails
 * as `faults` say, then checked. `place` makes the store behind the faults (by default a MemoryStore, or a FileStore
 * with `files`): a fresh place each case.
 */
async function flakyStoreCase({ tasks, chunk, faults, concurrency, files, handles, restartAfter, retries, seed }: FlakyCase, place?: () => Store): Promise<void> {
  const prefix = `f${run++}-`;
  const accepted = keepingItsWord(new Map(tasks.map((t, i) => [`${prefix}${i}`, t.script.map((name) => answers[name]!.fault())])));
  const { dir, clock, random, fetching, pump } = scene(files, seed);
  const inner = place?.() ?? (dir ? new FileStore({ dir }) : new MemoryStore());
  const store = new FaultyStore(inner);
  const errors: unknown[] = [];
  const open = async () => {
    for (let tries = 0; ; tries++) {
      try {
        const outbox = await Outbox.open({ name: 'chaos', store, clock, random, concurrency, fetch: fetching, timeoutMs: TIMEOUT_MS, baseUrl: server.url, retry: { maxAttempts: MAX_ATTEMPTS, maxDelayMs: 10_000 } });
        outbox.addEventListener('error', (e) => errors.push(e.detail.error));
        return outbox;
      } catch (error) {
        // An open that meets a fault fails whole, and is made again.
        expect(error, 'what a failed open rejects with').toBeInstanceOf(SluiceError);
        if (tries > 100) throw error;
      }
    }
  };
  // A second handle on the same store (a tab, or a worker) delivers beside the first, through the same faults.
  const other = handles > 1 ? await open() : undefined;
  let outbox = await open();
  const ids = tasks.map((_, i) => `${prefix}${i}`);
  /** Tasks whose enqueue resolved (stored for sure), and those whose enqueue rejected (stored or not). */
  const stored = new Set<string>();
  const unsure = new Set<string>();
  for (let at = 0; at < tasks.length; at += chunk) {
    const some = tasks.slice(at, at + chunk).map((t, k) => ({ url: `/f/${at + k}`, method: 'POST', body: { at: at + k }, id: ids[at + k]!, ...(t.group && { group: t.group }) }));
    for (const f of faults) if (f.round === 0 && at === 0) store.fail(f.method, { ...(f.storage && { storage: f.storage }), landed: f.landed, times: f.times });
    await outbox.enqueueMany(some).then(
      () => some.forEach((t) => stored.add(t.id)),
      (error: unknown) => {
        expect(error, 'what a failed enqueue rejects with').toBeInstanceOf(SluiceError);
        some.forEach((t) => unsure.add(t.id));
      },
    );
  }
  for (let round = 0; round < 60 && (round < 8 || (await outbox.size().catch(() => 1)) > 0); round++) {
    for (const f of faults) if (f.round === round && round > 0) store.fail(f.method, { ...(f.storage && { storage: f.storage }), landed: f.landed, times: f.times });
    if (round === 8) store.heal();
    const flushed = (o: Outbox) => o.flush().catch((error: unknown) => expect(error, 'what a failed flush rejects with').toBeInstanceOf(SluiceError));
    await pump(Promise.all([flushed(outbox), other && flushed(other)]));
    if (round === restartAfter || round === 8) {
      await outbox.close().catch(() => undefined);
      outbox = await open();
    }
    if (retries.includes(round)) {
      // A retry that fails may have stored its tasks all the same: they go then, each letter deleted first, by
      // whichever handle takes them; never sent and dead.
      await outbox.dead.retry().catch((error: unknown) => expect(error, 'what a failed retry rejects with').toBeInstanceOf(SluiceError));
    }
    clock.advance(10 * 60_000);
  }
  store.heal();
  expect(await outbox.size()).toBe(0);
  const dead = new Map((await outbox.dead.list()).map((l) => [l.task.id, l.reason]));
  await outbox.close();
  await other?.close();
  if (inner instanceof RedisStore) await inner.close();
  server.script(() => undefined);
  for (const id of ids) {
    const sent = accepted.has(id);
    const about = `${id} (${stored.has(id) ? 'stored' : 'enqueue rejected'}) answered ${JSON.stringify(tasks[ids.indexOf(id)]!.script)}`;
    expect(sent && dead.has(id) ? `sent and dead as ${dead.get(id)}` : 'not both', about).toBe('not both');
    if (stored.has(id)) expect(sent || dead.has(id), `${about}: lost`).toBe(true);
    if (dead.has(id)) expect(['status', 'max-attempts', 'redirect'], about).toContain(dead.get(id));
  }
  for (const error of errors) expect(error, 'an error event').toBeInstanceOf(Error);
}

describe('Outbox over a store that fails at random (property)', () => {
  it('ends every task it stored sent or dead, never both, whatever commits and reads fail (the reply lost or not)', async () => {
    await fc.assert(
      fc.asyncProperty(flakyArb, (c) => flakyStoreCase(c)),
      { numRuns: runs, ...replay },
    );
  }, Math.max(60_000, runs * 2_000));
});

// The same on a RedisStore (a fresh key prefix each case), where handles on many machines share one outbox.
describeRedis('Outbox over a RedisStore that fails at random (property)', (redis) => {
  let places = 0;
  it('ends every task it stored sent or dead, never both, whatever commits and reads fail (the reply lost or not)', async () => {
    await fc.assert(
      fc.asyncProperty(flakyArb, (c) => flakyStoreCase({ ...c, files: false }, () => new RedisStore({ url: redis().url, prefix: `chaos${places++}:`, onWarning: () => undefined }))),
      { numRuns: runs, ...replay },
    );
  }, Math.max(60_000, runs * 4_000));
});

/** Answers without redirects: a live request follows them as its own `redirect` says, not as the outbox's policy. */
const plain = Object.keys(answers).filter((name) => answers[name]!.effect !== 'here' && answers[name]!.effect !== 'away');

const liveArb = fc.record({
  requests: fc.array(fc.record({ group: fc.constantFrom(undefined, 'a'), script: fc.array(fc.constantFrom(...plain), { maxLength: 5 }) }), {
    minLength: 1,
    maxLength: 8,
  }),
  together: fc.boolean(),
  seed: fc.integer(),
});

describe('Outbox.fetch under a server that fails every way (property)', () => {
  it("answers each request with the server's own response, or a 202 for a task that then ends sent or dead; never both, never lost", async () => {
    await fc.assert(
      fc.asyncProperty(liveArb, async ({ requests, together, seed }) => {
        const at = `/live${run++}`;
        const scripts = requests.map((r) => r.script.map((name) => answers[name]!.fault()));
        server.script((request) => {
          const i = Number(request.path.slice(at.length + 1));
          return request.path.startsWith(`${at}/`) ? (scripts[i]?.shift() ?? {}) : undefined;
        });
        const { clock, random, fetching, pump } = scene(false, seed);
        const outbox = await Outbox.open({ name: 'live', store: new MemoryStore(), clock, random, fetch: fetching, timeoutMs: TIMEOUT_MS, retry: { maxAttempts: MAX_ATTEMPTS, maxDelayMs: 10_000 } });
        const ask = async (i: number) => {
          const response = await outbox.fetch(`${server.url}${at}/${i}`, { method: 'POST', body: `live ${i}`, ...(requests[i]!.group && { group: requests[i]!.group }) });
          // Read to its end (or to the time limit, for a body that stalls), as an app would.
          await response.arrayBuffer().catch(() => undefined);
          return response;
        };
        const responses = await pump(
          together ? Promise.all(requests.map((_, i) => ask(i))) : requests.reduce<Promise<Response[]>>(async (so, _, i) => [...(await so), await ask(i)], Promise.resolve([])),
        );
        for (let round = 0; round < 40 && (await outbox.size()) > 0; round++) {
          await pump(outbox.flush());
          clock.advance(10 * 60_000);
        }
        expect(await outbox.size()).toBe(0);
        const dead = new Set((await outbox.dead.list()).map((l) => l.task.id));
        await outbox.close();
        server.script(() => undefined);
        responses.forEach((response, i) => {
          const got = server.received.filter((r) => r.path === `${at}/${i}`);
          const queued = response.headers.get('sluice-queued');
          const sent = got.some((r) => (r.fault.status ?? 200) < 300 && !r.fault.reset && !r.fault.hang && r.fault.stallBody === undefined);
          if (queued === null) {
            // The server's own answer, to the one request made.
            expect(got.length, `request ${i}: answered ${response.status} live`).toBe(1);
            expect(response.status).toBe(got[0]!.fault.status ?? 200);
          } else {
            expect(response.status).toBe(202);
            // Stored: every try carries its task id as the Idempotency-Key, and it ends sent or dead, not both.
            for (const r of got) expect(r.key).toBe(queued);
            expect(sent !== dead.has(queued), `request ${i}, queued as ${queued}: sent ${sent}, dead ${dead.has(queued)}`).toBe(true);
          }
        });
      }),
      { numRuns: runs, ...replay },
    );
  }, Math.max(60_000, runs * 2_000));
});

const flakyUserArb = fc.record({
  first: fc.integer({ min: 1, max: 6 }),
  scripts: fc.array(fc.array(fc.constantFrom(...plain), { maxLength: 4 }), { minLength: 16, maxLength: 16 }),
  actions: fc.array(actionArb, { maxLength: 20 }),
  /** Store faults, each set before the action of its `round`. */
  faults: fc.array(storeFaultArb, { maxLength: 8 }),
  ordering: fc.constantFrom<'group' | 'none'>('group', 'none'),
  partitions: fc.constantFrom(1, 3),
  concurrency: fc.integer({ min: 1, max: 3 }),
  files: fc.boolean(),
  seed: fc.integer(),
});

type FlakyUserCase = typeof flakyUserArb extends fc.Arbitrary<infer T> ? T : never;

/** What a case that may hang is told: the real time it must end by, and how to fail saying which case it is. */
interface Watch {
  readonly by: number;
  readonly fail: (why: string) => Error;
}

/**
 * For a property whose cases could hang (a task never delivered): its fast-check parameters, with a seed of its own
 * unless one is replayed, and `next`, the `Watch` of each case: it ends within a minute, and well before the test's
 * `limitMs`, so that one that hangs fails instead of vitest's timeout ending the run with nothing said. The first case
 * that fails says at once how to run it again (its seed and path), before fast-check shrinks it, which the timeout may
 * cut short; those of the shrinking are named by fast-check's own report.
 */
function watched(limitMs: number): { params: { numRuns: number; seed: number; path?: string }; next: () => Watch } {
  const seed = replay.seed ?? Math.floor(Math.random() * 2 ** 31);
  const end = Date.now() + limitMs - 10_000;
  let at = 0;
  let failed = false;
  return {
    params: { numRuns: runs, seed, ...(replay.path !== undefined && { path: replay.path }) },
    next: () => {
      // Until a case fails, its path is its place among those run.
      const path = replay.path ?? String(at++);
      const fail = (why: string) => {
        if (failed) return new Error(why);
        failed = true;
        const told = `${why}; run again with SLUICE_PROPERTY_SEED=${seed} SLUICE_PROPERTY_PATH=${path}`;
        console.error(told);
        return new Error(told);
      };
      return { by: Math.min(end, Date.now() + 60_000), fail };
    },
  };
}

/** One case of the flaky-store property under a user's actions; `place` as for `flakyStoreCase`. */
async function flakyUserCase(c: FlakyUserCase, watch: Watch, place?: () => Store): Promise<void> {
  const { first, scripts, actions, faults, ordering, partitions, concurrency, files, seed } = c;
  const prefix = `fu${run++}-`;
  const plans = new Map<string, Fault[]>();
  const accepted = keepingItsWord(plans);
  const { dir, clock, random, fetching, pump } = scene(files, seed, 200);
  const inner = place?.() ?? (dir ? new FileStore({ dir }) : new MemoryStore());
  const store = new FaultyStore(inner);
  const outbox = await Outbox.open({
    name: 'chaos',
    store,
    clock,
    random,
    concurrency,
    ordering,
    partitions,
    fetch: fetching,
    timeoutMs: TIMEOUT_MS,
    baseUrl: server.url,
    retry: { maxAttempts: MAX_ATTEMPTS, initialDelayMs: 100, maxDelayMs: 2_000 },
  });
  const errors: unknown[] = [];
  outbox.addEventListener('error', (e) => errors.push(e.detail.error));
  const ids: string[] = [];
  /** Tasks whose enqueue resolved; those an action that rejected may have changed (stored, removed, purged). */
  const stored = new Set<string>();
  const acted: Acted = { removed: new Set(), purged: new Set(), unsure: new Set() };
  const { removed, purged, unsure } = acted;
  const enqueue = async (count: number) => {
    const made = Array.from({ length: Math.min(count, scripts.length - ids.length) }, (_, k) => `${prefix}${ids.length + k}`);
    made.forEach((id, k) => plans.set(id, scripts[ids.length + k]!.map((name) => answers[name]!.fault())));
    ids.push(...made);
    const tasks = made.map((id) => ({ url: `/fu/${id}`, method: 'POST', body: { id }, id, group: id.length % 2 ? 'a' : 'b' }));
    await outbox.enqueueMany(tasks).then(
      () => made.forEach((id) => stored.add(id)),
      (error: unknown) => {
        expect(error, 'what a failed enqueue rejects with').toBeInstanceOf(SluiceError);
        made.forEach((id) => unsure.add(id));
      },
    );
  };
  await enqueue(first);
  outbox.start();
  await pump(
    (async () => {
      for (const [round, a] of actions.entries()) {
        for (const f of faults) if (f.round === round) store.fail(f.method, { ...(f.storage && { storage: f.storage }), landed: f.landed, times: f.times });
        await act(outbox, a, ids, enqueue, acted, true);
      }
      // Then healed, and left to finish: online, delivering, until nothing is pending.
      store.heal();
      outbox.setOnline(true);
      outbox.start();
      // Past any lease a failure left (65 s) and the longest backoff of a failing pass (60 s), by the test's clock.
      // (And the real time `watch` gives, should the test's clock stand still.)
      const until = clock.now() + 10 * 60_000;
      while ((await outbox.size()) > 0) {
        if (clock.now() > until || Date.now() > watch.by) {
          const left = JSON.stringify((await outbox.list()).map((t) => [t.id, t.state, t.attempts]));
          const asked = JSON.stringify(server.received.filter((x) => x.key?.startsWith(prefix)).map((x) => [x.key, x.fault]));
          throw watch.fail(`never delivered: ${left}, after the errors ${errors.map(String).join('; ')}; requests ${asked}; the case ${JSON.stringify(c)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await outbox.stop();
    })(),
  );
  const dead = new Set((await outbox.dead.list()).map((l) => l.task.id));
  await outbox.close();
  if (inner instanceof RedisStore) await inner.close();
  server.script(() => undefined);
  for (const id of ids) {
    const ends = [
      ...(accepted.has(id) ? ['sent'] : []),
      ...(dead.has(id) ? ['dead'] : []),
      ...(removed.has(id) ? ['removed'] : []),
      ...(purged.has(id) ? ['purged'] : []),
    ];
    const about = `${id} answered ${JSON.stringify(scripts[ids.indexOf(id)])}: ${ends.join(' and ') || 'lost'}`;
    expect(ends.includes('sent') && (ends.includes('dead') || ends.includes('purged')), about).toBe(false);
    // Sent, and removed after: an ack the store lost leaves the task pending, and its user may remove it then.
    if (stored.has(id) && !unsure.has(id)) expect(ends.length, about).toBeGreaterThan(0);
    if (!unsure.has(id)) expect(ends.filter((end) => end !== 'sent').length, about).toBeLessThanOrEqual(1);
  }
}

describe('Outbox over a store that fails at random while its user acts on it (property)', () => {
  it('ends every task it stored sent, dead, removed or purged, and never sent and dead, whatever fails under what the user does', async () => {
    const cases = watched(Math.max(60_000, runs * 2_000));
    await fc.assert(
      fc.asyncProperty(flakyUserArb, (c) => flakyUserCase(c, cases.next())),
      cases.params,
    );
  }, Math.max(60_000, runs * 2_000));
});

describeRedis('Outbox over a RedisStore that fails at random while its user acts on it (property)', (redis) => {
  let places = 0;
  it('ends every task it stored sent, dead, removed or purged, and never sent and dead, whatever fails under what the user does', async () => {
    const cases = watched(Math.max(60_000, runs * 4_000));
    await fc.assert(
      fc.asyncProperty(flakyUserArb, (c) =>
        flakyUserCase({ ...c, files: false }, cases.next(), () => new RedisStore({ url: redis().url, prefix: `chaos-user${places++}:`, onWarning: () => undefined })),
      ),
      cases.params,
    );
  }, Math.max(60_000, runs * 4_000));
});
