import type { AddressInfo } from 'node:net';
import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy between the app and PostgreSQL, so a test can take the database away without
 * touching the machine's server (other test files use it at the same time): `cut()` drops
 * every open connection and refuses new ones until `restore()`.
 */
export interface TcpProxy {
  /** `url` with its host and port pointed at the proxy. */
  via(url: string): string;
  cut(): void;
  restore(): void;
  /** Connections dropped or refused while cut. */
  readonly dropped: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const pairs = new Set<[Socket, Socket]>();
  let down = false;
  let dropped = 0;
  const server = createServer((client) => {
    if (down) {
      dropped += 1;
      client.destroy();
      return;
    }
    const upstream = connect({ host: hostname, port: Number(port || 5432) });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxyPort = (server.address() as AddressInfo).port;
  const cut = () => {
    down = true;
    for (const [client, upstream] of pairs) {
      dropped += 1;
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  return {
    via(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(proxyPort);
      return u.toString();
    },
    cut,
    restore() {
      down = false;
    },
    get dropped() {
      return dropped;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
