import pg from 'pg';
import type { PrismaClient } from './database.js';

/**
 * What the bot processes sharing one PostgreSQL database agree on about Slack
 * (docs/operations.md, "Several processes"):
 *
 * - **One budget.** Slack counts its rate limits per workspace and app, not per process, so
 *   each Web API method (and channel, for chat.postMessage) has one token bucket here, in a
 *   row. A token is taken with one guarded statement: the row is brought up to date and
 *   decremented only if a whole token (plus the caller's reserve) is there; otherwise
 *   nothing changes and the caller learns how long to wait.
 * - **Nothing stranded.** A process records the runs whose messages it has not sent yet and
 *   says it is alive every few seconds; when one stops (killed, lost), another takes its
 *   rows over and redraws those runs from the database.
 *
 * - **One picture.** Engine events stay in the process that raised them, but a run's
 *   messages may be another process's (it posted the parent, or claimed a card first). A
 *   process that changed a run says so on the `switchboard_runs` channel (NOTIFY), and the
 *   others redraw the runs they have messages of.
 *
 * Times are ms since the epoch from the callers' clocks (the processes of one deployment
 * share NTP time; a skew of a few ms only moves a token by as much).
 */

export interface BucketRate {
  perSecond: number;
  burst: number;
}

/** The NOTIFY channel of run changes between processes. */
const RUNS_CHANNEL = 'switchboard_runs';

interface BudgetRow {
  granted: number | null;
  tokens: number | null;
  atMs: number | null;
  pausedUntilMs: number | null;
}

export class SlackCoordination {
  /** Bucket rows this process knows exist (created with a full burst on first use). */
  private readonly known = new Set<string>();

  constructor(
    private readonly prisma: PrismaClient,
    /** PostgreSQL URL, for the LISTEN connection (none: no notifications are received). */
    private readonly url?: string | undefined,
  ) {}

  /** Tells the other processes that these runs changed (one NOTIFY per ~7,000 bytes of ids). */
  async notifyRuns(from: string, runIds: readonly string[]): Promise<void> {
    for (let i = 0; i < runIds.length; ) {
      let payload = `${from};`;
      while (i < runIds.length && payload.length + runIds[i]!.length < 7_000) payload += `${runIds[i++]},`;
      if (payload === `${from};`) payload += `${runIds[i++]},`;
      await this.prisma.$executeRawUnsafe(`SELECT pg_notify('${RUNS_CHANNEL}', $1)`, payload.slice(0, -1));
    }
  }

  /**
   * Calls `onRuns` with the runs other processes changed, on a connection of its own that
   * reconnects after a failure. Returns the function that stops listening.
   */
  async listenRuns(
    onRuns: (from: string, runIds: string[]) => void,
    onError: (error: unknown) => void = () => {},
  ): Promise<() => Promise<void>> {
    const url = this.url;
    if (!url) return async () => {};
    let client: pg.Client | undefined;
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    const connect = async () => {
      const c = new pg.Client({ connectionString: url });
      c.on('notification', (n) => {
        if (n.channel !== RUNS_CHANNEL || !n.payload) return;
        const at = n.payload.indexOf(';');
        onRuns(n.payload.slice(0, at), n.payload.slice(at + 1).split(','));
      });
      c.on('error', (error) => {
        onError(error);
        if (client === c) client = undefined;
        c.end().catch(() => {});
        if (!stopped) retry = setTimeout(() => void connect().catch(onError), 1000).unref();
      });
      await c.connect();
      await c.query(`LISTEN ${RUNS_CHANNEL}`);
      if (stopped) await c.end();
      else client = c;
    };
    await connect();
    return async () => {
      stopped = true;
      clearTimeout(retry);
      await client?.end().catch(() => {});
      client = undefined;
    };
  }

  /**
   * Takes one token from bucket `key` if at least 1 + `reserve` are there at `nowMs`.
   * Returns 0 when taken, else the ms until enough will be.
   */
  async takeToken(key: string, rate: BucketRate, reserve: number, nowMs: number): Promise<number> {
    if (!this.known.has(key)) {
      await this.prisma.$executeRawUnsafe(
        `INSERT INTO "SlackBudget" ("key", "tokens", "atMs") VALUES ($1, $2, $3) ON CONFLICT ("key") DO NOTHING`,
        key,
        rate.burst,
        nowMs,
      );
      this.known.add(key);
    }
    // The outer SELECT sees the row as it was before the UPDATE in the same statement.
    const rows = await this.prisma.$queryRawUnsafe<BudgetRow[]>(
      `WITH taken AS (
         UPDATE "SlackBudget" SET
           "tokens" = LEAST($2::float8, "tokens" + GREATEST(0, $4::float8 - GREATEST("atMs", "pausedUntilMs")) * $3::float8 / 1000) - 1,
           "atMs" = GREATEST($4::float8, "atMs")
         WHERE "key" = $1 AND "pausedUntilMs" <= $4::float8
           AND LEAST($2::float8, "tokens" + GREATEST(0, $4::float8 - GREATEST("atMs", "pausedUntilMs")) * $3::float8 / 1000) >= 1 + $5::float8
         RETURNING "tokens"
       )
       SELECT (SELECT "tokens" FROM taken) AS granted, b."tokens", b."atMs", b."pausedUntilMs"
         FROM "SlackBudget" b WHERE b."key" = $1`,
      key,
      rate.burst,
      rate.perSecond,
      nowMs,
      reserve,
    );
    const row = rows[0];
    if (!row) {
      this.known.delete(key);
      return 1;
    }
    if (row.granted !== null) return 0;
    const paused = Math.max(0, Number(row.pausedUntilMs) - nowMs);
    const since = Math.max(Number(row.atMs), Number(row.pausedUntilMs));
    const now = Math.min(
      rate.burst,
      Number(row.tokens) + (Math.max(0, nowMs - since) * rate.perSecond) / 1000,
    );
    const short = Math.max(0, 1 + reserve - now);
    return Math.max(1, paused, Math.ceil((short / rate.perSecond) * 1000));
  }

  /** No token from bucket `key` before `untilMs` (a 429's Retry-After), then one. */
  async pauseBucket(key: string, untilMs: number): Promise<void> {
    await this.prisma.$executeRawUnsafe(
      `UPDATE "SlackBudget" SET "pausedUntilMs" = GREATEST("pausedUntilMs", $2::float8), "tokens" = LEAST("tokens", 1)
        WHERE "key" = $1`,
      key,
      untilMs,
    );
  }

  /** This process is alive at `nowMs`. */
  async heartbeat(replica: string, nowMs: number): Promise<void> {
    await this.prisma.$executeRawUnsafe(
      `INSERT INTO "SlackReplica" ("id", "seenAtMs") VALUES ($1, $2)
       ON CONFLICT ("id") DO UPDATE SET "seenAtMs" = GREATEST("SlackReplica"."seenAtMs", EXCLUDED."seenAtMs")`,
      replica,
      nowMs,
    );
  }

  /** How many processes were heard of since `staleBeforeMs` (at least 1: the caller). */
  async liveReplicas(staleBeforeMs: number): Promise<string[]> {
    const rows = await this.prisma.$queryRawUnsafe<{ id: string }[]>(
      `SELECT "id" FROM "SlackReplica" WHERE "seenAtMs" >= $1::float8`,
      staleBeforeMs,
    );
    return rows.map((row) => row.id);
  }

  /** This process stops publishing (its pending runs, if any, go to the others at once). */
  async leave(replica: string): Promise<void> {
    await this.prisma.$executeRawUnsafe(`DELETE FROM "SlackReplica" WHERE "id" = $1`, replica);
  }

  /** Records runs with messages this process has yet to send, and forgets the ones it sent. */
  async recordPending(replica: string, pending: string[], sent: string[], nowMs: number): Promise<void> {
    if (pending.length > 0)
      await this.prisma.$executeRawUnsafe(
        `INSERT INTO "SlackPendingRun" ("runId", "replica", "atMs") SELECT unnest($2::text[]), $1, $3
         ON CONFLICT ("runId") DO UPDATE SET "replica" = EXCLUDED."replica", "atMs" = EXCLUDED."atMs"`,
        replica,
        pending,
        nowMs,
      );
    if (sent.length > 0)
      await this.prisma.$executeRawUnsafe(
        `DELETE FROM "SlackPendingRun" WHERE "replica" = $1 AND "runId" = ANY($2::text[])`,
        replica,
        sent,
      );
  }

  /**
   * Takes over the pending runs of processes not seen since `staleBeforeMs` (or gone), and
   * forgets those processes. Returns the runs and whose they were.
   */
  async adoptOrphans(
    replica: string,
    nowMs: number,
    staleBeforeMs: number,
  ): Promise<{ runId: string; from: string }[]> {
    const adopted = await this.prisma.$queryRawUnsafe<{ runId: string; from: string }[]>(
      `WITH orphan AS (
         SELECT p."runId", p."replica" FROM "SlackPendingRun" p
          WHERE p."replica" <> $1
            AND NOT EXISTS (SELECT 1 FROM "SlackReplica" r WHERE r."id" = p."replica" AND r."seenAtMs" >= $3::float8)
          FOR UPDATE SKIP LOCKED
       )
       UPDATE "SlackPendingRun" p SET "replica" = $1, "atMs" = $2::float8 FROM orphan
        WHERE p."runId" = orphan."runId"
       RETURNING p."runId" AS "runId", orphan."replica" AS "from"`,
      replica,
      nowMs,
      staleBeforeMs,
    );
    await this.prisma.$executeRawUnsafe(
      `DELETE FROM "SlackReplica" WHERE "seenAtMs" < $1::float8 AND "id" <> $2`,
      staleBeforeMs,
      replica,
    );
    return adopted;
  }
}
