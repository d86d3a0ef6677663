import type { ErrorKind } from '../core/error-kinds.js';
import {
  type GenerateRequest,
  type GenerateResult,
  ProviderError,
  type ProviderId,
  type ProviderSettings,
  type StreamChunk,
} from '../core/provider-spec.js';

/**
 * What every adapter shares when turning a failure into a ProviderError:
 * secret-free messages, Retry-After parsing, transport-error classification and
 * the timeout/abort guard. Provider-specific mapping lives next to each adapter.
 */

const MAX_MESSAGE_CHARS = 300;

// Shapes of credentials a provider might echo back: OpenAI sk-/sk-proj-, Anthropic sk-ant-,
// Google AIza…, bearer tokens, and `key=` query parameters in URLs quoted by Google errors.
const SECRET_PATTERNS: readonly RegExp[] = [
  /\bsk-[A-Za-z0-9_-]{6,}/g,
  /\bAIza[0-9A-Za-z_-]{10,}/g,
  /\bBearer\s+[^\s"',]+/gi,
  /([?&]key=)[^&\s"']+/gi,
];

/** Removes known secrets and anything shaped like an API key or bearer token. */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 6) out = out.split(secret).join('[redacted]');
  }
  for (const pattern of SECRET_PATTERNS) {
    out = out.replace(pattern, (_match, prefix) =>
      typeof prefix === 'string' ? `${prefix}[redacted]` : '[redacted]',
    );
  }
  return out;
}

/** A provider's own message made safe to show in Slack: no secrets, one line, ~300 chars. */
export function sanitiseMessage(text: string, secrets: readonly (string | undefined)[] = []): string {
  const oneLine = redactSecrets(text, secrets).replace(/\s+/g, ' ').trim();
  return oneLine.length <= MAX_MESSAGE_CHARS ? oneLine : `${oneLine.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
}

type HeaderBag = Headers | Record<string, string | string[] | undefined> | undefined | null;

function header(headers: HeaderBag, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Milliseconds the provider asked us to wait. `retry-after-ms` (OpenAI/Anthropic, more precise)
 * wins over `retry-after`, which RFC 9110 §10.2.3 allows as delay-seconds or an HTTP-date.
 */
export function parseRetryAfter(headers: HeaderBag, now: number = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const value = header(headers, 'retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** google.protobuf.Duration in its JSON form ("17s", "1.5s", "0.250s"), as used by RetryInfo.retryDelay. */
export function parseProtoDuration(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(\d+(?:\.\d+)?)s$/.exec(value.trim());
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

// Node's fetch (undici) reports socket failures as `TypeError: fetch failed` with the
// system error (ECONNRESET, ENOTFOUND…) somewhere down the `cause` chain.
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

/** Classifies a failure below HTTP (no response at all), or undefined when it is something else. */
export function transportFailure(
  error: unknown,
): { kind: 'network' | 'timeout'; code: string | undefined } | undefined {
  let current: unknown = error;
  let sawFetchFailed = false;
  for (let depth = 0; depth < 6 && current && typeof current === 'object'; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return { kind: 'timeout', code };
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return { kind: 'network', code };
    if (
      current instanceof TypeError &&
      typeof message === 'string' &&
      /fetch failed|network/i.test(message)
    ) {
      sawFetchFailed = true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return sawFetchFailed ? { kind: 'network', code: undefined } : undefined;
}

export interface ErrorContext {
  provider: ProviderId;
  /** The provider's name in messages ("OpenAI"). */
  label: string;
  model: string;
  /** Secrets to strip from anything we quote (the configured API key). */
  secrets: readonly (string | undefined)[];
}

/** What a provider's errors say about each request: the provider, the request's model, the key to strip. */
export function errorContextFor(
  settings: Pick<ProviderSettings, 'id' | 'label' | 'apiKey'>,
): (request: Pick<GenerateRequest, 'model'>) => ErrorContext {
  return (request) => ({
    provider: settings.id,
    label: settings.label,
    model: request.model,
    secrets: [settings.apiKey],
  });
}

export function providerError(
  ctx: ErrorContext,
  kind: ErrorKind,
  message: string,
  extra: { status?: number | undefined; code?: string | undefined; retryAfterMs?: number | undefined } = {},
): ProviderError {
  // No `cause`: the SDK error holds the raw provider body (which may echo the key), and
  // pino's error serialiser prints causes. What the engine needs is copied into fields.
  return new ProviderError({
    kind,
    provider: ctx.provider,
    model: ctx.model,
    message: sanitiseMessage(message, ctx.secrets) || `${ctx.label} request failed`,
    status: extra.status,
    code: extra.code === undefined ? undefined : sanitiseMessage(extra.code, ctx.secrets),
    retryAfterMs: extra.retryAfterMs,
  });
}

/** Fallback for failures that are neither an HTTP error nor a recognised transport failure. */
export function unexpectedError(ctx: ErrorContext, error: unknown): ProviderError {
  if (ProviderError.isInstance(error)) return error;
  const transport = transportFailure(error);
  const { label } = ctx;
  if (transport?.kind === 'network') {
    return providerError(
      ctx,
      'network',
      `Could not reach ${label}${transport.code ? ` (${transport.code})` : ''}`,
      {
        code: transport.code,
      },
    );
  }
  if (transport?.kind === 'timeout') {
    return providerError(ctx, 'timeout', `${label} did not answer in time (${transport.code})`, {
      code: transport.code,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return providerError(ctx, 'unknown', message);
}

/** Kind for an HTTP status when the body told us nothing more specific. */
export function kindForStatus(status: number | undefined): ErrorKind {
  if (status === undefined) return 'unknown';
  if (status === 401 || status === 403) return 'auth';
  if (status === 402) return 'quota';
  if (status === 408) return 'timeout';
  if (status === 413) return 'context_length';
  if (status === 429) return 'rate_limit';
  if (status >= 500) return 'server';
  if (status >= 400) return 'invalid_request';
  return 'unknown';
}

/**
 * Timeout and cancellation for one provider call.
 *
 * `request.timeoutMs` is enforced by our own timer, combined with the caller's signal via
 * AbortSignal.any, and the SDK is given a later timeout so that ours always fires first.
 * After any failure the adapter asks `abortError()` first, because each SDK reports an
 * abort differently (openai/anthropic: APIUserAbortError; genai: a bare DOMException
 * AbortError; openai/anthropic streams end silently on abort).
 *
 * Choice: our timeout → kind "timeout". A caller abort whose reason is a TimeoutError
 * (e.g. AbortSignal.timeout()) → "timeout" too. Any other caller abort (cancel) →
 * kind "unknown", code "aborted", message "aborted": not retryable, and the engine can
 * tell a cancellation apart by its code.
 */
export interface CallGuard {
  readonly signal: AbortSignal;
  /** Timeout for the SDK itself: later than ours so that ours wins. */
  readonly sdkTimeoutMs: number;
  abortError(): ProviderError | undefined;
  dispose(): void;
}

/** Same as the openai and anthropic SDKs' default (10 minutes). */
export const SDK_DEFAULT_TIMEOUT_MS = 600_000;
const SDK_TIMEOUT_MARGIN_MS = 5_000;

export function guardCall(ctx: ErrorContext, request: GenerateRequest): CallGuard {
  const timer = new AbortController();
  const { timeoutMs } = request;
  const handle =
    timeoutMs !== undefined && timeoutMs > 0
      ? setTimeout(
          () => timer.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError')),
          timeoutMs,
        )
      : undefined;
  const signal = request.signal ? AbortSignal.any([request.signal, timer.signal]) : timer.signal;
  const { label } = ctx;
  return {
    signal,
    sdkTimeoutMs: handle === undefined ? SDK_DEFAULT_TIMEOUT_MS : timeoutMs! + SDK_TIMEOUT_MARGIN_MS,
    abortError() {
      if (timer.signal.aborted) {
        return providerError(ctx, 'timeout', `${label} did not answer within ${formatMs(timeoutMs ?? 0)}`, {
          code: 'timeout',
        });
      }
      if (request.signal?.aborted) {
        const reason: unknown = request.signal.reason;
        if ((reason as { name?: unknown } | undefined)?.name === 'TimeoutError') {
          return providerError(ctx, 'timeout', `${label} call timed out`, { code: 'timeout' });
        }
        return providerError(ctx, 'unknown', 'aborted', { code: 'aborted' });
      }
      return undefined;
    },
    dispose() {
      if (handle !== undefined) clearTimeout(handle);
    },
  };
}

type MapError = (error: unknown, ctx: ErrorContext) => ProviderError;

/**
 * One provider call under its guard: our timeout and the caller's abort on the signal, and
 * every failure mapped once — an abort as timeout/aborted, anything else by `mapError`.
 */
export async function guarded<T>(
  ctx: ErrorContext,
  request: GenerateRequest,
  mapError: MapError,
  call: (guard: CallGuard) => Promise<T>,
): Promise<T> {
  const guard = guardCall(ctx, request);
  try {
    return await call(guard);
  } catch (error) {
    throw guard.abortError() ?? mapError(error, ctx);
  } finally {
    guard.dispose();
  }
}

/**
 * The same for a stream: `read` yields text chunks and returns the whole result, which is
 * sent as the "done" chunk. The SDKs end a stream silently when its signal aborts, so the
 * guard is asked before a result is trusted.
 */
export async function* guardedStream(
  ctx: ErrorContext,
  request: GenerateRequest,
  mapError: MapError,
  read: (guard: CallGuard) => AsyncGenerator<StreamChunk, GenerateResult>,
): AsyncGenerator<StreamChunk> {
  const guard = guardCall(ctx, request);
  try {
    const result = yield* read(guard);
    const aborted = guard.abortError();
    if (aborted) throw aborted;
    yield { type: 'done', result };
  } catch (error) {
    throw guard.abortError() ?? mapError(error, ctx);
  } finally {
    guard.dispose();
  }
}

function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
