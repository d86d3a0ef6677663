import type { CostTotal } from '../../core/cost.js';
import type { RunStatus, StepStatus, Trigger } from '../../core/states.js';
import type { Block } from './blocks.js';

/**
 * What the Slack views render: plain data, filled by the renderer from the database rows.
 * Field names follow prisma/schema.prisma so a mapper is mostly a copy; nullable columns
 * accept `null` as well as `undefined`. Resolution (precedence) happens before this point:
 * `provider`, `model` and the persona fields are the effective values, not the overrides.
 */

export type { RunStatus, StepStatus, Trigger as RunTrigger } from '../../core/states.js';

/** A schedule as people know it: its number, workflow, cron and time zone. */
export interface ScheduleName {
  number: number;
  workflow: string;
  cron: string;
  timezone: string;
}

export interface RunView {
  id: string;
  /** The short number people type: `/workflow status 42`. */
  number: number;
  workflowName: string;
  description?: string | null;
  status: RunStatus;
  input: string;
  /** A Slack user id (rendered as a mention), `schedule:<id>` or `cli:<user>`. */
  startedBy: string;
  /** The schedule that started it (`schedule:<id>`), as `/workflow schedule list` names it; null once removed. */
  schedule?: ScheduleName | null;
  trigger: Trigger;
  stepsTotal: number;
  stepsCompleted: number;
  /** Why the run failed or was cancelled, in plain words. */
  reason?: string | null;
  /** ISO 8601. */
  createdAt: string;
  /** WorkflowRun.version; embedded in block_ids so a stale parent message can be detected. */
  version?: number;
  /** Tokens and cost of its answered calls (docs/control.md, "Cost"). */
  usage?: UsageView | null;
  /** A re-run: the run it re-runs and the step (1-based) it started from. */
  rerunOf?: { number: number; fromStep: number } | null;
  /** Its own spending cap in USD, if any. */
  budgetUsd?: number | null;
}

export interface UsageView {
  inputTokens: number;
  outputTokens: number;
  cost: CostTotal;
}

/** Who may approve a step awaiting approval, as the card says it (docs/control.md). */
export interface ApprovalView {
  users: readonly string[];
  usergroup?: string | null;
  /** The run's starter, when the gate names them. */
  starter?: string | null;
  owners: boolean;
  timeoutMinutes?: number | null;
  onTimeout: 'fail' | 'escalate';
  /** The timeout passed and the alert channel was told. */
  escalated: boolean;
}

export type PersonaSource = 'override' | 'step' | 'workflow' | 'none';

export interface StepErrorView {
  /** An ErrorKind (src/providers/types.ts); anything else is shown as "unknown". */
  kind: string;
  /** Secret-free summary of what the provider said. */
  message: string;
  provider: string;
  model: string;
}

export interface StepView {
  id: string;
  runId: string;
  /** 0-based, as in RunStep.position; shown 1-based. */
  position: number;
  /** Steps in the run. */
  total: number;
  name: string;
  status: StepStatus;
  /** RunStep.version; embedded in block_ids so a click on a stale card can be refused. */
  version: number;
  /** Effective provider/model (override > step > workflow > global default). */
  provider: string;
  model: string;
  /** Effective persona; `personaId` is needed to preselect an override in the menu. */
  personaId?: string | null;
  personaName?: string | null;
  personaSource: PersonaSource;
  /**
   * The persona that applies when the override is cleared (the step's own, else the
   * workflow's): shown as "Workflow default (X)".
   */
  workflowPersonaName?: string | null;
  output?: string | null;
  /**
   * A running step's text so far, when it is shown on the card (live output in card mode:
   * docs/slack.md); the final output replaces it.
   */
  live?: string | null;
  /** The provider's finish reason; "length" means the model stopped at its token limit. */
  finishReason?: string | null;
  answeredProvider?: string | null;
  answeredModel?: string | null;
  inputTokens: number;
  outputTokens: number;
  latencyMs?: number | null;
  attempts: number;
  lastError?: StepErrorView | null;
  /** Why it moved on, e.g. "anthropic/claude-haiku-4-5 rate limited → answered by openai/gpt-4o-mini". */
  fallbackNote?: string | null;
  /** What its answered calls cost; undefined when it made none. */
  cost?: CostTotal | null;
  /** A re-run's step whose output came from this run number, with no provider call. */
  reusedFrom?: number | null;
  /** Its gate, when it has one. */
  approval?: ApprovalView | null;
  /** Its run is over: the card offers "Re-run from here…". */
  rerunnable?: boolean;
}

export interface ProviderMenu {
  /** ProviderId: `openai`, `anthropic`, `google`. */
  id: string;
  /** Human name: "OpenAI". */
  label: string;
  models: string[];
  /** Short health note appended to the group label, e.g. "degraded". */
  health?: string | null;
}

export interface PersonaMenu {
  id: string;
  name: string;
}

/** What the menus may offer: only configured providers, only enabled personas. */
export interface MenuOptions {
  providers: ProviderMenu[];
  personas: PersonaMenu[];
}

/** A Slack message body: `text` is the notification/accessibility fallback. */
export interface MessagePayload {
  text: string;
  blocks: Block[];
}
