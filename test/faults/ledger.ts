import type { CorruptDetail, RecoverDetail } from '../../src/index.js';

/** Something the queue said that excuses items missing (`loses`) or coming again (`repeats`) from then on. */
interface Report {
  readonly t: number;
  readonly text: string;
  readonly loses?: (seq: number | undefined) => boolean;
  readonly repeats?: (seq: number | undefined) => boolean;
  readonly tail?: boolean;
}

/** One way a trial broke its invariant. */
export interface Failure {
  readonly kind: 'loss' | 'repeat' | 'stray' | 'stuck' | 'error';
  readonly text: string;
  /** For a loss: the lost item's sequence number had held another item before (numbers reused after a cut). */
  readonly reused?: boolean;
  /** For a loss: the push resolved in the same call in which the queue repaired a cut tail ('recover' 'tail'). */
  readonly afterRepair?: boolean;
}

/**
 * What a trial did and saw, in the order it happened (`t` counts observations), and the one invariant judged from
 * it: every resolved push is acked exactly once, unless a 'recover' or 'corrupt' event said, after the push, that
 * it may be missing, or, after its ack, that it may come again. A push or ack that rejected may or may not have
 * happened; an item nobody pushed must never come out.
 */
export class Ledger {
  readonly log: string[] = [];
  #t = 0;
  readonly #pushed = new Map<number, number>();
  readonly #afterRepair = new Set<number>();
  readonly #maybePushed = new Set<number>();
  readonly #seqs = new Map<number, number>();
  readonly #holders = new Map<number, Set<number>>();
  readonly #acked = new Map<number, number[]>();
  readonly #maybeAcked = new Set<number>();
  readonly #redelivered: { value: number; ackedAt: number; at: number; who: string }[] = [];
  readonly #reports: Report[] = [];
  readonly #failures: Failure[] = [];

  note(line: string): void {
    this.log.push(`t${this.#t} ${line}`);
  }

  pushResolved(values: readonly number[]): void {
    // A tail repair reported by the call that pushed them (observed just before).
    const last = this.#reports[this.#reports.length - 1];
    const repaired = last?.t === this.#t && last.tail === true;
    const t = ++this.#t;
    for (const v of values) {
      this.#pushed.set(v, t);
      if (repaired) this.#afterRepair.add(v);
    }
  }

  pushFailed(values: readonly number[]): void {
    for (const v of values) this.#maybePushed.add(v);
  }

  /** The item `value` is at sequence number `seq` (from a list or a take). */
  seen(seq: number, value: number): void {
    this.#seqs.set(value, seq);
    let holders = this.#holders.get(seq);
    if (!holders) this.#holders.set(seq, (holders = new Set()));
    holders.add(value);
  }

  /** Entries handed out to `who`: an item whose ack resolved before comes again; one never pushed is a stray. */
  taken(entries: readonly { id: string; value: unknown }[], who: string): void {
    const t = ++this.#t;
    for (const { id, value } of entries) {
      if (typeof value !== 'number' || !(this.#pushed.has(value) || this.#maybePushed.has(value))) {
        this.#failures.push({ kind: 'stray', text: `${who} was handed ${JSON.stringify(value)} (id ${id}), which was never pushed` });
        continue;
      }
      this.seen(Number(id), value);
      const acks = this.#acked.get(value);
      if (acks?.length) this.#redelivered.push({ value, ackedAt: acks[acks.length - 1]!, at: t, who });
    }
  }

  ackResolved(values: readonly number[]): void {
    const t = ++this.#t;
    for (const v of values) this.#acked.set(v, [...(this.#acked.get(v) ?? []), t]);
  }

  ackFailed(values: readonly number[]): void {
    for (const v of values) this.#maybeAcked.add(v);
  }

  recover(detail: RecoverDetail, who: string): void {
    const t = ++this.#t;
    const text = `${who}: recover ${JSON.stringify(detail)}`;
    this.note(text);
    // 'meta', 'meta-missing', 'meta-damaged': the state was rebuilt or may have lost changes, so the items of the
    // range it names (`again`) may come again. 'tail': the items of the tail segment from the cut on may be missing
    // (the event names the segment, not the items). 'rollback' forgets what was known of ids the cut took: it
    // excuses nothing that 'tail' does not already.
    if (detail.kind === 'tail') this.#reports.push({ t, text, tail: true, loses: (seq) => seq === undefined || seq >= (detail.segment ?? 0) });
    else if (detail.kind !== 'rollback') {
      const [first, end] = (detail.again ?? ['0', String(Infinity)]).map(Number) as [number, number];
      this.#reports.push({ t, text, repeats: (seq) => seq === undefined || (seq >= first && seq < end) });
    }
  }

  corrupt(detail: CorruptDetail, who: string): void {
    const t = ++this.#t;
    const text = `${who}: corrupt ${JSON.stringify(detail)}`;
    this.note(text);
    const lost = new Set(detail.lost.map(Number));
    this.#reports.push({ t, text, loses: (seq) => seq !== undefined && lost.has(seq) });
  }

  fail(kind: 'stuck' | 'error', text: string): void {
    this.note(`FAIL ${kind}: ${text}`);
    this.#failures.push({ kind, text });
  }

  /** Every way the trial broke the invariant; empty when it held. */
  verdict(): Failure[] {
    const failures = [...this.#failures];
    for (const [value, at] of this.#pushed) {
      if (this.#acked.has(value) || this.#maybeAcked.has(value)) continue;
      const seq = this.#seqs.get(value);
      const excuse = this.#reports.find((r) => r.t > at && r.loses?.(seq));
      if (excuse) continue;
      const others = [...(this.#holders.get(seq ?? -1) ?? [])].filter((v) => v !== value && (this.#pushed.get(v) ?? Infinity) < at);
      const reused = others.length > 0;
      failures.push({
        kind: 'loss',
        reused,
        afterRepair: this.#afterRepair.has(value),
        text:
          `value ${value} (seq ${seq ?? '?'}) pushed at t${at} was never acked, and no event names it` +
          (reused ? `; seq ${seq} held value ${others.join(', ')} before` : '') +
          (this.#afterRepair.has(value) ? '; its push resolved in the call that repaired a cut tail' : ''),
      });
    }
    for (const r of this.#redelivered) {
      if (this.#reports.some((e) => e.repeats?.(this.#seqs.get(r.value)) && e.t > r.ackedAt && e.t <= r.at)) continue;
      failures.push({ kind: 'repeat', text: `value ${r.value} (seq ${this.#seqs.get(r.value)}), acked at t${r.ackedAt}, was handed to ${r.who} again at t${r.at}, and no event said it may come again` });
    }
    return failures;
  }

  get counts(): { pushed: number; acked: number } {
    return { pushed: this.#pushed.size, acked: this.#acked.size };
  }
}
