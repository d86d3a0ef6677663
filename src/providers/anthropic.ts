import Anthropic, { APIConnectionError, APIConnectionTimeoutError, APIError } from '@anthropic-ai/sdk';
import type { MessageCreateParamsBase } from '@anthropic-ai/sdk/resources/messages';
import type { ErrorKind } from '../core/error-kinds.js';
import type {
  GenerateRequest,
  GenerateResult,
  Provider,
  ProviderError,
  ProviderSettings,
  StreamChunk,
  Usage,
} from '../core/provider-spec.js';
import {
  type ErrorContext,
  errorContextFor,
  guarded,
  guardedStream,
  kindForStatus,
  parseRetryAfter,
  providerError,
  SDK_DEFAULT_TIMEOUT_MS,
  unexpectedError,
} from './error-mapping.js';

const DEFAULT_BASE_URL = 'https://api.anthropic.com';
/** The Messages API requires max_tokens; this is enough for a workflow step's answer. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

export function createAnthropicProvider(cfg: ProviderSettings): Provider {
  const client = new Anthropic({
    // Passing apiKey also stops the SDK reading ANTHROPIC_AUTH_TOKEN from the environment.
    apiKey: cfg.apiKey ?? null,
    authToken: null,
    baseURL: cfg.baseUrl ?? DEFAULT_BASE_URL,
    maxRetries: 0, // the engine owns retries; the SDK would otherwise retry 429/529/5xx twice
    timeout: SDK_DEFAULT_TIMEOUT_MS,
  });

  const body = (request: GenerateRequest): MessageCreateParamsBase => ({
    model: request.model,
    max_tokens: request.maxOutputTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
    ...(request.system ? { system: request.system } : {}),
    messages: [{ role: 'user', content: request.prompt }],
  });
  const context = errorContextFor(cfg);

  return {
    id: cfg.id,
    label: cfg.label,

    generate(request) {
      const ctx = context(request);
      return guarded(ctx, request, mapAnthropicError, async (guard) => {
        const message = await client.messages.create(
          { ...body(request), stream: false },
          { signal: guard.signal, timeout: guard.sdkTimeoutMs },
        );
        const text = message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
        return finish(ctx, text, message.stop_reason, usage(message.usage));
      });
    },

    stream(request): AsyncGenerator<StreamChunk> {
      const ctx = context(request);
      return guardedStream(ctx, request, mapAnthropicError, async function* (guard) {
        const stream = await client.messages.create(
          { ...body(request), stream: true },
          { signal: guard.signal, timeout: guard.sdkTimeoutMs },
        );
        let text = '';
        let stopReason: string | null = null;
        let tokens: Usage = { inputTokens: 0, outputTokens: 0 };
        for await (const event of stream) {
          if (event.type === 'message_start') {
            tokens = usage(event.message.usage);
          } else if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
            text += event.delta.text;
            yield { type: 'text', text: event.delta.text };
          } else if (event.type === 'message_delta') {
            // message_delta carries the final (cumulative) output_tokens and the stop_reason.
            stopReason = event.delta.stop_reason ?? stopReason;
            tokens = {
              inputTokens:
                event.usage.input_tokens == null ? tokens.inputTokens : usage(event.usage).inputTokens,
              outputTokens: event.usage.output_tokens,
            };
          }
        }
        return finish(ctx, text, stopReason, tokens);
      });
    },
  };
}

interface RawUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

function usage(raw: RawUsage): Usage {
  // input_tokens excludes prompt-cache reads and writes; all three are input the call consumed.
  const input =
    (raw.input_tokens ?? 0) + (raw.cache_creation_input_tokens ?? 0) + (raw.cache_read_input_tokens ?? 0);
  return { inputTokens: input, outputTokens: raw.output_tokens ?? 0 };
}

const STOP_REASONS: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
};

function finish(ctx: ErrorContext, text: string, reason: string | null, tokens: Usage): GenerateResult {
  // stop_reason "refusal": Claude's safety classifiers stopped the answer (a 200, not an error).
  if (reason === 'refusal') {
    throw providerError(ctx, 'content_filter', `${ctx.label} declined to answer (refusal)`, {
      code: 'refusal',
    });
  }
  const finishReason = reason ? (STOP_REASONS[reason] ?? reason) : 'unknown';
  return { text, usage: tokens, finishReason, provider: 'anthropic', model: ctx.model };
}

// error.type from the body; mid-stream `event: error` frames carry only this (no HTTP status).
const KIND_BY_TYPE: Record<string, ErrorKind> = {
  invalid_request_error: 'invalid_request',
  authentication_error: 'auth',
  permission_error: 'auth',
  billing_error: 'quota',
  not_found_error: 'invalid_request',
  request_too_large: 'context_length',
  rate_limit_error: 'rate_limit',
  timeout_error: 'timeout',
  api_error: 'server',
  overloaded_error: 'overloaded',
};

/** Maps anything @anthropic-ai/sdk throws to a ProviderError (docs/providers.md, "Error kinds", Anthropic rows). */
export function mapAnthropicError(error: unknown, ctx: ErrorContext): ProviderError {
  if (!(error instanceof APIError)) return unexpectedError(ctx, error);
  if (error instanceof APIConnectionTimeoutError) {
    return providerError(ctx, 'timeout', `${ctx.label} did not answer in time`, { code: 'timeout' });
  }
  if (error instanceof APIConnectionError) {
    const mapped = unexpectedError(ctx, error.cause);
    return mapped.kind === 'unknown' ? providerError(ctx, 'network', `Could not reach ${ctx.label}`) : mapped;
  }
  // Unlike openai, `error.error` is the whole body: { type: "error", error: { type, message, details } }.
  const status = error.status;
  const type = error.type ?? undefined;
  const errorCode = error.errorCode ?? undefined;
  const message = error.apiMessage ?? `HTTP ${status ?? '?'} from ${ctx.label}`;
  const extra = { status, code: errorCode ?? type, retryAfterMs: parseRetryAfter(error.headers) };
  return providerError(ctx, anthropicKind(status, type, errorCode, message), message, extra);
}

function anthropicKind(
  status: number | undefined,
  type: string | undefined,
  errorCode: string | undefined,
  message: string,
): ErrorKind {
  // A spend cap is a 429 (enforced_spend_limit_reached, no retry-after): retrying cannot help.
  if (errorCode && /spend_limit_reached|billing/.test(errorCode)) return 'quota';
  if (status === 402) return 'quota';
  if (status === 529) return 'overloaded';
  if (status === 413) return 'context_length';
  if (status === 400 || type === 'invalid_request_error') {
    // Both arrive as 400 invalid_request_error; only the message tells them apart.
    if (/credit balance is too low/i.test(message)) return 'quota';
    if (/prompt is too long|context window|too many tokens/i.test(message)) return 'context_length';
  }
  return (type ? KIND_BY_TYPE[type] : undefined) ?? kindForStatus(status);
}
