import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type Clock, systemClock } from '../../src/core/clock.js';
import { EngineEventBus } from '../../src/core/events.js';
import { type Database, openDatabase } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { openStores, type Stores } from '../../src/db/stores.js';

/**
 * A fresh, migrated database for one test file. Embedded (in-memory PGlite) by default;
 * with TEST_DATABASE_URL set, a new PostgreSQL database created beside the one named there
 * and dropped again at close.
 */
export type TestDatabase = Database;

export const usingPostgres = Boolean(process.env.TEST_DATABASE_URL);

/**
 * A migrated embedded database, dumped once per `npm test` (vitest's globalSetup calls
 * `writeEmbeddedSnapshot`): each test file opens a copy instead of running initdb and the
 * migrations again, which costs seconds per file on a busy two-core machine.
 */
const SNAPSHOT = join(new URL('../../', import.meta.url).pathname, 'test/.build/embedded-migrated.tar');

export async function writeEmbeddedSnapshot(): Promise<void> {
  const db = await openDatabase({ dataDir: 'memory' });
  try {
    await migrate(db);
    // Written aside and renamed: a suite started meanwhile in the same checkout reads a whole one.
    const aside = `${SNAPSHOT}.${process.pid}.tmp`;
    writeFileSync(aside, Buffer.from(await (await db.dump!()).arrayBuffer()));
    renameSync(aside, SNAPSHOT);
  } finally {
    await db.close();
  }
}

const readSnapshot = () => (existsSync(SNAPSHOT) ? new Blob([readFileSync(SNAPSHOT)]) : undefined);

/**
 * `dataDir` made to hold the migrated embedded database, as a bot process leaves it after
 * its first start: a test that starts bot processes on the embedded database spares each
 * new folder the initdb (several seconds of CPU). Returns `dataDir`.
 */
export async function seededDataDir(dataDir: string): Promise<string> {
  const db = await openDatabase({ dataDir, snapshot: readSnapshot() });
  await db.close();
  return dataDir;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) {
    const db = await openDatabase({ dataDir: 'memory', snapshot: readSnapshot() });
    // Applies nothing on the snapshot, unless a migration was added since it was taken.
    await migrate(db);
    return db;
  }
  const name = `sb_test_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const db = await openDatabase({ url: url.toString(), poolSize: 5 });
  await migrate(db);
  const close = db.close.bind(db);
  return Object.assign(db, {
    async close() {
      await close();
      const dropper = new pg.Client({ connectionString: base });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await dropper.end();
    },
  });
}

/** Empties every table (keeps migrations), for suites that share one database. */
export async function truncateAll(db: Database): Promise<void> {
  const rows = await db.query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'",
  );
  if (rows.length === 0) return;
  await db.exec(`TRUNCATE ${rows.map((r) => `"${r.tablename}"`).join(', ')} RESTART IDENTITY CASCADE`);
}

/**
 * One database for a whole test file, emptied before each test: the beforeAll, afterAll and
 * beforeEach hooks every suite sharing a database needs. `onOpen` receives it once created.
 */
export function useTestDatabase(onOpen: (db: TestDatabase) => void): void {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    onOpen(db);
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    if (db) await truncateAll(db);
  });
}

/** The data layer over a test database, as the bot opens it (src/db/stores.ts). */
export function storesOf(
  db: Database,
  clock: Pick<Clock, 'now' | 'sleep' | 'setTimeout'> = systemClock,
): Stores {
  return openStores(db, new EngineEventBus(), clock);
}
