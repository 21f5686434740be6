import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Clock, type Lease, Queue, SluiceError } from '../../src/index.js';
import { FileStore } from '../../src/fs.js';
import { runChild } from './child.js';
import { damage, FAULTS, type Fault } from './damage.js';
import { type Failure, Ledger } from './ledger.js';
import { Random } from './random.js';
import type { Scratch } from './scratch.js';

export interface TrialResult {
  readonly seed: number;
  readonly fault: Fault;
  readonly failures: Failure[];
  readonly log: string[];
  readonly ms: number;
}

/** One of the trial's two handles on the queue (two, so that one can meet what the other left). */
interface Handle {
  readonly name: string;
  queue?: Queue<number>;
  corruption: 'throw' | 'skip';
  reported: number;
  leases: { lease: Lease<number>; open: Map<string, number> }[];
}

type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/** Time an hour ahead: every lease and delay has run out, so the final drain sees every item. */
const later: Clock = {
  now: () => Date.now() + 3_600_000,
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * One seeded trial: two handles push, take, ack, release and reopen a FileStore queue through the public Queue API;
 * between two steps the trial's fault strikes (`FAULTS[seed % FAULTS.length]`); the workload goes on, then a new
 * handle drains the queue and the ledger judges the invariant.
 */
export async function runTrial(seed: number, scratch: Scratch, child: string): Promise<TrialResult> {
  const started = Date.now();
  const trial = new Trial(seed, scratch, child);
  try {
    await trial.run();
  } catch (error) {
    trial.ledger.fail('error', `the trial itself failed: ${(error as Error).stack}`);
  } finally {
    trial.dispose();
  }
  // Events of what an open or a commit found are dispatched a tick later (a timer), so that listeners added after the
  // call hear them; a run whose file calls never waited for the event loop may end before they are. Judged after them.
  await new Promise((resolve) => setTimeout(resolve, 10));
  return { seed, fault: trial.fault, failures: trial.ledger.verdict(), log: trial.ledger.log, ms: Date.now() - started };
}

class Trial {
  readonly ledger = new Ledger();
  readonly fault: Fault;
  readonly #random: Random;
  readonly #scratch: Scratch;
  readonly #child: string;
  readonly #root: string;
  readonly #durability: 'strict' | 'relaxed';
  readonly #segmentItems: number;
  readonly #handles: Handle[] = ['A', 'B'].map((name) => ({ name, corruption: 'throw', reported: 0, leases: [] }));
  #next = 0;

  constructor(seed: number, scratch: Scratch, child: string) {
    this.fault = FAULTS[seed % FAULTS.length]!;
    this.#random = new Random(seed);
    this.#scratch = scratch;
    this.#child = child;
    this.#root = mkdtempSync(join(scratch.path, 'trial-'));
    this.#durability = this.#random.chance(0.5) ? 'strict' : 'relaxed';
    this.#segmentItems = this.#random.int(2, 8);
    this.ledger.note(`seed ${seed}: fault ${this.fault}, durability ${this.#durability}, segmentItems ${this.#segmentItems}, in ${this.#root}`);
  }

  get #dir(): string {
    return join(this.#root, 'q');
  }

  async run(): Promise<void> {
    const random = this.#random;
    const steps = random.int(10, 22);
    const faultAt = random.int(3, steps - 4);
    for (let step = 0; step < steps; step++) {
      if (step === faultAt) await this.#strike();
      await this.#step(random.pick(this.#handles));
    }
    for (const h of this.#handles) await this.#close(h);
    await this.#drain();
  }

  dispose(): void {
    for (const h of this.#handles) void h.queue?.close().catch(() => undefined);
    try {
      rmSync(this.#root, { recursive: true, force: true });
    } catch (error) {
      this.ledger.fail('error', `the trial's directory cannot be removed: ${String(error)}`);
    }
  }

  /** The trial's fault, between two steps. A full or read-only disk lasts a few steps, then is put right. */
  async #strike(): Promise<void> {
    const random = this.#random;
    if (this.fault === 'sigkill') return runChild(this.#child, this.#root, this.#segmentItems, random, this.ledger, () => this.#next++);
    if (this.fault !== 'enospc' && this.fault !== 'read-only') {
      this.ledger.note(`FAULT ${this.fault}: ${damage(this.fault, this.#dir, random)}`);
      return;
    }
    if (this.fault === 'enospc' && !this.#scratch.canFill) {
      this.ledger.note('FAULT enospc: skipped, no disk to fill here');
      return;
    }
    const undo = this.fault === 'enospc' ? this.#scratch.fill() : this.#scratch.readOnly(this.#dir);
    const during = random.int(1, 3);
    this.ledger.note(`FAULT ${this.fault}: for ${during} steps`);
    try {
      for (let i = 0; i < during; i++) await this.#step(random.pick(this.#handles));
    } finally {
      undo();
      this.ledger.note(`FAULT ${this.fault}: put right`);
    }
  }

  async #step(h: Handle): Promise<void> {
    const q = h.queue;
    if (!q) return this.#open(h);
    const random = this.#random;
    const op = random.weighted({ push: 30, pushMany: 12, take: 22, ack: 16, release: 8, reopen: 6, size: 6 });
    if (op === 'push' || op === 'pushMany') {
      const values = Array.from({ length: random.int(1, op === 'push' ? 4 : 6) }, () => this.#next++);
      // One outcome per value: a push each, or the one pushMany for all.
      const outcomes: { ok: boolean; id?: string; reason?: unknown }[] =
        op === 'push'
          ? (await Promise.allSettled(values.map((v) => q.push(v)))).map((s) => (s.status === 'fulfilled' ? { ok: true, id: s.value } : { ok: false, reason: s.reason }))
          : await q.pushMany(values).then(
              (ids) => ids.map((id) => ({ ok: true, id })),
              (reason: unknown) => values.map(() => ({ ok: false, reason })),
            );
      this.#collect(h);
      const resolved = values.filter((_, i) => outcomes[i]!.ok);
      this.ledger.pushResolved(resolved);
      // The ids a push resolves with: an event naming them names these values, even where no later list can say so.
      for (const [i, { id }] of outcomes.entries()) if (id !== undefined) this.ledger.seen(Number(id), values[i]!);
      this.ledger.pushFailed(values.filter((_, i) => !outcomes[i]!.ok));
      const failed = outcomes.find((o) => !o.ok);
      this.ledger.note(`${h.name} ${op} ${values.join(',')}: ${resolved.length === values.length ? 'resolved' : `resolved ${resolved.join(',') || 'none'}`}`);
      if (failed) return this.#failed(h, op, failed.reason);
      // Which sequence numbers the new items got, so that an event naming ids can be matched with values.
      const listed = await this.#attempt(h, 'list', () => q.list());
      if (!listed.ok) return;
      for (const e of listed.value) this.ledger.seen(Number(e.id), e.value);
      // One step's pushes take consecutive numbers: those not listed (already counted as acked, say) follow.
      const known = listed.value.find((e) => values.includes(e.value));
      if (known) for (const [i, v] of values.entries()) this.ledger.seen(Number(known.id) + i - values.indexOf(known.value), v);
    } else if (op === 'take') {
      const taken = await this.#attempt(h, 'take', () => q.take(random.int(1, 5)));
      if (!taken.ok || !taken.value) return;
      const { entries } = taken.value;
      this.ledger.note(`${h.name} took ${entries.map((e) => `${e.value}#${e.id}`).join(',')}`);
      this.ledger.taken(entries, h.name);
      h.leases.push({ lease: taken.value, open: new Map(entries.map((e) => [e.id, e.value])) });
    } else if (op === 'ack' || op === 'release') {
      const held = h.leases.length ? random.pick(h.leases) : undefined;
      if (!held) return this.#step(h);
      if (op === 'release') {
        h.leases = h.leases.filter((l) => l !== held);
        const released = await this.#attempt(h, 'release', () => held.lease.release());
        if (released.ok) this.ledger.note(`${h.name} released ${[...held.open.values()].join(',')}`);
        return;
      }
      const ids = [...held.open.keys()].filter(() => random.chance(0.7));
      if (ids.length === 0) ids.push([...held.open.keys()][0]!);
      const values = ids.map((id) => held.open.get(id)!);
      const acked = await this.#attempt(h, `ack ${values.join(',')}`, () => held.lease.ack(ids));
      if (acked.ok) {
        this.ledger.ackResolved(values);
        this.ledger.note(`${h.name} acked ${values.join(',')}`);
        for (const id of ids) held.open.delete(id);
        if (held.open.size === 0) h.leases = h.leases.filter((l) => l !== held);
      } else if (!(acked.error instanceof SluiceError && acked.error.code === 'ERR_LEASE_EXPIRED')) {
        // Rejected, but what reached the disk before the failure is unknown: it may count.
        this.ledger.ackFailed(values);
      }
    } else if (op === 'reopen') {
      await this.#close(h);
      await this.#open(h);
    } else {
      const size = await this.#attempt(h, 'size', () => q.size());
      if (size.ok) this.ledger.note(`${h.name} size ${size.value}`);
    }
  }

  async #open(h: Handle, clock?: Clock): Promise<void> {
    try {
      const store = new FileStore({ dir: this.#root, lockTimeoutMs: 500 });
      const q = await Queue.open<number>({ name: 'q', store, durability: this.#durability, segmentItems: this.#segmentItems, corruption: h.corruption, ...(clock && { clock }) });
      h.queue = q;
      h.reported = 0;
      h.leases = [];
      q.addEventListener('corrupt', (event) => this.ledger.corrupt(event.detail, h.name));
      this.#collect(h);
      this.ledger.note(`${h.name} opened (corruption: ${h.corruption})`);
    } catch (error) {
      this.#failed(h, 'open', error);
    }
  }

  async #close(h: Handle): Promise<void> {
    const q = h.queue;
    if (!q) return;
    try {
      await q.close();
    } catch (error) {
      if (error instanceof SluiceError) this.ledger.note(`${h.name} close: ${describe(error)}`);
      else this.ledger.fail('error', `${h.name} close threw something other than a SluiceError: ${(error as Error)?.stack ?? String(error)}`);
    }
    this.#collect(h);
    h.queue = undefined;
    h.leases = [];
  }

  /** Runs one call; a SluiceError is an outcome the workload copes with, anything else fails the trial. */
  async #attempt<R>(h: Handle, what: string, fn: () => Promise<R>): Promise<Outcome<R>> {
    try {
      const value = await fn();
      this.#collect(h);
      return { ok: true, value };
    } catch (error) {
      this.#collect(h);
      await this.#failed(h, what, error);
      return { ok: false, error };
    }
  }

  async #failed(h: Handle, what: string, error: unknown): Promise<void> {
    if (!(error instanceof SluiceError)) {
      this.ledger.fail('error', `${h.name} ${what} threw something other than a SluiceError: ${(error as Error)?.stack ?? String(error)}`);
      return;
    }
    this.ledger.note(`${h.name} ${what}: ${describe(error)}`);
    if (error.code === 'ERR_CORRUPT') {
      // The queue refuses to guess: open it again asking it to skip what it cannot read, and say so.
      h.corruption = 'skip';
      await this.#close(h);
    } else if (error.code === 'ERR_CLOSED' || (h.queue && !(await h.queue.size().then(() => true, () => false)))) {
      // A handle an fsync error made unusable: open it again.
      await this.#close(h);
    }
  }

  /** Records the 'recover' events `h` reported since last asked (its 'corrupt' events arrive by listener). */
  #collect(h: Handle): void {
    const q = h.queue;
    if (!q) return;
    for (; h.reported < q.recovered.length; h.reported++) this.ledger.recover(q.recovered[h.reported]!, h.name);
  }

  /** A new handle, an hour later, takes and acks everything left. */
  async #drain(): Promise<void> {
    const d: Handle = { name: 'drain', corruption: 'skip', reported: 0, leases: [] };
    let last: unknown;
    for (let attempt = 0; attempt < 3 && !d.queue; attempt++) {
      await this.#open(d, later);
      if (!d.queue) last = this.ledger.log[this.ledger.log.length - 1];
    }
    if (!d.queue) return this.ledger.fail('stuck', `the queue does not open again (${String(last)})`);
    let failures = 0;
    for (let round = 0; round < 200 && failures < 3; round++) {
      if (!d.queue) await this.#open(d, later);
      const q = d.queue;
      if (!q) {
        failures++;
        continue;
      }
      const taken = await this.#attempt(d, 'take', () => q.take(1000));
      if (!taken.ok) {
        failures++;
        continue;
      }
      if (!taken.value) break;
      const { entries } = taken.value;
      this.ledger.note(`drain took ${entries.map((e) => `${e.value}#${e.id}`).join(',')}`);
      this.ledger.taken(entries, 'drain');
      const acked = await this.#attempt(d, 'ack', () => taken.value!.ack());
      if (acked.ok) this.ledger.ackResolved(entries.map((e) => e.value));
      else failures++;
    }
    if (failures >= 3) this.ledger.fail('stuck', 'the queue cannot be drained (three failures in a row)');
    await this.#close(d);
  }
}

function describe(error: unknown): string {
  return error instanceof SluiceError ? `${error.code} ${error.message}` : String(error);
}
