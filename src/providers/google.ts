import {
  ApiError,
  type GenerateContentParameters,
  type GenerateContentResponse,
  GoogleGenAI,
} from '@google/genai';
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
  parseProtoDuration,
  providerError,
  unexpectedError,
} from './error-mapping.js';

const DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com';

export function createGoogleProvider(cfg: ProviderSettings): Provider {
  const ai = new GoogleGenAI({
    apiKey: cfg.apiKey,
    // Explicit, so GOOGLE_GENAI_USE_VERTEXAI / GOOGLE_GEMINI_BASE_URL in the environment change nothing.
    vertexai: false,
    // No retryOptions: @google/genai only retries when they are set (and then ignores RetryInfo).
    // No timeout either: ours (guarded) aborts through config.abortSignal.
    httpOptions: { baseUrl: cfg.baseUrl ?? DEFAULT_BASE_URL },
  });

  const params = (request: GenerateRequest, signal: AbortSignal): GenerateContentParameters => ({
    model: request.model,
    contents: request.prompt,
    config: {
      ...(request.system ? { systemInstruction: request.system } : {}),
      ...(request.maxOutputTokens === undefined ? {} : { maxOutputTokens: request.maxOutputTokens }),
      abortSignal: signal,
    },
  });
  const context = errorContextFor(cfg);

  return {
    id: cfg.id,
    label: cfg.label,

    generate(request) {
      const ctx = context(request);
      return guarded(ctx, request, mapGoogleError, async (guard) => {
        const response = await ai.models.generateContent(params(request, guard.signal));
        throwIfBlocked(ctx, response);
        const candidate = response.candidates?.[0];
        return finish(ctx, textOf(response), candidate?.finishReason, usage(response));
      });
    },

    stream(request): AsyncGenerator<StreamChunk> {
      const ctx = context(request);
      return guardedStream(ctx, request, mapGoogleError, async function* (guard) {
        const stream = await ai.models.generateContentStream(params(request, guard.signal));
        let text = '';
        let finishReason: string | undefined;
        let tokens: Usage = { inputTokens: 0, outputTokens: 0 };
        for await (const chunk of stream) {
          throwIfBlocked(ctx, chunk);
          const delta = textOf(chunk);
          if (delta) {
            text += delta;
            yield { type: 'text', text: delta };
          }
          finishReason = chunk.candidates?.[0]?.finishReason ?? finishReason;
          // Every chunk may carry usageMetadata; the last one has the totals.
          if (chunk.usageMetadata) tokens = usage(chunk);
        }
        return finish(ctx, text, finishReason, tokens);
      });
    },
  };
}

/** Answer text without "thought" parts (2.5 models may return their thinking as parts). */
function textOf(response: GenerateContentResponse): string {
  const parts = response.candidates?.[0]?.content?.parts ?? [];
  return parts.map((part) => (part.text && !part.thought ? part.text : '')).join('');
}

function usage(response: GenerateContentResponse): Usage {
  const meta = response.usageMetadata;
  // Thinking tokens are counted (and billed) separately from candidatesTokenCount.
  return {
    inputTokens: meta?.promptTokenCount ?? 0,
    outputTokens: (meta?.candidatesTokenCount ?? 0) + (meta?.thoughtsTokenCount ?? 0),
  };
}

// A 200 whose candidate stopped for one of these reasons carries a withheld or cut answer.
const BLOCKING_FINISH_REASONS = new Set([
  'SAFETY',
  'PROHIBITED_CONTENT',
  'BLOCKLIST',
  'SPII',
  'RECITATION',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
]);

function throwIfBlocked(ctx: ErrorContext, response: GenerateContentResponse): void {
  // promptFeedback.blockReason: the prompt itself was blocked and there are no candidates.
  const blockReason = response.promptFeedback?.blockReason;
  if (blockReason) {
    throw providerError(ctx, 'content_filter', `${ctx.label} blocked the prompt (${blockReason})`, {
      code: blockReason,
    });
  }
}

function finish(ctx: ErrorContext, text: string, reason: string | undefined, tokens: Usage): GenerateResult {
  if (reason && BLOCKING_FINISH_REASONS.has(reason)) {
    throw providerError(ctx, 'content_filter', `${ctx.label} withheld the answer (${reason})`, {
      code: reason,
    });
  }
  const finishReason =
    reason === 'STOP' ? 'stop' : reason === 'MAX_TOKENS' ? 'length' : (reason?.toLowerCase() ?? 'unknown');
  return { text, usage: tokens, finishReason, provider: 'google', model: ctx.model };
}

interface GoogleErrorBody {
  code?: number;
  message?: string;
  status?: string;
  details?: { '@type'?: string; retryDelay?: string; reason?: string; violations?: { quotaId?: string }[] }[];
}

/**
 * ApiError carries only `status` and a `message` that is the JSON error body
 * (or "got status: X. {json}" for an error inside a stream); headers are gone.
 */
function parseBody(message: string): GoogleErrorBody {
  const start = message.indexOf('{');
  if (start < 0) return { message };
  try {
    const parsed = JSON.parse(message.slice(start)) as { error?: GoogleErrorBody };
    return parsed.error ?? { message };
  } catch {
    return { message };
  }
}

const detail = (body: GoogleErrorBody, type: string) => body.details?.find((d) => d['@type']?.endsWith(type));

/** Maps anything @google/genai throws to a ProviderError (docs/providers.md, "Error kinds", Gemini rows). */
export function mapGoogleError(error: unknown, ctx: ErrorContext): ProviderError {
  if (!(error instanceof ApiError)) return unexpectedError(ctx, error);
  const body = parseBody(error.message);
  const status = error.status;
  const reason = detail(body, 'google.rpc.ErrorInfo')?.reason;
  const retryAfterMs = parseProtoDuration(detail(body, 'google.rpc.RetryInfo')?.retryDelay);
  const message = body.message ?? `HTTP ${status} from ${ctx.label}`;
  const extra = { status, code: reason ?? body.status, retryAfterMs };
  return providerError(ctx, googleKind(status, body, reason, retryAfterMs), message, extra);
}

function googleKind(
  status: number,
  body: GoogleErrorBody,
  reason: string | undefined,
  retryAfterMs: number | undefined,
): ErrorKind {
  const message = body.message ?? '';
  if (status === 400) {
    if (reason?.startsWith('API_KEY_') || /api key (not valid|expired|invalid)/i.test(message)) return 'auth';
    // FAILED_PRECONDITION: billing not enabled, or the free tier is not available in the region.
    if (body.status === 'FAILED_PRECONDITION') return 'quota';
    if (/token limit|exceeds the maximum number of tokens|input token count/i.test(message))
      return 'context_length';
    return 'invalid_request';
  }
  if (status === 402) return 'quota'; // RESOURCE_EXHAUSTED: prepaid credits depleted
  if (status === 429) return gemini429IsQuota(body, message, retryAfterMs) ? 'quota' : 'rate_limit';
  if (status === 503) return 'overloaded'; // UNAVAILABLE: "The model is overloaded"
  if (status === 504) return 'timeout'; // DEADLINE_EXCEEDED
  return kindForStatus(status);
}

/**
 * Every Gemini 429 is RESOURCE_EXHAUSTED and most say "You exceeded your current quota,
 * please check your plan and billing details", even per-minute limits. So: a RetryInfo
 * delay means "come back later" (rate_limit), unless the exhausted quota is a per-day one;
 * without RetryInfo, words about billing/credits mean the money ran out (quota).
 */
function gemini429IsQuota(body: GoogleErrorBody, message: string, retryAfterMs: number | undefined): boolean {
  const quotaIds = detail(body, 'google.rpc.QuotaFailure')?.violations?.map((v) => v.quotaId ?? '') ?? [];
  if (quotaIds.some((id) => /PerDay/i.test(id))) return true;
  if (retryAfterMs !== undefined) return false;
  return /billing|prepa(id|y)|credits?\b|spend(ing)? (cap|limit)|quota (is )?exhausted/i.test(message);
}
