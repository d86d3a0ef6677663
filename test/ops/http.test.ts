import { App, type CustomRoute, HTTPReceiver } from '@slack/bolt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { nowMs } from '../../src/core/clock.js';
import { EngineEventBus } from '../../src/core/events.js';
import { InProcessQueue } from '../../src/engine/queue.js';
import { createLogger } from '../../src/logging.js';
import {
  createOpsRoutes,
  type OpsRoutesOptions,
  type OpsServer,
  startOpsServer,
} from '../../src/ops/http.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { cachedSlackAuthCheck } from '../../src/ops/slack-auth.js';
import { TestClock } from '../support/clock.js';
import { createTestDatabase, storesOf, type TestDatabase } from '../support/db.js';
import { sampleValue } from './prometheus.js';

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

/** The standalone server (Socket Mode) on a free loopback port, answering over real HTTP. */
async function serve(options: Partial<OpsRoutesOptions> = {}) {
  const server = await startOpsServer({
    port: 0,
    host: '127.0.0.1',
    routes: createOpsRoutes({ database: db, checkSlack: async () => true, ...options }),
  });
  servers.push(server);
  const base = `http://127.0.0.1:${server.port}`;
  return (path: string, init?: RequestInit) => fetch(`${base}${path}`, init);
}

describe('GET /healthz', () => {
  it('answers 200 {status: ok} while the process is up, whatever its dependencies say', async () => {
    const get = await serve({ checkSlack: async () => false });
    const res = await get('/healthz');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('answers HEAD without a body', async () => {
    const get = await serve();
    const res = await get('/healthz', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });
});

describe('GET /readyz', () => {
  it('is ready when the database answers and Slack auth is ok', async () => {
    const get = await serve();
    const res = await get('/readyz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', checks: { database: 'ok', slack: 'ok' } });
  });

  it("answers 503 naming 'slack' when Slack auth fails", async () => {
    const get = await serve({ checkSlack: async () => false });
    const res = await get('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: 'not ready',
      failed: ['slack'],
      checks: { database: 'ok', slack: 'failed' },
    });
  });

  it("answers 503 with slack 'timeout' when auth.test does not answer in time", async () => {
    const get = await serve({ checkSlack: () => new Promise<boolean>(() => {}), readyTimeoutMs: 100 });
    // auth.test never answers: only the readiness timeout can produce this response.
    const res = await get('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ failed: ['slack'], checks: { slack: 'timeout' } });
  });

  it("answers 503 naming 'database' when the database is unreachable, without leaking its error", async () => {
    const gone = await createTestDatabase();
    await gone.close();
    const get = await serve({ database: gone });
    const res = await get('/readyz');
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      status: 'not ready',
      failed: ['database'],
      checks: { database: 'failed', slack: 'ok' },
    });
    if (gone.url) expect(text).not.toContain(new URL(gone.url).hostname);
  });

  it('names both checks when both fail, and never shows a secret', async () => {
    const secret = 'xoxb-1234-secret-token';
    const get = await serve({
      database: { query: () => Promise.reject(new Error(`password authentication failed ${secret}`)) },
      checkSlack: () => Promise.reject(new Error(`invalid_auth for ${secret}`)),
    });
    const res = await get('/readyz');
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ failed: ['database', 'slack'] });
    expect(text).not.toContain(secret);
  });

  it('logs a change of readiness once, with the reason, and the recovery', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      level: 'info',
      secrets: ['xoxb-1234-secret-token'],
      destination: { write: (line) => lines.push(JSON.parse(line)) },
    });
    let slackOk = false;
    const get = await serve({
      logger,
      checkSlack: async () => {
        if (slackOk) return true;
        throw new Error('invalid_auth for xoxb-1234-secret-token');
      },
    });
    await get('/readyz');
    await get('/readyz');
    slackOk = true;
    await get('/readyz');
    expect(lines.map((l) => l.msg)).toEqual(['not ready', 'ready']);
    expect(lines[0]).toMatchObject({
      checks: { database: 'ok', slack: 'failed' },
      errors: { slack: 'invalid_auth for [redacted]' },
    });
  });
});

describe('GET /metrics', () => {
  it('serves Prometheus text with the registry content type', async () => {
    const metrics = createMetrics({
      events: new EngineEventBus(),
      queue: new InProcessQueue(),
      reads: storesOf(db).reads,
    });
    try {
      metrics.recordSlack429('chat.update');
      const get = await serve({ metrics });
      const res = await get('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(metrics.contentType);
      const text = await res.text();
      expect(sampleValue(text, 'switchboard_slack_rate_limited_total', { method: 'chat.update' })).toBe(1);
      expect(sampleValue(text, 'switchboard_paused_runs')).toBe(0);
    } finally {
      metrics.close();
    }
  });

  it('is not served when metrics are disabled', async () => {
    const get = await serve({ metrics: undefined });
    expect((await get('/metrics')).status).toBe(404);
  });

  it('answers 500 (and the server keeps serving) when rendering fails', async () => {
    const get = await serve({
      metrics: { contentType: 'text/plain', render: () => Promise.reject(new Error('boom')) },
    });
    expect((await get('/metrics')).status).toBe(500);
    expect((await get('/healthz')).status).toBe(200);
  });
});

describe('the standalone ops server', () => {
  it('answers 404 for unknown paths and 405 for other methods', async () => {
    const get = await serve();
    expect((await get('/nope')).status).toBe(404);
    const post = await get('/healthz', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await get('/healthz?probe=1')).status).toBe(200);
  });

  it('closes even with a keep-alive connection open', async () => {
    const server = await startOpsServer({
      port: 0,
      host: '127.0.0.1',
      routes: createOpsRoutes({ database: db, checkSlack: async () => true }),
    });
    await fetch(`http://127.0.0.1:${server.port}/healthz`, { keepalive: true });
    await server.close();
    await expect(fetch(`http://127.0.0.1:${server.port}/healthz`)).rejects.toThrow();
  });
});

describe("Bolt's HTTPReceiver (HTTP mode)", () => {
  it('serves the same routes as customRoutes beside /slack/events', async () => {
    const routes: CustomRoute[] = createOpsRoutes({ database: db, checkSlack: async () => false });
    const receiver = new HTTPReceiver({ signingSecret: 'test-signing-secret', customRoutes: routes });
    const app = new App({ token: 'xoxb-test-token', receiver, tokenVerificationEnabled: false });
    const server = (await app.start(0)) as import('node:http').Server;
    try {
      const { port } = server.address() as import('node:net').AddressInfo;
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ failed: ['slack'] });
    } finally {
      await app.stop();
    }
  });
});

describe('cachedSlackAuthCheck', () => {
  it('caches a success for 30 s and a failure for 5 s', async () => {
    const clock = new TestClock();
    const t0 = nowMs(clock);
    let calls = 0;
    let ok = true;
    const check = cachedSlackAuthCheck(
      async () => {
        calls += 1;
        if (!ok) throw new Error('invalid_auth');
        return { ok: true };
      },
      { clock },
    );
    expect(await check()).toBe(true);
    clock.set(t0 + 29_999);
    expect(await check()).toBe(true);
    expect(calls).toBe(1);
    clock.set(t0 + 30_000);
    ok = false;
    expect(await check()).toBe(false);
    expect(calls).toBe(2);
    clock.set(t0 + 34_999);
    expect(await check()).toBe(false);
    expect(calls).toBe(2);
    ok = true;
    clock.set(t0 + 35_000);
    expect(await check()).toBe(true);
    expect(calls).toBe(3);
  });

  it('shares one auth.test between concurrent probes', async () => {
    let calls = 0;
    let answer: (v: { ok: boolean }) => void = () => {};
    const check = cachedSlackAuthCheck(() => {
      calls += 1;
      return new Promise((resolve) => {
        answer = resolve;
      });
    });
    const both = Promise.all([check(), check()]);
    answer({ ok: true });
    expect(await both).toEqual([true, true]);
    expect(calls).toBe(1);
  });
});

describe('METRICS_ENABLED', () => {
  it('defaults to on, accepts true/false/1/0, and names the variable when it is neither', () => {
    expect(loadConfig({}).ops.metricsEnabled).toBe(true);
    expect(loadConfig({ METRICS_ENABLED: 'false' }).ops.metricsEnabled).toBe(false);
    expect(loadConfig({ METRICS_ENABLED: '0' }).ops.metricsEnabled).toBe(false);
    expect(loadConfig({ METRICS_ENABLED: 'TRUE' }).ops.metricsEnabled).toBe(true);
    expect(() => loadConfig({ METRICS_ENABLED: 'maybe' })).toThrow(/METRICS_ENABLED: must be true or false/);
  });
});
