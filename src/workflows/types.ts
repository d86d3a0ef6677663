import type { ProviderId } from '../config.js';

/** A provider and model, as written "provider/model" in workflow files. */
export interface ModelRef {
  provider: ProviderId;
  model: string;
}

/** Retry policy; unset fields fall back to the workflow's, then the global default. */
export interface RetryPolicy {
  maxAttempts?: number | undefined;
  baseMs?: number | undefined;
  maxMs?: number | undefined;
}

export interface PersonaDefinition {
  name: string;
  description: string;
  system: string;
}

export interface StepDefinition {
  name: string;
  prompt: string;
  provider?: ProviderId | undefined;
  model?: string | undefined;
  /** Persona name; overrides the workflow persona. */
  persona?: string | undefined;
  fallbacks: ModelRef[];
  retry?: RetryPolicy | undefined;
  timeoutSeconds?: number | undefined;
}

export interface WorkflowDefinition {
  name: string;
  description: string;
  persona?: string | undefined;
  provider?: ProviderId | undefined;
  model?: string | undefined;
  /** Slack channel for failure alerts. */
  notify?: string | undefined;
  /** Slack user ids allowed to act on every run of this workflow. */
  owners: string[];
  fallbacks: ModelRef[];
  retry?: RetryPolicy | undefined;
  /** Per provider call, for steps that set none (then the global STEP_TIMEOUT_SECONDS). */
  timeoutSeconds?: number | undefined;
  steps: StepDefinition[];
  /** Kept as written; a later issue (scheduled runs) validates it. */
  schedules?: unknown[] | undefined;
}
