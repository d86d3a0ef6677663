/**
 * Time, passed in so tests can drive it. One shape for every part: the engine's backoff
 * and leases, the scheduler, the health figures, Slack's rate limits and the publisher.
 * Parts that need only the time take `Pick<Clock, 'now'>`.
 */
export interface Clock {
  now(): Date;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Calls `fn` after `ms`; cancellable, so a stopped part leaves no timer behind. The
   * system clock's timers do not keep the process alive.
   */
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref?.();
    return { cancel: () => clearTimeout(timer) };
  },
};

/** Milliseconds since the epoch on `clock`. */
export const nowMs = (clock: Pick<Clock, 'now'>): number => clock.now().getTime();
