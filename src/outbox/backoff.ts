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
  return Math.floor(random() * grown(policy, Math.max(0, attempts - 1)));
}

/** `initialDelayMs × factor^exponent`, at most `maxDelayMs`. */
export function grown(policy: BackoffPolicy, exponent: number): number {
  // 0 stays 0: past 2^1024 (attempt 1 025 with a factor of 2) the growth is Infinity, and 0 × Infinity is NaN.
  return policy.initialDelayMs === 0 ? 0 : Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** exponent);
}
