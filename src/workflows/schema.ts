import { z } from 'zod';
import { cronProblem } from '../core/cron.js';
import type { ProviderId } from '../core/provider-spec.js';
import { nearest } from '../core/suggest.js';
import { normalizeTimezone, timezoneProblem } from '../core/timezone.js';
import type {
  ApprovalPolicy,
  BudgetPolicy,
  ModelRef,
  PersonaDefinition,
  RetryPolicy,
  ScheduleDefinition,
  StepDefinition,
  WorkflowDefinition,
} from '../core/workflow-definition.js';

/**
 * The workflow file format (fixed: other tools write it) and personas.yml, as zod schemas.
 * Files use snake_case; parsing yields the camelCase definition types. Unknown keys are
 * errors, so a typo never silently drops a setting. Checks that need the model catalogue
 * (which providers exist: the built-ins and this deployment's LLM_ENDPOINTS), the persona
 * list or other steps live in validate.ts.
 */

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const STEP_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
// Slack channel ids start with C (public) or G (private); names are lowercase, ≤ 80 chars.
const CHANNEL = /^(?:[CG][A-Z0-9]{2,}|#[a-z0-9][a-z0-9._-]{0,79})$/;
// User ids start with U, or W on Enterprise Grid.
const USER_ID = /^[UW][A-Z0-9]{2,}$/;
// User group ids start with S.
const USERGROUP_ID = /^S[A-Z0-9]{2,}$/;

export const MAX_STEPS = 40;
export const MAX_RETRIES = 10;
export const MAX_TIMEOUT_SECONDS = 3600;

/** A strict object whose unknown-key error names the allowed keys and the likely one meant. */
function strict<S extends z.ZodRawShape>(shape: S) {
  const allowed = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === 'invalid_type' && issue.expected === 'object')
        return `must be a mapping of ${allowed.join(', ')}`;
      if (issue.code !== 'unrecognized_keys') return undefined;
      const keys = issue.keys.map((k) => `"${k}"`).join(', ');
      const guess = issue.keys.length === 1 ? closest(issue.keys[0]!, allowed) : undefined;
      const hint = guess ? ` — did you mean "${guess}"?` : '';
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}${hint} (allowed: ${allowed.join(', ')})`;
    },
  });
}

const text = (what: string, max: number) =>
  z
    .string({ error: (i) => (i.input === undefined ? 'is required' : `must be text (${what})`) })
    .trim()
    .min(1, `must not be empty (${what})`)
    .max(max, `must be at most ${max} characters`);

const userIds = z.array(
  z.string({ error: 'must be a Slack user id' }).regex(USER_ID, 'must be a Slack user id, e.g. U012AB3CD'),
  { error: 'must be a list of Slack user ids' },
);

const slug = z
  .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be text') })
  .regex(SLUG, 'must be a slug: 1-64 lowercase letters, digits and dashes, e.g. release-notes');

/** A provider's name; whether this deployment knows it is checked against the catalogue (validate.ts). */
const provider = z
  .string({ error: 'must be a provider name, e.g. openai' })
  .trim()
  .min(1, 'must not be empty (a provider name, e.g. openai)');

const model = z
  .string({ error: 'must be a model name, e.g. gpt-4o-mini' })
  .trim()
  .min(1, 'must not be empty');

/** "provider/model" → ModelRef. Provider and model are checked against the catalogue later. */
const fallback = z
  .string({ error: 'must be "provider/model", e.g. "google/gemini-2.5-flash"' })
  .transform((value, ctx): ModelRef => {
    const slash = value.indexOf('/');
    const p = value.slice(0, slash).trim();
    const m = value.slice(slash + 1).trim();
    if (slash < 0 || p === '' || m === '') {
      ctx.addIssue({
        code: 'custom',
        message: `"${value}" must be "provider/model", e.g. "google/gemini-2.5-flash"`,
      });
      return z.NEVER;
    }
    return { provider: p as ProviderId, model: m };
  });

const fallbacks = z
  .array(fallback, { error: 'must be a list of "provider/model"' })
  .max(10, 'at most 10 fallbacks');

const wholeNumber = (min: number, max: number, hint: string) =>
  z
    .number({ error: `must be a whole number from ${min} to ${max} (${hint})` })
    .int(`must be a whole number from ${min} to ${max} (${hint})`)
    .min(min, `must be a whole number from ${min} to ${max} (${hint})`)
    .max(max, `must be a whole number from ${min} to ${max} (${hint})`);

const retryObject = strict({
  max_attempts: wholeNumber(1, MAX_RETRIES + 1, 'provider calls per model, including the first').optional(),
  base_ms: wholeNumber(0, 600_000, 'first backoff in milliseconds').optional(),
  max_ms: wholeNumber(0, 3_600_000, 'longest backoff in milliseconds').optional(),
});

/** Fields shared by a workflow and a step: the model and how hard to try it. */
const execution = {
  persona: slug.optional(),
  provider: provider.optional(),
  model: model.optional(),
  fallbacks: fallbacks.optional(),
  retries: wholeNumber(0, MAX_RETRIES, 'extra attempts after the first').optional(),
  retry: retryObject.optional(),
  timeout_seconds: wholeNumber(1, MAX_TIMEOUT_SECONDS, 'per provider call').optional(),
};

type ExecutionInput = {
  retries?: number | undefined;
  retry?: z.infer<typeof retryObject> | undefined;
};

function checkRetry(value: ExecutionInput, ctx: z.RefinementCtx): void {
  if (value.retries !== undefined && value.retry !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['retry'],
      message: 'use either retries (a number) or retry (max_attempts, base_ms, max_ms), not both',
    });
  }
}

function toRetry(value: ExecutionInput): RetryPolicy | undefined {
  if (value.retries !== undefined) return { maxAttempts: value.retries + 1 };
  if (!value.retry) return undefined;
  const { max_attempts, base_ms, max_ms } = value.retry;
  const policy: RetryPolicy = {};
  if (max_attempts !== undefined) policy.maxAttempts = max_attempts;
  if (base_ms !== undefined) policy.baseMs = base_ms;
  if (max_ms !== undefined) policy.maxMs = max_ms;
  return policy;
}

const yesNo = z.boolean({ error: 'must be true or false' });

export const MAX_APPROVAL_TIMEOUT_MINUTES = 43_200;

/** A step's `approval:` (docs/control.md): who approves its output, and what a timeout does. */
export const approvalFile = strict({
  users: userIds.max(50, 'at most 50 users').optional(),
  usergroup: z
    .string({ error: 'must be a Slack user group id, e.g. S0REVIEWERS' })
    .regex(USERGROUP_ID, 'must be a Slack user group id such as S0REVIEWERS (a @handle can be renamed)')
    .optional(),
  starter: yesNo.optional(),
  owners: yesNo.optional(),
  timeout_minutes: wholeNumber(
    1,
    MAX_APPROVAL_TIMEOUT_MINUTES,
    'minutes the output waits for approval',
  ).optional(),
  on_timeout: z.enum(['fail', 'escalate'], { error: 'must be fail or escalate' }).optional(),
})
  .superRefine((a, ctx) => {
    if ((a.users ?? []).length === 0 && !a.usergroup && !a.starter && !a.owners) {
      ctx.addIssue({
        code: 'custom',
        message: 'names no approver: set users, usergroup, starter: true or owners: true',
      });
    }
    if (a.on_timeout !== undefined && a.timeout_minutes === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['on_timeout'],
        message: 'needs timeout_minutes (how long the output waits before it)',
      });
    }
  })
  .transform(
    (a): ApprovalPolicy => ({
      users: a.users ?? [],
      usergroup: a.usergroup,
      starter: a.starter ?? false,
      owners: a.owners ?? false,
      timeoutMinutes: a.timeout_minutes,
      onTimeout: a.on_timeout ?? 'escalate',
    }),
  );

const usd = (hint: string) =>
  z
    .number({ error: `must be an amount in US dollars, e.g. 0.50 (${hint})` })
    .positive(`must be more than 0 (${hint})`)
    .max(1_000_000, `must be at most 1000000 (${hint})`);

/** A workflow's `budget:` (docs/control.md): USD caps per run and per UTC day. */
export const budgetFile = strict({
  per_run_usd: usd('the most one run may spend').optional(),
  per_day_usd: usd('the most all its runs may spend in a UTC day').optional(),
})
  .superRefine((b, ctx) => {
    if (b.per_run_usd === undefined && b.per_day_usd === undefined)
      ctx.addIssue({ code: 'custom', message: 'set per_run_usd, per_day_usd or both' });
  })
  .transform((b): BudgetPolicy => ({ perRunUsd: b.per_run_usd, perDayUsd: b.per_day_usd }));

const stepFile = strict({
  name: z
    .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be text') })
    .regex(STEP_NAME, 'must be 1-64 lowercase letters, digits, "-" or "_", e.g. summarize'),
  prompt: text('the prompt template', 100_000),
  ...execution,
  approval: approvalFile.optional(),
})
  .superRefine(checkRetry)
  .transform(
    (s): StepDefinition => ({
      name: s.name,
      prompt: s.prompt,
      provider: s.provider,
      model: s.model,
      persona: s.persona,
      fallbacks: s.fallbacks ?? [],
      retry: toRetry(s),
      timeoutSeconds: s.timeout_seconds,
      ...(s.approval === undefined ? {} : { approval: s.approval }),
    }),
  );

// Scheduled runs (docs/schedules.md): cron and time zone are checked here, at load time.
const SCHEDULE_CHANNEL = /^[CG][A-Z0-9]{2,}$/;
export const MAX_SCHEDULES = 20;

const scheduleFile = strict({
  cron: z
    .string({
      error: (i) =>
        i.input === undefined
          ? 'is required, e.g. "0 9 * * 1-5"'
          : 'must be text, e.g. "0 9 * * 1-5" (quote it)',
    })
    .superRefine((value, ctx) => {
      const problem = cronProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  timezone: z
    .string({ error: 'must be an IANA time zone name, e.g. Europe/Berlin' })
    .transform((value, ctx) => {
      const zone = normalizeTimezone(value);
      if (zone === undefined) {
        ctx.addIssue({ code: 'custom', message: timezoneProblem(value) ?? 'unknown time zone' });
        return z.NEVER;
      }
      return zone;
    })
    .optional(),
  channel: z
    .string({
      error: (i) =>
        i.input === undefined
          ? 'is required: the Slack channel id the runs are posted in, e.g. C0DIGEST'
          : 'must be a Slack channel id, e.g. C0DIGEST',
    })
    .regex(SCHEDULE_CHANNEL, 'must be a Slack channel id such as C0DIGEST (a #name can be renamed)'),
  input: z
    .string({ error: 'must be text (quote it)' })
    .max(10_000, 'must be at most 10000 characters')
    .optional(),
  overlap: z.enum(['skip', 'queue'], { error: 'must be skip (the default) or queue' }).optional(),
  missed: z.enum(['run_once', 'skip'], { error: 'must be run_once (the default) or skip' }).optional(),
  pause_timeout_minutes: wholeNumber(
    0,
    43_200,
    'minutes a paused run waits before it is failed; 0 = never',
  ).optional(),
}).transform(
  (s): ScheduleDefinition => ({
    cron: s.cron.trim(),
    timezone: s.timezone,
    channel: s.channel,
    input: s.input ?? '',
    overlap: s.overlap ?? 'skip',
    missed: s.missed ?? 'run_once',
    pauseTimeoutMinutes: s.pause_timeout_minutes,
  }),
);

const scheduleList = z
  .array(scheduleFile, { error: 'must be a list of schedules (each with cron, timezone, channel)' })
  .max(MAX_SCHEDULES, `at most ${MAX_SCHEDULES} schedules`)
  .superRefine((list, ctx) => {
    const seen = new Map<string, number>();
    list.forEach((s, i) => {
      const key = JSON.stringify([s.cron, s.timezone ?? '', s.channel, s.input]);
      const first = seen.get(key);
      if (first === undefined) seen.set(key, i);
      else ctx.addIssue({ code: 'custom', path: [i], message: `same as schedules[${first}]` });
    });
  });

export const workflowFileSchema = strict({
  name: slug,
  description: z
    .string({ error: 'must be text' })
    .trim()
    .max(500, 'must be at most 500 characters')
    .optional(),
  notify: z
    .string({ error: 'must be a Slack channel id or #name' })
    .regex(CHANNEL, 'must be a Slack channel id (e.g. C0ALERTS) or a #channel-name')
    .optional(),
  owners: userIds.optional(),
  runners: userIds.optional(),
  steps: z
    .array(stepFile, { error: (i) => (i.input === undefined ? 'is required' : 'must be a list of steps') })
    .min(1, 'needs at least one step')
    .max(MAX_STEPS, `at most ${MAX_STEPS} steps`),
  schedules: scheduleList.optional(),
  budget: budgetFile.optional(),
  ...execution,
})
  .superRefine((w, ctx) => {
    checkRetry(w, ctx);
    w.steps.forEach((step, i) => {
      if (step.approval?.owners && (w.owners ?? []).length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['steps', i, 'approval', 'owners'],
          message:
            'is true, but the workflow lists no owners: add owners: [U012AB3CD] or name other approvers',
        });
      }
    });
    const seen = new Map<string, number>();
    w.steps.forEach((step, i) => {
      const first = seen.get(step.name);
      if (first === undefined) seen.set(step.name, i);
      else
        ctx.addIssue({
          code: 'custom',
          path: ['steps', i, 'name'],
          message: `duplicate step name "${step.name}" (also steps[${first}])`,
        });
    });
  })
  .transform(
    (w): WorkflowDefinition => ({
      name: w.name,
      description: w.description ?? '',
      persona: w.persona,
      provider: w.provider,
      model: w.model,
      notify: w.notify,
      owners: w.owners ?? [],
      ...(w.runners === undefined || w.runners.length === 0 ? {} : { runners: w.runners }),
      fallbacks: w.fallbacks ?? [],
      retry: toRetry(w),
      timeoutSeconds: w.timeout_seconds,
      steps: w.steps,
      ...(w.schedules === undefined ? {} : { schedules: w.schedules }),
      ...(w.budget === undefined ? {} : { budget: w.budget }),
    }),
  );

const personaFile = strict({
  name: slug,
  description: z
    .string({ error: 'must be text' })
    .trim()
    .max(500, 'must be at most 500 characters')
    .optional(),
  system: text('the system prompt', 20_000),
}).transform(
  (p): PersonaDefinition => ({ name: p.name, description: p.description ?? '', system: p.system }),
);

export const personasFileSchema = strict({
  personas: z
    .array(personaFile, {
      error: (i) => (i.input === undefined ? 'is required' : 'must be a list of personas'),
    })
    .max(200, 'at most 200 personas'),
}).superRefine((f, ctx) => {
  const seen = new Map<string, number>();
  f.personas.forEach((p, i) => {
    const first = seen.get(p.name);
    if (first === undefined) seen.set(p.name, i);
    else
      ctx.addIssue({
        code: 'custom',
        path: ['personas', i, 'name'],
        message: `duplicate persona "${p.name}" (also personas[${first}])`,
      });
  });
});

export interface SchemaProblem {
  /** Path inside the file as written, e.g. ["steps", 1, "persona"]. */
  path: (string | number)[];
  message: string;
}

/** Flattens zod issues into one problem per path, keyed in the file's own (snake_case) terms. */
export function schemaProblems(error: z.ZodError): SchemaProblem[] {
  return error.issues.map((issue) => {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys' && issue.keys.length === 1) path.push(issue.keys[0]!);
    return { path, message: issue.message };
  });
}

/** "steps[1].persona" */
export function formatPath(path: readonly (string | number)[]): string {
  return path.reduce<string>(
    (out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${part}` : part),
    '',
  );
}

/** The allowed word nearest to `word`, when it is close enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  return nearest(word, candidates, { prefix: true });
}
