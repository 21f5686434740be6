/** The retry delays of `OutboxOptions.retry`, resolved. */
export interface BackoffPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly factor: number;
}

/**
 * The delay before attempt `attempts + 1`, after `attempts` failed ones: exponential with full jitter, a uniform
 * draw from [0, min(max, initial * factor^(attempts-1))). Full jitter spreads clients that failed together, so a
 * server coming back is not hit by all of them at once (AWS Architecture Blog, "Exponential Backoff And Jitter").
 */
export function backoffDelay(policy: BackoffPolicy, attempts: number, random: () => number): number {
  return Math.floor(drawn(random) * grown(policy, Math.max(0, attempts - 1)));
}

/** The least time between probes while offline, or between holds of a host that fails, whatever the retry policy. */
const MIN_PROBE_GAP_MS = 1000;

/**
 * The wait before the next probe (of the network, or of a host that fails) after `failures` in a row: the backoff's
 * growth, drawn from half of it to one and a half (as much on average). Not a full jitter: a probe is the only request
 * that goes, so a draw near 0 would be another at once. Without any, clients that went offline together probed
 * together, 1, 2, 4 s after, each time within a few milliseconds of one another, and met a server coming back at once.
 */
export function probeGap(policy: BackoffPolicy, failures: number, random: () => number): number {
  // A retry policy of no delay (retry at once, a few times) must not make the probes a storm.
  return Math.max(MIN_PROBE_GAP_MS, Math.floor((0.5 + drawn(random)) * grown(policy, failures - 1)));
}

/** A draw of `random` in [0, 1]. */
function drawn(random: () => number): number {
  // A draw outside [0, 1) (a test's hook gone wrong) made a delay past `maxDelayMs`, or one that is no number, which
  // failed the settling of the request and held its task: taken as the nearest draw inside, or as the longest wait.
  const draw = random();
  return typeof draw === 'number' && draw === draw ? Math.min(Math.max(draw, 0), 1) : 1;
}

/** `initialDelayMs × factor^exponent`, at most `maxDelayMs`. */
export function grown(policy: BackoffPolicy, exponent: number): number {
  // 0 stays 0: past 2^1024 (attempt 1 025 with a factor of 2) the growth is Infinity, and 0 × Infinity is NaN.
  return policy.initialDelayMs === 0 ? 0 : Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** exponent);
}
