import type { MemorySample } from './memory.js';

/**
 * Retained memory of another Node process: through its inspector (started with
 * --inspect=127.0.0.1:0), a full garbage collection, then process.memoryUsage(). What is
 * left after a full GC is what the process holds, without the garbage a peak sample also
 * counts.
 */
export async function retainedMemory(inspectorUrl: string): Promise<MemorySample> {
  const socket = new WebSocket(inspectorUrl);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error('inspector unreachable')), { once: true });
  });
  let id = 0;
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const mine = ++id;
      const onMessage = (event: MessageEvent) => {
        const message = JSON.parse(String(event.data)) as { id?: number; result?: Record<string, unknown> };
        if (message.id !== mine) return;
        socket.removeEventListener('message', onMessage);
        resolve(message.result ?? {});
      };
      socket.addEventListener('message', onMessage);
      socket.send(JSON.stringify({ id: mine, method, params }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    const result = await call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    });
    const usage = JSON.parse(String((result.result as { value: string }).value)) as MemorySample;
    return { rss: usage.rss, heapUsed: usage.heapUsed };
  } finally {
    socket.close();
  }
}

/** The inspector's WebSocket URL from a process's output ("Debugger listening on ws://…"). */
export const inspectorUrlIn = (output: string): string | undefined =>
  /Debugger listening on (ws:\/\/\S+)/.exec(output)?.[1];
