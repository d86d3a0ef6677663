import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from './database.js';

/**
 * Applies prisma/migrations in order through the app's own connection, recording them in
 * Prisma's `_prisma_migrations` table exactly as `prisma migrate deploy` does, so either
 * tool can take over. We do it ourselves because the embedded database has no server for
 * Prisma's CLI to reach, and the CLI's schema-engine binary cannot be downloaded on
 * machines that only reach the npm registry.
 */

export const MIGRATIONS_DIR = new URL('../../prisma/migrations/', import.meta.url).pathname;

/** Same lock id as Prisma's migrate, so our start and `prisma migrate deploy` never overlap. */
const ADVISORY_LOCK_ID = 72707369;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

const CREATE_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id" VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum" VARCHAR(64) NOT NULL,
    "finished_at" TIMESTAMPTZ,
    "migration_name" VARCHAR(255) NOT NULL,
    "logs" TEXT,
    "rolled_back_at" TIMESTAMPTZ,
    "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

/** Applies pending migrations; returns the names applied. */
export async function migrate(db: Database, migrations = readMigrations()): Promise<string[]> {
  const locked = db.kind === 'postgres';
  if (locked) await db.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCK_ID]);
  try {
    await db.exec(CREATE_TABLE);
    const rows = await db.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
    );
    const applied = new Map(rows.map((r) => [r.migration_name, r]));
    const done: string[] = [];
    for (const migration of migrations) {
      const previous = applied.get(migration.name);
      if (previous?.finished_at) {
        if (previous.checksum !== migration.checksum) {
          throw new MigrationError(
            `Migration ${migration.name} was changed after it was applied. Restore the committed file, or reset the database.`,
          );
        }
        continue;
      }
      if (previous) {
        throw new MigrationError(
          `Migration ${migration.name} failed earlier and left the database half-migrated. Fix it by hand, then mark it rolled back.`,
        );
      }
      await applyOne(db, migration);
      done.push(migration.name);
    }
    return done;
  } finally {
    if (locked) await db.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCK_ID]);
  }
}

async function applyOne(db: Database, migration: Migration): Promise<void> {
  const id = randomUUID();
  try {
    // One transaction per migration: it applies whole or not at all.
    await db.exec(`BEGIN;\n${migration.sql}\n;
INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
VALUES ('${id}', '${migration.checksum}', '${migration.name.replace(/'/g, "''")}', now(), now(), 1);
COMMIT;`);
  } catch (error) {
    await db.exec('ROLLBACK').catch(() => {});
    throw new MigrationError(`Migration ${migration.name} failed: ${(error as Error).message}`);
  }
}
