import type { ModelRef, ProviderId } from './provider-spec.js';

export type { ModelRef };

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
  /** A person approves the step's output before the run goes on (docs/control.md). */
  approval?: ApprovalPolicy | undefined;
}

/** Who approves a gated step, and what happens when nobody does in time. */
export interface ApprovalPolicy {
  /** Slack user ids. */
  users: string[];
  /** A Slack user group id (S…): any member may approve. */
  usergroup?: string | undefined;
  /** The person who started the run. */
  starter: boolean;
  /** The workflow's owners. */
  owners: boolean;
  /** Minutes the output waits; unset → forever. */
  timeoutMinutes?: number | undefined;
  /** After the timeout: fail the run, or tell the alert channel and keep waiting. */
  onTimeout: 'fail' | 'escalate';
}

/** Spending caps in USD (docs/control.md); unset → no cap at that level. */
export interface BudgetPolicy {
  perRunUsd?: number | undefined;
  perDayUsd?: number | undefined;
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
  /**
   * Slack user ids who may start runs of it (with the owners and admins); unset or empty:
   * everyone in the workspace.
   */
  runners?: string[] | undefined;
  fallbacks: ModelRef[];
  retry?: RetryPolicy | undefined;
  /** Per provider call, for steps that set none (then the global STEP_TIMEOUT_SECONDS). */
  timeoutSeconds?: number | undefined;
  steps: StepDefinition[];
  /** When the workflow runs by itself (src/schedules, docs/schedules.md). */
  schedules?: ScheduleDefinition[] | undefined;
  /** Spending caps of its runs (docs/control.md). */
  budget?: BudgetPolicy | undefined;
}

/** One entry of a workflow file's `schedules:` list. */
export interface ScheduleDefinition {
  /** node-cron syntax, 5 fields (minute granularity). */
  cron: string;
  /** IANA time zone; unset → SCHEDULE_TIMEZONE (default UTC). */
  timezone?: string | undefined;
  /** Slack channel id the scheduled runs are posted in. */
  channel: string;
  input: string;
  /** While the previous run is still active: skip this firing, or queue it behind that run. */
  overlap: 'skip' | 'queue';
  /** Firings missed while the bot was down: start one run on start, or only say so. */
  missed: 'run_once' | 'skip';
  /** A paused run of this schedule is failed after this long; unset → SCHEDULE_PAUSE_TIMEOUT_MINUTES, 0 → never. */
  pauseTimeoutMinutes?: number | undefined;
}
