import type { Fault } from './damage.js';
import type { Failure } from './ledger.js';

/**
 * Failures the Queue core (src/core/) causes, not the FileStore: found by this suite, reported, not yet fixed. The
 * store reports what is on disk truthfully; these are what the core then does with it.
 */
export interface CoreGap {
  readonly name: string;
  readonly description: string;
  /** True when `failure`, in a trial whose fault was `fault`, is this gap. */
  readonly matches: (fault: Fault, failure: Failure) => boolean;
}

export const CORE_GAPS: readonly CoreGap[] = [
  {
    name: 'flush resolves unwritten pushes',
    description:
      "Queue#flush keeps the units an attempt planned when the store refused it (stale token), and resolves them when the retry commits a tail repair instead: those pushes resolve but were never written",
    matches: (_, f) => f.kind === 'loss' && f.afterRepair === true,
  },
  {
    name: 'cut numbers keep their acks',
    description:
      "repairing a cut tail does not roll back acked ranges, leases and attempts of the sequence numbers cut off, so later pushes that get those numbers are silently taken for acked (or leased)",
    matches: (_, f) => f.kind === 'loss' && f.reused === true && !f.afterRepair,
  },
  {
    name: 'lost segment not reported',
    description:
      "a segment removed, emptied, or cut at a unit boundary (nothing torn left to see) is not reported: its unacked items vanish without a 'recover' or 'corrupt' event, and a lost tail's numbers are handed out again",
    matches: (fault, f) => f.kind === 'loss' && ['delete-segment', 'empty-segment', 'truncate-segment'].includes(fault) && !f.reused && !f.afterRepair,
  },
  {
    name: 'damaged tail freed unreported',
    description:
      "tail damage a reload finds is reported only when a flush or an open repairs it: an ack that frees the tail segment first removes it, damaged items and all, without a 'recover' event",
    matches: (fault, f) => f.kind === 'loss' && ['flip-segment', 'zero-segment'].includes(fault) && !f.reused && !f.afterRepair,
  },
  {
    name: 'removed meta not reported',
    description: "a removed meta file is taken for a new queue: every acked item still in a segment comes again, without a 'recover' event",
    matches: (fault, f) => f.kind === 'repeat' && fault === 'delete-meta',
  },
];

/**
 * Trials that fail through a known core gap, each with the gap it shows: those among the default run's seeds
 * (1..68), plus one example of each gap the default seeds miss (from `npm run stress:faults`). The default run
 * (`npm test`) runs them all and reports them, but they do not fail the suite. Remove a seed once the core closes
 * its gap (the suite says when a listed seed passes).
 */
export const KNOWN_CORE_GAP_SEEDS: readonly { readonly seed: number; readonly gap: string; readonly what: string }[] = [
  { seed: 6, gap: 'lost segment not reported', what: 'delete-segment: the tail segment removed, its items gone, their numbers handed out again' },
  { seed: 10, gap: 'lost segment not reported', what: 'empty-segment: a segment emptied, its unacked items gone without an event' },
  { seed: 23, gap: 'lost segment not reported', what: 'delete-segment: a segment removed, its unacked items gone without an event' },
  { seed: 27, gap: 'lost segment not reported', what: 'empty-segment: a segment emptied, its unacked items gone without an event' },
  { seed: 38, gap: 'flush resolves unwritten pushes', what: 'zero-segment: a push planned on a stale view resolves with the tail repair, never written' },
  { seed: 40, gap: 'lost segment not reported', what: 'delete-segment: a segment removed, its unacked items gone without an event' },
  { seed: 44, gap: 'lost segment not reported', what: 'empty-segment: a segment emptied, its unacked items gone without an event' },
  { seed: 53, gap: 'lost segment not reported', what: 'truncate-segment: a segment cut at a unit boundary, the items past the cut gone without an event' },
  { seed: 57, gap: 'lost segment not reported', what: 'delete-segment: the tail segment removed, its items gone, their numbers handed out again' },
  { seed: 61, gap: 'lost segment not reported', what: 'empty-segment: a segment emptied, its unacked items gone without an event' },
  { seed: 5481, gap: 'removed meta not reported', what: 'delete-meta: acked items handed out again, no recover event' },
  { seed: 1054925229, gap: 'damaged tail freed unreported', what: 'zero-segment: value 1 damaged in the tail, the ack of value 0 removes the segment, no event' },
  { seed: 5576, gap: 'cut numbers keep their acks', what: "flip-segment: after the cut, a new push gets seq 1, and the ack of the old lease on seq 1 removes it" },
];
