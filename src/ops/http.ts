import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Database } from '../db/database.js';
import type { Logger } from '../logging.js';
import type { Metrics } from './metrics.js';
import { TimeoutError, withTimeout } from './timeout.js';

/**
 * GET /healthz, /readyz and /metrics. The handlers are plain node:http handlers, served
 * either by Bolt's HTTPReceiver (`customRoutes`, HTTP mode) or by startOpsServer (Socket
 * Mode, where Bolt opens no port of its own).
 *
 * /healthz and /readyz say only "up" and which check failed: anyone may ask (load balancers,
 * orchestrators). /metrics tells more (which providers and models are used, how often they
 * fail, how busy the bot is), and PORT is public in HTTP mode (Slack must reach it): it
 * answers clients on the same machine (loopback), and anyone else only with
 * `Authorization: Bearer <METRICS_TOKEN>`.
 */

export type OpsHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Shaped like @slack/bolt's CustomRoute, so the array can be passed as `customRoutes`. */
export interface OpsRoute {
  path: string;
  method: string[];
  handler: OpsHandler;
}

export type CheckResult = 'ok' | 'failed' | 'timeout';

export interface Readiness {
  ready: boolean;
  checks: { database: CheckResult; slack: CheckResult };
  /** The names of the checks that did not pass, e.g. ['slack']. */
  failed: ('database' | 'slack')[];
}

export interface OpsRoutesOptions {
  /** Ready only when `SELECT 1` answers. */
  database: Pick<Database, 'query'>;
  /** Ready only when this resolves true; see cachedSlackAuthCheck (auth.test, cached). */
  checkSlack: () => Promise<boolean>;
  /** Omit to serve no /metrics (METRICS_ENABLED=false). */
  metrics?: Pick<Metrics, 'render' | 'contentType'> | undefined;
  /** METRICS_TOKEN: with it, /metrics answers anyone presenting it; without, loopback clients only. */
  metricsToken?: string | undefined;
  /** Each readiness check must answer within this (default 2000 ms). */
  readyTimeoutMs?: number;
  logger?: Logger;
}

export function createOpsRoutes(options: OpsRoutesOptions): OpsRoute[] {
  const timeoutMs = options.readyTimeoutMs ?? 2000;
  let lastReady: boolean | undefined;

  const readiness = async (): Promise<Readiness> => {
    const errors: Record<string, string> = {};
    const run = async (name: string, check: () => Promise<boolean>): Promise<CheckResult> => {
      try {
        if (await withTimeout(check(), timeoutMs)) return 'ok';
        errors[name] = 'check returned false';
        return 'failed';
      } catch (error) {
        errors[name] = error instanceof Error ? error.message : String(error);
        return error instanceof TimeoutError ? 'timeout' : 'failed';
      }
    };
    const [database, slack] = await Promise.all([
      run('database', async () => {
        await options.database.query('SELECT 1');
        return true;
      }),
      run('slack', options.checkSlack),
    ]);
    const checks = { database, slack };
    const failed = (['database', 'slack'] as const).filter((name) => checks[name] !== 'ok');
    const ready = failed.length === 0;
    // Log changes only: a probe every few seconds must not flood the logs. The reasons go
    // to the (scrubbed) log, never to the response, which anyone on the port can read.
    if (ready !== lastReady) {
      if (ready) options.logger?.info({ checks }, 'ready');
      else options.logger?.warn({ checks, errors }, 'not ready');
      lastReady = ready;
    }
    return { ready, checks, failed };
  };

  const routes: OpsRoute[] = [
    {
      path: '/healthz',
      method: ['GET', 'HEAD'],
      handler: (_req, res) => sendJson(res, 200, { status: 'ok' }),
    },
    {
      path: '/readyz',
      method: ['GET', 'HEAD'],
      handler: guard(options.logger, async (_req, res) => {
        const r = await readiness();
        if (r.ready) sendJson(res, 200, { status: 'ready', checks: r.checks });
        else sendJson(res, 503, { status: 'not ready', failed: r.failed, checks: r.checks });
      }),
    },
  ];
  const metrics = options.metrics;
  if (metrics) {
    routes.push({
      path: '/metrics',
      method: ['GET', 'HEAD'],
      handler: guard(options.logger, async (req, res) => {
        const refused = metricsRefusal(req, options.metricsToken);
        if (refused) return sendJson(res, refused.status, { error: refused.error }, refused.headers);
        const body = await metrics.render();
        res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
        res.end(body);
      }),
    });
  }
  return routes;
}

export interface OpsServer {
  readonly server: Server;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A small HTTP server for the ops routes, for Socket Mode (Bolt opens no port there).
 * Binds all interfaces unless `host` is given: a container's health check and Prometheus
 * reach it from outside the process's loopback.
 */
export async function startOpsServer(options: {
  port: number;
  host?: string;
  routes: OpsRoute[];
  logger?: Logger;
}): Promise<OpsServer> {
  const byPath = new Map(options.routes.map((r) => [r.path, r]));
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = byPath.get(path);
    if (!route) return sendJson(res, 404, { error: 'not found' });
    if (!route.method.includes(req.method ?? 'GET')) {
      res.setHeader('allow', route.method.join(', '));
      return sendJson(res, 405, { error: 'method not allowed' });
    }
    route.handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  options.logger?.info({ port }, 'health and metrics endpoints listening');
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive connections from a scraper would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** A client on this machine: Prometheus or a proxy beside the bot, a health probe in the container. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const ip = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return ip === '::1' || /^127\./.test(ip);
}

/** Why /metrics is refused to this request, or undefined when it may have them. */
function metricsRefusal(
  req: IncomingMessage,
  token: string | undefined,
): { status: number; error: string; headers?: Record<string, string> } | undefined {
  if (token) {
    const given = /^Bearer (.+)$/i.exec(String(req.headers.authorization ?? ''))?.[1]?.trim() ?? '';
    // Compared as digests: equal lengths for timingSafeEqual, and no early exit on the first difference.
    const digest = (text: string) => createHash('sha256').update(text).digest();
    if (given && timingSafeEqual(digest(given), digest(token))) return undefined;
    return {
      status: 401,
      error: 'send Authorization: Bearer <METRICS_TOKEN>',
      headers: { 'www-authenticate': 'Bearer realm="metrics"' },
    };
  }
  if (isLoopback(req.socket.remoteAddress)) return undefined;
  return {
    status: 403,
    error: 'metrics are served to this machine only; set METRICS_TOKEN to scrape them from elsewhere',
  };
}

/** Bolt calls route handlers without awaiting them: an async failure must still answer. */
function guard(
  logger: Logger | undefined,
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): OpsHandler {
  return (req, res) => {
    handler(req, res).catch((error: unknown) => {
      logger?.error(
        { err: error instanceof Error ? error.message : String(error), path: req.url },
        'ops endpoint failed',
      );
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.end();
    });
  };
}
