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
  // A draw outside [0, 1) (a test's hook gone wrong) made a delay past `maxDelayMs`, or one that is no number, which
  // failed the settling of the request and held its task: taken as the nearest draw inside, or as the longest wait.
  const draw = random();
  const within = typeof draw === 'number' && draw === draw ? Math.min(Math.max(draw, 0), 1) : 1;
  return Math.floor(within * grown(policy, Math.max(0, attempts - 1)));
}

/** `initialDelayMs × factor^exponent`, at most `maxDelayMs`. */
export function grown(policy: BackoffPolicy, exponent: number): number {
  // 0 stays 0: past 2^1024 (attempt 1 025 with a factor of 2) the growth is Infinity, and 0 × Infinity is NaN.
  return policy.initialDelayMs === 0 ? 0 : Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** exponent);
}
