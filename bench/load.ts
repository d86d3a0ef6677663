import { performance } from 'node:perf_hooks';

/**
 * Open-loop load: request i is sent at start + i / rate whether or not earlier ones were
 * answered (as Slack does), so a slow server cannot slow the load down. Latency is from the
 * moment a request is sent to the HTTP response (the ack).
 */
export interface LoadResult {
  /** Latency of each 200 response, ms. */
  latencies: number[];
  errors: number;
  /** Achieved send rate. */
  rate: number;
}

export async function openLoop(o: {
  rate: number;
  count: number;
  /** Where request i goes (one URL, or one per request: a load balancer over several processes). */
  url: string | ((i: number) => string);
  request: (i: number) => { body: string; headers: Record<string, string> };
}): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < o.count; i++) {
    const due = start + (i * 1000) / o.rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const { body, headers } = o.request(i);
    const sent = performance.now();
    inflight.push(
      fetch(typeof o.url === 'string' ? o.url : o.url(i), {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(10_000),
      })
        .then(async (response) => {
          await response.arrayBuffer();
          if (response.status === 200) latencies.push(performance.now() - sent);
          else errors++;
        })
        .catch(() => {
          errors++;
        }),
    );
  }
  const sentFor = (performance.now() - start) / 1000;
  await Promise.all(inflight);
  return { latencies, errors, rate: o.count / Math.max(sentFor, 1e-3) };
}
