/**
 * Options for a run's short interactive transactions (pause, a completion with skips or an
 * approval gate, decisions, ledger). Prisma's defaults (2 s to get a connection, 5 s to
 * finish) fail under a burst: 500 runs started in the same instant queued for a pool of 10
 * connections, and on a loaded machine the wait passed 2 s ("Unable to start a transaction
 * in the given time") and the run was refused. (A run's creation is one statement now, with
 * no transaction to start: it waits in the pool's queue like any query.) Waiting longer costs nothing while the pool is free; the statements inside stay
 * few and short, so holding a connection longer than this means the database is unwell.
 */
export const RUN_TX_OPTIONS = { maxWait: 20_000, timeout: 20_000 } as const;
