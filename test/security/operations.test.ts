import { networkInterfaces } from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, secretValues } from '../../src/config.js';
import { createLogger } from '../../src/logging.js';
import { createOpsRoutes, isLoopback, type OpsServer, startOpsServer } from '../../src/ops/http.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

/**
 * Promise: what operators configure stays theirs. Every secret — the database password
 * included, as written in DATABASE_URL and decoded — is scrubbed from every log line;
 * /metrics answers clients on the bot's own machine, or anyone presenting METRICS_TOKEN,
 * and nobody else, in either Slack mode (HTTP mode serves it on the public PORT).
 */

let db: TestDatabase;
const servers: OpsServer[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.close();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('secrets', () => {
  it('scrubs the DATABASE_URL password (as written and decoded) and METRICS_TOKEN from logs', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://switchboard:p%40ss-w0rd-9f3a@db.internal:5432/switchboard',
      METRICS_TOKEN: 'metrics-token-7d1e9b2c44',
    });
    expect(secretValues(config)).toEqual(
      expect.arrayContaining(['p%40ss-w0rd-9f3a', 'p@ss-w0rd-9f3a', 'metrics-token-7d1e9b2c44']),
    );
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      secrets: secretValues(config),
      destination: { write: (line) => lines.push(line) },
    });
    logger.error(
      { err: 'connect ECONNREFUSED postgresql://switchboard:p%40ss-w0rd-9f3a@db.internal:5432/switchboard' },
      'password p@ss-w0rd-9f3a rejected; token metrics-token-7d1e9b2c44',
    );
    const out = lines.join('');
    expect(out).not.toContain('ss-w0rd-9f3a');
    expect(out).not.toContain('metrics-token-7d1e9b2c44');
    expect(out).toContain('[redacted]');
  });

  it('refuses a METRICS_TOKEN too short to be one, naming it', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrowError(ConfigError);
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrowError(/METRICS_TOKEN: must be at least 16/);
  });
});

/** The ops server on every interface (as Socket Mode's is), with metrics that say "metrics". */
async function serve(token?: string) {
  const server = await startOpsServer({
    port: 0,
    host: '0.0.0.0',
    routes: createOpsRoutes({
      database: db,
      checkSlack: async () => true,
      metrics: { contentType: 'text/plain', render: async () => 'switchboard_runs_total 1\n' },
      metricsToken: token,
    }),
  });
  servers.push(server);
  return server.port;
}

/** An address of this machine that is not loopback, if it has one. */
const outside = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

describe('/metrics', () => {
  it('answers loopback clients without a token', async () => {
    const port = await serve();
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('switchboard_runs_total');
  });

  it.skipIf(!outside)('refuses other clients without METRICS_TOKEN, saying how to allow them', async () => {
    const port = await serve();
    const res = await fetch(`http://${outside}:${port}/metrics`);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toContain('METRICS_TOKEN');
    // Health and readiness stay open to probes from anywhere.
    expect((await fetch(`http://${outside}:${port}/healthz`)).status).toBe(200);
  });

  it('with METRICS_TOKEN, answers whoever sends it and nobody else', async () => {
    const token = 'metrics-token-7d1e9b2c44';
    const port = await serve(token);
    const host = outside ?? '127.0.0.1';
    const get = (authorization?: string) =>
      fetch(`http://${host}:${port}/metrics`, { headers: authorization ? { authorization } : {} });
    expect((await get()).status).toBe(401);
    expect((await get('Bearer wrong-token-0000000000')).status).toBe(401);
    expect((await get(`Bearer ${token}x`)).status).toBe(401);
    const ok = await get(`Bearer ${token}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('switchboard_runs_total');
  });

  it('counts as loopback exactly the loopback addresses', () => {
    for (const a of ['127.0.0.1', '127.0.0.2', '::1', '::ffff:127.0.0.1']) expect(isLoopback(a)).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '192.168.1.127', 'fe80::1', undefined])
      expect(isLoopback(a)).toBe(false);
  });
});
