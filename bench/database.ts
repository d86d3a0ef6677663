import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Bench databases on the PostgreSQL server named by the admin URL: created fresh
 * (`switchboard_bench_<random>`) and dropped at the end.
 */
export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Databases created and not dropped yet (the CLI drops them if interrupted). */
export const openBenchDatabases = new Set<BenchDatabase>();

export async function postgresReachable(adminUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

export async function createBenchDatabase(adminUrl: string): Promise<BenchDatabase> {
  const name = `switchboard_bench_${randomBytes(4).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db: BenchDatabase = {
    url: url.toString(),
    async drop() {
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      openBenchDatabases.delete(db);
    },
  };
  openBenchDatabases.add(db);
  return db;
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function pgVersion(adminUrl: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return rows[0]?.server_version;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}
