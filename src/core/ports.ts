import type { EngineEventBus } from './events.js';
import type { ModelRef, Provider, ProviderError, ProviderId } from './provider-spec.js';

/**
 * The engine's ports: what it needs from outside and is given at start (src/bootstrap.ts),
 * so tests hand it fakes without mocking modules. The clock is src/core/clock.ts.
 */

export type { Clock } from './clock.js';

/**
 * What workflow loading, precedence and the menus need to know about models. The real
 * catalogue (src/providers/catalogue.ts) implements it; tests pass a small table.
 */
export interface ModelCatalogue {
  /** Providers with credentials, in preference order (the first is the global fallback). */
  readonly providers: readonly ProviderId[];
  /**
   * Every provider this deployment knows, configured or not: the built-ins and the named
   * endpoints (LLM_ENDPOINTS). Workflow files may name only these.
   */
  readonly knownProviders: readonly ProviderId[];
  /** The provider's name for people ("OpenAI", an endpoint's label); the id when unknown. */
  label(provider: ProviderId): string;
  /** Models to offer for a provider in menus (callers offer only configured providers). */
  models(provider: ProviderId): readonly string[];
  /**
   * Every model known for a provider, configured or not. Workflow files are validated
   * against this, so a workflow naming google loads even without GEMINI_API_KEY; the
   * engine fails at run time with a clear message instead.
   */
  knownModels(provider: ProviderId): readonly string[];
  /** The provider's default model (the first of its list). */
  defaultModel(provider: ProviderId): string;
  /** True when `model` is a known model of `provider`. */
  has(provider: ProviderId, model: string): boolean;
  /** The provider whose models include `model`, if exactly one admin list does, else its family's. */
  inferProvider(model: string): ProviderId | undefined;
}

/** Where the engine gets providers: the configured ones only. */
export interface Providers {
  /** The adapter of a configured provider; undefined for one without credentials. */
  get(id: ProviderId): Provider | undefined;
  /** Configured providers, in menu order. */
  configured(): ProviderId[];
  /**
   * The error for a call to a provider that is not configured, naming what to set
   * ("Google Gemini is not configured: set GEMINI_API_KEY and restart Switchboard.").
   */
  notConfigured(ref: ModelRef): ProviderError;
}

/** Optional health oracle (circuit breakers); the engine asks it before each call. */
export interface HealthGate {
  /**
   * False while the provider/model's breaker is open: skip straight to the next candidate.
   * May hand out the single half-open probe, so ask only right before calling.
   */
  allow(ref: ModelRef): boolean;
  /** True while the circuit is open (no side effects: never hands out the probe). */
  isOpen?(ref: ModelRef): boolean;
  /** Why `allow` said no, in a few words for the card ("5 of last 6 failed: rate limited"). */
  reason?(ref: ModelRef): string | undefined;
  /** Called once by the Engine with its event bus (the gate learns from 'attempt.recorded'). */
  listen?(events: EngineEventBus): void;
  /** Called by Engine.start / Engine.stop. */
  start?(): Promise<void>;
  stop?(): void;
}
