import { type ErrorKind, RETRYABLE_KINDS } from './error-kinds.js';

/**
 * A configured provider's id ("openai", "anthropic", "google"): a plain string, checked
 * against the provider table where it comes in (configuration, workflow files, clicks).
 */
export type ProviderId = string;

/** What an adapter is built from: the provider's identity and the admin's settings for it. */
export interface ProviderSettings {
  id: ProviderId;
  label: string;
  apiKey: string | undefined;
  baseUrl: string | undefined;
  /** The admin's model list (OPENAI_MODELS…); empty means the built-in list. */
  models: string[];
}

// Model names may hold `/` (org/model), `:` (ollama tags), `.` and `@`; never whitespace,
// control characters or `|` (menu values join ids with it), and fit a Slack option value.
const MODEL_NAME = /^[^\s\p{Cc}|]{1,140}$/u;

/** Whether `value` can be a model name in menus, workflow files and LLM_ENDPOINTS' model lists. */
export function isModelName(value: string): boolean {
  return MODEL_NAME.test(value);
}

/** A provider and model, as written "provider/model" in workflow files and menus. */
export interface ModelRef {
  provider: ProviderId;
  model: string;
}

/**
 * What a provider is, for every part that calls or reports on one: the small interface an
 * adapter implements (generate, stream) and the one error type it throws. The adapters
 * live in src/providers; this file has no dependency on them.
 */

export interface ProviderErrorInit {
  kind: ErrorKind;
  provider: ProviderId;
  model?: string | undefined;
  /** Short, secret-free summary of what the provider said. */
  message: string;
  status?: number | undefined;
  /** How long the provider asked us to wait, when it said (Retry-After, retry-after-ms, RetryInfo). */
  retryAfterMs?: number | undefined;
  /** Provider's own error code or type (e.g. insufficient_quota, overloaded_error). */
  code?: string | undefined;
  cause?: unknown;
}

/** The one error type every provider adapter throws. */
export class ProviderError extends Error {
  override name = 'ProviderError';
  readonly kind: ErrorKind;
  readonly provider: ProviderId;
  readonly model: string | undefined;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly code: string | undefined;

  constructor(init: ProviderErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.provider = init.provider;
    this.model = init.model;
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    this.code = init.code;
  }

  get retryable(): boolean {
    return RETRYABLE_KINDS.has(this.kind);
  }

  static isInstance(value: unknown): value is ProviderError {
    return value instanceof ProviderError;
  }
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface GenerateRequest {
  model: string;
  /** The persona's system prompt, if any: sent as the provider's system instruction. */
  system?: string | undefined;
  prompt: string;
  maxOutputTokens?: number | undefined;
  /** Aborts the call; an abort caused by the timeout is reported as kind "timeout". */
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

export interface GenerateResult {
  text: string;
  usage: Usage;
  /** Normalised: "stop", "length", or the provider's own reason. */
  finishReason: string;
  provider: ProviderId;
  model: string;
}

export type StreamChunk = { type: 'text'; text: string } | { type: 'done'; result: GenerateResult };

/** One small interface per provider: adding a provider is one adapter file and one line of the provider table. */
export interface Provider {
  readonly id: ProviderId;
  /** Human name for messages: "OpenAI", "Anthropic", "Google Gemini". */
  readonly label: string;
  generate(request: GenerateRequest): Promise<GenerateResult>;
  /** Yields text deltas, then one "done" chunk with the whole result. Throws ProviderError. */
  stream(request: GenerateRequest): AsyncIterable<StreamChunk>;
}
