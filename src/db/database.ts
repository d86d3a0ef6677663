import { existsSync, mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from './generated/client.js';

export type { PrismaClient };

/** A parameterised statement through the driver itself, returning its rows (Database.query). */
export type SqlQuery = <T = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>;

/**
 * One database, either PostgreSQL (DATABASE_URL set) or embedded PGlite persisted under
 * DATA_DIR. Both run the same schema and migrations; the app talks to both through Prisma.
 */
export interface Database {
  readonly kind: 'postgres' | 'embedded';
  readonly prisma: PrismaClient;
  /** The PostgreSQL URL (undefined for the embedded database). */
  readonly url: string | undefined;
  /** Runs SQL that may hold several statements (migrations). */
  exec(sql: string): Promise<void>;
  /** A parameterised query returning rows. */
  query: SqlQuery;
  close(): Promise<void>;
  /** Embedded only: the data directory as a tarball, to open copies from (`snapshot`). */
  dump?(): Promise<Blob>;
}

export interface DatabaseOptions {
  /** postgresql:// URL; unset → embedded. */
  url?: string | undefined;
  /** Folder for the embedded database, or 'memory' for a throwaway one. */
  dataDir?: string | undefined;
  /** PostgreSQL pool size. */
  poolSize?: number | undefined;
  /**
   * A new embedded database created from a data directory dumped earlier (PGlite's
   * dumpDataDir) instead of a fresh initdb: what the test suite does with one migrated
   * snapshot, a few times faster than creating each database anew. Ignored for a folder
   * that already holds a database.
   */
  snapshot?: Blob | undefined;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.url
    ? openPostgres(options.url, options.poolSize ?? 10)
    : openEmbedded(options.dataDir ?? './data', options.snapshot);
}

async function openPostgres(url: string, poolSize: number): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // A dropped idle connection (server restart) must not crash the process: the pool
  // replaces it and the next query reconnects.
  pool.on('error', () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    kind: 'postgres',
    prisma,
    url,
    async exec(sql) {
      await pool.query(sql);
    },
    async query(sql, params) {
      const result = await pool.query(sql, params as unknown[]);
      return result.rows;
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function openEmbedded(dataDir: string, snapshot: Blob | undefined): Promise<Database> {
  let client: PGlite;
  if (dataDir === 'memory') {
    client = new PGlite(snapshot ? { loadDataDir: snapshot } : {});
  } else {
    const path = `${dataDir.replace(/\/$/, '')}/pglite`;
    const fresh = !existsSync(path);
    mkdirSync(dataDir, { recursive: true });
    client = new PGlite(path, snapshot && fresh ? { loadDataDir: snapshot } : {});
  }
  await client.waitReady;
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(client) });
  return {
    kind: 'embedded',
    prisma,
    url: undefined,
    async exec(sql) {
      await client.exec(sql);
    },
    async query(sql, params) {
      const result = await client.query(sql, params as unknown[]);
      return result.rows as never[];
    },
    async close() {
      await prisma.$disconnect();
      await client.close();
    },
    dump: () => client.dumpDataDir('none'),
  };
}
