import { type Clock, nowMs, systemClock } from '../core/clock.js';
/**
 * Readiness asks "is our Slack token still good?" with auth.test. Probes come every few
 * seconds from every replica, so the answer is cached: a success for `okTtlMs` (30 s), a
 * failure for a shorter `failTtlMs` (5 s) so a fixed token or a Slack blip recovers quickly.
 * Concurrent probes share one call. Takes only a function, so src/ops imports nothing of
 * Slack: main.ts passes `() => app.client.auth.test()`.
 */
export function cachedSlackAuthCheck(
  authTest: () => Promise<{ ok?: boolean }>,
  options: { okTtlMs?: number; failTtlMs?: number; clock?: Pick<Clock, 'now'> } = {},
): () => Promise<boolean> {
  const okTtl = options.okTtlMs ?? 30_000;
  const failTtl = options.failTtlMs ?? 5_000;
  const clock = options.clock ?? systemClock;
  const now = () => nowMs(clock);
  let cached: { ok: boolean; until: number } | undefined;
  let inflight: Promise<boolean> | undefined;

  return () => {
    if (cached && now() < cached.until) return Promise.resolve(cached.ok);
    inflight ??= authTest()
      // The Web API client rejects on ok:false (invalid_auth, token_revoked, …) and on
      // network errors; either way the bot cannot talk to Slack.
      .then(
        (response) => response.ok === true,
        () => false,
      )
      .then((ok) => {
        cached = { ok, until: now() + (ok ? okTtl : failTtl) };
        return ok;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };
}
