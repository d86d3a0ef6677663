import type { GenerateRequest, GenerateResult, Provider } from '../core/provider-spec.js';
import { ProviderError } from '../core/provider-spec.js';

/** Our own guard around a provider call, in case an adapter ignores its signal. */
export const HARD_TIMEOUT_GRACE_MS = 2_000;

/**
 * Calls the provider with the step's timeout. Adapters enforce the timeout themselves
 * (kind "timeout"); this race is the backstop for one that ignores its signal, so a hung
 * connection can never hold a run longer than timeout + grace. Cancellation wins at once.
 */
export async function callProvider(
  provider: Provider,
  request: GenerateRequest & { signal: AbortSignal; timeoutMs: number },
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
    return await Promise.race([provider.generate({ ...request, signal }), backstop]);
  } finally {
    clearTimeout(timer);
    if (onAbort) request.signal.removeEventListener('abort', onAbort);
  }
}
