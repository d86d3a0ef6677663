import type { GenerateRequest, GenerateResult, Provider, StreamChunk } from '../core/provider-spec.js';
import { ProviderError } from '../core/provider-spec.js';

/** Our own guard around a provider call, in case an adapter ignores its signal. */
export const HARD_TIMEOUT_GRACE_MS = 2_000;

/**
 * Calls the provider with the step's timeout. Adapters enforce the timeout themselves
 * (kind "timeout"); this race is the backstop for one that ignores its signal, so a hung
 * connection can never hold a run longer than timeout + grace. Cancellation wins at once.
 * A streamed call is the same call: its deltas go to `onText`, its result is the "done"
 * chunk's, and a failure mid-stream throws the adapter's ProviderError like any other.
 */
export async function callProvider(
  provider: Provider,
  request: GenerateRequest & { signal: AbortSignal; timeoutMs: number },
  /** Given: the call streams (`provider.stream()`), and each text delta is passed here as it comes. */
  onText?: (delta: string) => void,
): Promise<GenerateResult> {
  const hard = new AbortController();
  const signal = AbortSignal.any([request.signal, hard.signal]);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const backstop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      hard.abort(new DOMException(`timed out after ${request.timeoutMs} ms`, 'TimeoutError'));
      reject(
        new ProviderError({
          kind: 'timeout',
          provider: provider.id,
          model: request.model,
          code: 'timeout',
          message: `${provider.label} did not answer within ${Math.round(request.timeoutMs / 1000)} s`,
        }),
      );
    }, request.timeoutMs + HARD_TIMEOUT_GRACE_MS);
    onAbort = () => reject(request.signal.reason);
    if (request.signal.aborted) onAbort();
    else request.signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const call = onText
      ? drain(provider.stream({ ...request, signal }), onText)
      : provider.generate({ ...request, signal });
    return await Promise.race([call, backstop]);
  } finally {
    clearTimeout(timer);
    if (onAbort) request.signal.removeEventListener('abort', onAbort);
  }
}

/** Reads a stream to its end: deltas to `onText`, the result from its "done" chunk. */
async function drain(
  chunks: AsyncIterable<StreamChunk>,
  onText: (delta: string) => void,
): Promise<GenerateResult> {
  let result: GenerateResult | undefined;
  for await (const chunk of chunks) {
    if (chunk.type === 'text') {
      if (chunk.text) onText(chunk.text);
    } else result = chunk.result;
  }
  if (!result) throw new Error('the provider stream ended without a result');
  return result;
}
