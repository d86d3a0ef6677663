/**
 * How big and how long each phase is. Every wait has a bound, so the full run stays well
 * under 10 minutes on two cores and the quick one takes about a minute and a half.
 */
export interface Profile {
  /**
   * (a) requests per second, and how many requests each rate sends per server and kind: the
   * same count at every rate, so each p99 rests on as many samples (1000: the 10 slowest).
   */
  ackRates: number[];
  ackRequests: number;
  /** (b) concurrent runs per measurement, on each database. */
  engineSizes: number[];
  /** Bound for a burst of runs to finish. */
  engineTimeoutMs: number;
  /** How long N runs are kept in flight. */
  steadySeconds: number;
  /** (c, d) runs started through Slack, spread over this many channels. */
  slackRuns: number;
  slackChannels: number;
  /** Bounds: for the runs to complete, then for every final state to show in Slack. */
  completeTimeoutMs: number;
  shownTimeoutMs: number;
  /** The bot's WORKER_CONCURRENCY. */
  botConcurrency: number;
  /** (e) concurrent streaming steps per measurement, and tokens per answer (at 50 tokens/s). */
  streamLevels: number[];
  streamTokens: number;
}

export const PROFILES: { full: Profile; quick: Profile } = {
  full: {
    ackRates: [20, 100],
    ackRequests: 1000,
    engineSizes: [1, 50, 500],
    engineTimeoutMs: 45_000,
    steadySeconds: 6,
    slackRuns: 200,
    slackChannels: 50,
    completeTimeoutMs: 120_000,
    shownTimeoutMs: 150_000,
    botConcurrency: 50,
    streamLevels: [1, 10, 50],
    streamTokens: 1000,
  },
  quick: {
    ackRates: [20, 100],
    ackRequests: 40,
    engineSizes: [1, 5],
    engineTimeoutMs: 30_000,
    steadySeconds: 2,
    slackRuns: 6,
    slackChannels: 3,
    completeTimeoutMs: 30_000,
    shownTimeoutMs: 20_000,
    botConcurrency: 8,
    streamLevels: [1, 10],
    streamTokens: 150,
  },
};
