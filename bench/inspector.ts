import type { MemorySample } from './memory.js';

/**
 * Memory of another Node process through its inspector (started with
 * --inspect=127.0.0.1:0): process.memoryUsage() now, or after a full garbage collection —
 * what the process holds, without the garbage a peak sample also counts. Reading it this
 * way costs the process almost nothing (no /metrics scrape, which queries the database).
 */
export class Inspector {
  private id = 0;

  private constructor(private readonly socket: WebSocket) {}

  static async connect(url: string): Promise<Inspector> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve(), { once: true });
      socket.addEventListener('error', () => reject(new Error('inspector unreachable')), { once: true });
    });
    return new Inspector(socket);
  }

  private call(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      const mine = ++this.id;
      const onMessage = (event: MessageEvent) => {
        const message = JSON.parse(String(event.data)) as { id?: number; result?: Record<string, unknown> };
        if (message.id !== mine) return;
        this.socket.removeEventListener('message', onMessage);
        resolve(message.result ?? {});
      };
      this.socket.addEventListener('message', onMessage);
      this.socket.send(JSON.stringify({ id: mine, method, params }));
    });
  }

  async memory(): Promise<MemorySample> {
    const result = await this.call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    });
    const usage = JSON.parse(String((result.result as { value: string }).value)) as MemorySample;
    return { rss: usage.rss, heapUsed: usage.heapUsed };
  }

  async retained(): Promise<MemorySample> {
    await this.call('HeapProfiler.collectGarbage');
    return this.memory();
  }

  close(): void {
    this.socket.close();
  }
}

/** The inspector's WebSocket URL from a process's output ("Debugger listening on ws://…"). */
export const inspectorUrlIn = (output: string): string | undefined =>
  /Debugger listening on (ws:\/\/\S+)/.exec(output)?.[1];
