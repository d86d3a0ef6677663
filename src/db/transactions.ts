/**
 * Options for a run's short interactive transactions (create, pause, complete, ledger).
 * Prisma's defaults (2 s to get a connection, 5 s to finish) fail under a burst: 500 runs
 * started in the same instant queue for a pool of 10 connections, and on a loaded machine
 * the wait passes 2 s ("Unable to start a transaction in the given time") and the run is
 * refused. Waiting longer costs nothing while the pool is free; the statements inside stay
 * few and short, so holding a connection longer than this means the database is unwell.
 */
export const RUN_TX_OPTIONS = { maxWait: 20_000, timeout: 20_000 } as const;
