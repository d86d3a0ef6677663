import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import type { ChatCompletionCreateParamsBase } from 'openai/resources/chat/completions';
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

/** Local OpenAI-compatible servers (Ollama, vLLM) ignore the key, but the SDK insists on one. */
export const LOCAL_SERVER_API_KEY = 'not-needed';
const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/**
 * OpenAI over the Chat Completions API, not Responses: Chat Completions is what
 * OpenAI-compatible servers (Ollama, vLLM, gateways) implement.
 */
export function createOpenAIProvider(cfg: ProviderSettings): Provider {
  const client = new OpenAI({
    apiKey: cfg.apiKey ?? LOCAL_SERVER_API_KEY,
    // Explicit values, so credentials and base URL come from Config only: the SDK would
    // otherwise fall back to OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_PROJECT_ID… in process.env.
    baseURL: cfg.baseUrl ?? DEFAULT_BASE_URL,
    organization: null,
    project: null,
    adminAPIKey: null,
    webhookSecret: null,
    maxRetries: 0, // the engine owns retries; the SDK would otherwise retry 429/5xx twice
    timeout: SDK_DEFAULT_TIMEOUT_MS,
  });
  // OpenAI deprecated `max_tokens` for `max_completion_tokens` (its o-series reject the old
  // name), but OpenAI-compatible servers such as Ollama only know `max_tokens`.
  const official = new URL(cfg.baseUrl ?? DEFAULT_BASE_URL).hostname === 'api.openai.com';
  const maxTokensField = official ? 'max_completion_tokens' : 'max_tokens';

  const body = (request: GenerateRequest): ChatCompletionCreateParamsBase => ({
    model: request.model,
    messages: [
      ...(request.system ? [{ role: 'system' as const, content: request.system }] : []),
      { role: 'user' as const, content: request.prompt },
    ],
    ...(request.maxOutputTokens === undefined ? {} : { [maxTokensField]: request.maxOutputTokens }),
  });
  const context = errorContextFor(cfg);

  return {
    id: cfg.id,
    label: cfg.label,

    generate(request) {
      const ctx = context(request);
      return guarded(ctx, request, mapOpenAIError, async (guard) => {
        const completion = await client.chat.completions.create(
          { ...body(request), stream: false },
          { signal: guard.signal, timeout: guard.sdkTimeoutMs },
        );
        const choice = completion.choices[0];
        return finish(ctx, choice?.message.content ?? '', choice?.finish_reason, usage(completion.usage));
      });
    },

    stream(request): AsyncGenerator<StreamChunk> {
      const ctx = context(request);
      return guardedStream(ctx, request, mapOpenAIError, async function* (guard) {
        const stream = await client.chat.completions.create(
          // Without include_usage a streamed completion reports no token counts.
          { ...body(request), stream: true, stream_options: { include_usage: true } },
          { signal: guard.signal, timeout: guard.sdkTimeoutMs },
        );
        let text = '';
        let finishReason: string | null | undefined;
        let tokens: Usage = { inputTokens: 0, outputTokens: 0 };
        for await (const chunk of stream) {
          const choice = chunk.choices[0];
          const delta = choice?.delta?.content;
          if (delta) {
            text += delta;
            yield { type: 'text', text: delta };
          }
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          // The usage chunk comes last, with an empty `choices` array.
          if (chunk.usage) tokens = usage(chunk.usage);
        }
        return finish(ctx, text, finishReason, tokens);
      });
    },
  };
}

function usage(raw: { prompt_tokens?: number; completion_tokens?: number } | null | undefined): Usage {
  return { inputTokens: raw?.prompt_tokens ?? 0, outputTokens: raw?.completion_tokens ?? 0 };
}

function finish(
  ctx: ErrorContext,
  text: string,
  reason: string | null | undefined,
  tokens: Usage,
): GenerateResult {
  // A 200 with finish_reason "content_filter" means OpenAI withheld (part of) the answer.
  if (reason === 'content_filter') {
    throw providerError(ctx, 'content_filter', `${ctx.label} withheld the answer (content filter)`, {
      code: 'content_filter',
    });
  }
  return { text, usage: tokens, finishReason: reason ?? 'unknown', provider: ctx.provider, model: ctx.model };
}

// OpenAI returns billing problems as 429 too; they are not worth retrying.
const QUOTA_CODES =
  /^(insufficient_quota|credit_balance_exhausted|billing_hard_limit_reached|billing_not_active|.*_spend_limit_exceeded)$/;
// OpenAI: code context_length_exceeded; compatible servers (vLLM) only say it in words.
const CONTEXT_MESSAGE = /maximum context length|context length exceeded|context window|too many tokens/i;

/** Maps anything the openai SDK throws to a ProviderError (docs/providers.md, "Error kinds", OpenAI rows). */
export function mapOpenAIError(error: unknown, ctx: ErrorContext): ProviderError {
  if (!(error instanceof APIError)) return unexpectedError(ctx, error);
  if (error instanceof APIConnectionTimeoutError) {
    return providerError(ctx, 'timeout', `${ctx.label} did not answer in time`, { code: 'timeout' });
  }
  if (error instanceof APIConnectionError) {
    const mapped = unexpectedError(ctx, error.cause);
    return mapped.kind === 'unknown' ? providerError(ctx, 'network', `Could not reach ${ctx.label}`) : mapped;
  }
  // `error.error` is the body's `error` object: { message, type, code, param }.
  const body = (error.error ?? {}) as { message?: unknown; type?: unknown; code?: unknown };
  const code =
    typeof body.code === 'string' ? body.code : typeof body.type === 'string' ? body.type : undefined;
  const type = typeof body.type === 'string' ? body.type : undefined;
  const message =
    typeof body.message === 'string' ? body.message : `HTTP ${error.status ?? '?'} from ${ctx.label}`;
  const status = error.status;
  const extra = { status, code, retryAfterMs: parseRetryAfter(error.headers) };

  if ((code && QUOTA_CODES.test(code)) || (type && QUOTA_CODES.test(type))) {
    return providerError(ctx, 'quota', message, extra);
  }
  if (code === 'context_length_exceeded' || (status === 400 && CONTEXT_MESSAGE.test(message))) {
    return providerError(ctx, 'context_length', message, extra);
  }
  // A mid-stream error event has no HTTP status; its type still says what happened.
  if (status === undefined && type === 'server_error') return providerError(ctx, 'server', message, extra);
  return providerError(ctx, kindForStatus(status), message, extra);
}
