import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { ModelPrice } from './core/cost.js';
import type { ProviderId, ProviderSettings } from './core/provider-spec.js';
import { isModelName } from './core/provider-spec.js';
import { normalizeTimezone, timezoneProblem } from './core/timezone.js';
import type { PriceOverrides } from './providers/prices.js';
import {
  type BuiltInProviderId,
  ENDPOINTS_VARIABLE,
  endpointIdProblem,
  endpointVariables,
  PROVIDER_IDS,
  PROVIDER_TABLE,
} from './providers/table.js';

/**
 * Configuration, read once from the environment at start and validated here.
 * Nothing else in the code reads process.env: every part takes what it needs from Config.
 */

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n')}\n` +
        'Fix the variables above (see the table in README.md) and start again.',
    );
  }
}

const optionalString = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .optional();

const url = (example: string) =>
  optionalString.refine((v) => v === undefined || /^https?:\/\/[^/]/.test(v), {
    message: `must be a full URL such as ${example}, or unset`,
  });

const int = (fallback: number, min: number, max: number, hint: string) =>
  optionalString
    .transform((v) => (v === undefined ? fallback : Number(v)))
    .refine((n) => Number.isInteger(n) && n >= min && n <= max, {
      message: `must be a whole number from ${min} to ${max} (${hint})`,
    });

const fraction = (fallback: number, hint: string) =>
  optionalString
    .transform((v) => (v === undefined ? fallback : Number(v)))
    .refine((n) => Number.isFinite(n) && n >= 0 && n <= 1, {
      message: `must be a number from 0 to 1 (${hint})`,
    });

const list = optionalString.transform((v) =>
  v === undefined
    ? []
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
);

const bool = (fallback: boolean, hint: string) =>
  optionalString
    .transform((v) => (v === undefined ? String(fallback) : v.toLowerCase()))
    .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), {
      message: `must be true or false (${hint})`,
    })
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Each provider's key, base URL and model list variables, from the provider table. */
const providerVariables = Object.fromEntries(
  PROVIDER_IDS.flatMap((id) => {
    const entry = PROVIDER_TABLE[id];
    return [
      [entry.keyVariable, optionalString],
      ...entry.keyAliases.map((alias) => [alias, optionalString]),
      [entry.baseUrlVariable, url(entry.baseUrlExample)],
      [entry.modelsVariable, list],
    ];
  }),
) as Record<string, typeof optionalString | ReturnType<typeof url> | typeof list>;

const envSchema = z.object({
  NODE_ENV: optionalString,
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  DATABASE_URL: optionalString.refine((v) => v === undefined || /^postgres(ql)?:\/\//.test(v), {
    message:
      'must be a postgresql:// URL (e.g. postgresql://user@localhost:5432/switchboard), or unset for the embedded database',
  }),
  DATA_DIR: optionalString.transform((v) => v ?? './data'),
  WORKFLOWS_DIR: optionalString.transform((v) => v ?? './workflows'),

  ...providerVariables,
  // ENDPOINTS_VARIABLE; the endpoints' own variables are named after them (endpointSettings below).
  LLM_ENDPOINTS: list,
  DEFAULT_PROVIDER: optionalString,
  DEFAULT_MODEL: optionalString,

  RETRY_MAX_ATTEMPTS: int(3, 1, 20, 'provider calls per provider/model before moving on, e.g. 3'),
  RETRY_BASE_MS: int(1000, 0, 600_000, 'first backoff in milliseconds, e.g. 1000'),
  RETRY_MAX_MS: int(30_000, 0, 3_600_000, 'longest single backoff in milliseconds, e.g. 30000'),
  RETRY_JITTER: fraction(0.5, '0 = exact backoff, 1 = anywhere from 0 to the backoff, e.g. 0.5'),
  STEP_TIMEOUT_SECONDS: int(120, 1, 3600, 'per provider call, e.g. 120'),
  LIVE_OUTPUT: bool(true, "stream a running step's text into its Slack thread (docs/slack.md, Live output)"),
  STEP_DEADLINE_SECONDS: int(
    600,
    1,
    86_400,
    'no new provider call starts this long after a step began, e.g. 600',
  ),
  BREAKER_FAILURE_THRESHOLD: int(5, 1, 1000, 'failures in the window that open the circuit, e.g. 5'),
  BREAKER_WINDOW: int(6, 1, 1000, 'how many recent calls per provider/model are counted, e.g. 6'),
  BREAKER_WINDOW_SECONDS: int(600, 1, 86_400, 'only calls this recent are counted, e.g. 600'),
  BREAKER_COOLDOWN_SECONDS: int(30, 1, 86_400, 'how long an open circuit waits before one probe, e.g. 30'),
  WORKER_CONCURRENCY: int(4, 1, 256, 'steps executed at once by this process, e.g. 4'),
  LEASE_SECONDS: int(60, 5, 3600, 'how long a step lease lasts without a heartbeat, e.g. 60'),

  SLACK_BOT_TOKEN: optionalString.refine((v) => v === undefined || v.startsWith('xoxb-'), {
    message: 'must be a bot token starting with xoxb- (Slack app → OAuth & Permissions)',
  }),
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_APP_TOKEN: optionalString.refine((v) => v === undefined || v.startsWith('xapp-'), {
    message:
      'must be an app-level token starting with xapp- (Slack app → Basic Information → App-Level Tokens), or unset for HTTP mode',
  }),
  SLACK_API_URL: url('https://slack.com/api/'),
  SLACK_ALERT_CHANNEL: optionalString,
  SLACK_ADMIN_USER_IDS: list,
  SLACK_EDIT_POLICY: z
    .enum(['owners', 'channel'], { message: 'must be "owners" (default) or "channel"' })
    .default('owners'),
  SLACK_THREAD_MAX_MESSAGES: int(
    200,
    1,
    1000,
    'messages of a thread "Run a workflow…" reads at most; a longer thread is refused, e.g. 200',
  ),
  SLACK_THREAD_MAX_CHARS: int(
    40_000,
    500,
    100_000,
    'characters of a thread or message "Run a workflow…" takes as input at most, e.g. 40000',
  ),
  SLACK_FUNCTION_TIMEOUT_MINUTES: int(
    1440,
    0,
    43_200,
    'minutes a Workflow Builder step waits for its run before it is stopped and reported failed; 0 = never, e.g. 1440',
  ),
  SLACK_MEMBERSHIP_TTL_SECONDS: int(
    60,
    1,
    3600,
    'how long channel membership read from Slack is trusted before it is read again, e.g. 60',
  ),
  PORT: int(3000, 1, 65_535, 'the HTTP port, e.g. 3000'),
  METRICS_ENABLED: bool(true, 'serve Prometheus metrics at /metrics on PORT'),
  METRICS_TOKEN: optionalString.refine((v) => v === undefined || v.length >= 16, {
    message: 'must be at least 16 characters (a random string, e.g. from `openssl rand -hex 24`), or unset',
  }),

  MAX_INPUT_BYTES: int(100_000, 1, 10_000_000, 'largest run input in bytes, e.g. 100000'),
  MAX_OUTPUT_BYTES: int(
    200_000,
    1_000,
    10_000_000,
    "a step's output is cut (with a note) beyond this many bytes, e.g. 200000",
  ),
  MAX_RUNS_IN_FLIGHT_PER_USER: int(
    5,
    0,
    10_000,
    'runs one person may have queued or running at once; 0 = no limit, e.g. 5',
  ),
  FORCED_REDRAWS_PER_USER_PER_MINUTE: int(
    6,
    0,
    600,
    "cards redrawn per minute after one person's refused clicks, e.g. 6",
  ),

  SCHEDULE_TIMEZONE: optionalString.transform((value, ctx) => {
    const zone = normalizeTimezone(value ?? 'UTC');
    if (zone !== undefined) return zone;
    ctx.addIssue({ code: 'custom', message: timezoneProblem(value ?? '') ?? 'unknown time zone' });
    return z.NEVER;
  }),
  PRICES_FILE: optionalString,
  MODEL_PRICES: list,
  BUDGET_DAILY_USD: optionalString
    .transform((v) => (v === undefined ? undefined : Number(v)))
    .refine((n) => n === undefined || (Number.isFinite(n) && n > 0 && n <= 1_000_000), {
      message:
        'must be an amount in US dollars above 0, e.g. 25 (every run’s calls in one UTC day), or unset',
    }),
  MAX_OUTPUT_TOKENS: int(
    4096,
    1,
    1_000_000,
    'output tokens a provider call may produce at most, e.g. 4096; budgets count on it',
  ),

  SCHEDULE_PAUSE_TIMEOUT_MINUTES: int(
    1440,
    0,
    43_200,
    'minutes a paused scheduled run waits for someone before it is failed; 0 = never, e.g. 1440',
  ),
  SCHEDULE_MIN_INTERVAL_MINUTES: int(
    5,
    1,
    1440,
    'shortest time between two firings of a schedule made in Slack, e.g. 5',
  ),
});

export interface Config {
  env: 'production' | 'development' | 'test';
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  database: { url: string | undefined; dataDir: string };
  workflowsDir: string;
  providers: Record<BuiltInProviderId, ProviderSettings>;
  /** Named OpenAI-compatible endpoints (LLM_ENDPOINTS), each a provider beside the built-ins. */
  endpoints: ProviderSettings[];
  defaults: { provider: ProviderId | undefined; model: string | undefined };
  retry: { maxAttempts: number; baseMs: number; maxMs: number };
  /** 0..1: how much of each backoff is randomised (RETRY_JITTER). */
  retryJitter: number;
  stepTimeoutMs: number;
  /** Steps stream their providers' text into Slack while they run (LIVE_OUTPUT). */
  liveOutput: boolean;
  /** No new provider call starts this long after the step began (STEP_DEADLINE_SECONDS). */
  stepDeadlineMs: number;
  /** Circuit breaker per provider/model (src/health). */
  breaker: { failureThreshold: number; window: number; windowMs: number; cooldownMs: number };
  worker: { concurrency: number; leaseMs: number };
  slack: {
    botToken: string | undefined;
    signingSecret: string | undefined;
    appToken: string | undefined;
    apiUrl: string | undefined;
    alertChannel: string | undefined;
    adminUserIds: string[];
    editPolicy: 'owners' | 'channel';
    port: number;
    /** What "Run a workflow…" reads of a thread at most (src/slack/thread-reader.ts). */
    thread: { maxMessages: number; maxChars: number };
    /** How long a Workflow Builder step waits for its run (src/slack/function-steps.ts); 0 = no limit. */
    functionTimeoutMinutes: number;
    /** How long channel members read from Slack are trusted (SLACK_MEMBERSHIP_TTL_SECONDS). */
    membershipTtlMs: number;
  };
  /**
   * Health, readiness and metrics endpoints (src/ops), served on the Slack HTTP port.
   * /metrics answers loopback clients, or anyone with `Authorization: Bearer <metricsToken>`.
   */
  ops: { metricsEnabled: boolean; metricsToken: string | undefined };
  /** Scheduled runs (src/schedules): defaults for schedules that do not say. */
  schedules: { timezone: string; pauseTimeoutMinutes: number; minIntervalMinutes: number };
  /** Prices per model beyond or instead of the built-in ones ("provider/model" → USD per million tokens). */
  prices: PriceOverrides;
  /** Spending caps (docs/control.md): BUDGET_DAILY_USD for all runs together; the most a call may produce. */
  budget: { dailyUsd: number | undefined; maxOutputTokens: number };
  /** Abuse limits (docs/security.md). */
  limits: {
    maxInputBytes: number;
    maxOutputBytes: number;
    /** 0 = no limit. */
    runsInFlightPerUser: number;
    forcedRedrawsPerUserPerMinute: number;
  };
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? '?'),
        message: issue.message,
      })),
    );
  }
  const e = parsed.data;
  const problems: { variable: string; message: string }[] = [];
  const endpoints = endpointSettings(e.LLM_ENDPOINTS, env, problems);
  const providerIds = [...PROVIDER_IDS, ...endpoints.map((p) => p.id)];
  if (e.DEFAULT_MODEL && !e.DEFAULT_PROVIDER) {
    problems.push({
      variable: 'DEFAULT_PROVIDER',
      message: `must be set when DEFAULT_MODEL is (${providerIds.join(', ')})`,
    });
  }
  if (e.DEFAULT_PROVIDER && !providerIds.includes(e.DEFAULT_PROVIDER)) {
    problems.push({
      variable: 'DEFAULT_PROVIDER',
      message: `must be one of ${providerIds.join(', ')} (an endpoint counts once it is in ${ENDPOINTS_VARIABLE})`,
    });
  }
  if (e.BREAKER_FAILURE_THRESHOLD > e.BREAKER_WINDOW) {
    problems.push({
      variable: 'BREAKER_FAILURE_THRESHOLD',
      message: `must not exceed BREAKER_WINDOW (${e.BREAKER_WINDOW}): the circuit could never open`,
    });
  }
  const prices = readPrices(e.PRICES_FILE, e.MODEL_PRICES, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    env: e.NODE_ENV === 'production' ? 'production' : e.NODE_ENV === 'test' ? 'test' : 'development',
    logLevel: e.LOG_LEVEL,
    database: { url: e.DATABASE_URL, dataDir: e.DATA_DIR },
    workflowsDir: e.WORKFLOWS_DIR,
    providers: Object.fromEntries(
      PROVIDER_IDS.map((id) => [id, providerSettings(id, e as unknown as Record<string, unknown>)]),
    ) as Record<BuiltInProviderId, ProviderSettings>,
    endpoints,
    defaults: { provider: e.DEFAULT_PROVIDER, model: e.DEFAULT_MODEL },
    retry: { maxAttempts: e.RETRY_MAX_ATTEMPTS, baseMs: e.RETRY_BASE_MS, maxMs: e.RETRY_MAX_MS },
    retryJitter: e.RETRY_JITTER,
    stepTimeoutMs: e.STEP_TIMEOUT_SECONDS * 1000,
    liveOutput: e.LIVE_OUTPUT,
    stepDeadlineMs: e.STEP_DEADLINE_SECONDS * 1000,
    breaker: {
      failureThreshold: e.BREAKER_FAILURE_THRESHOLD,
      window: e.BREAKER_WINDOW,
      windowMs: e.BREAKER_WINDOW_SECONDS * 1000,
      cooldownMs: e.BREAKER_COOLDOWN_SECONDS * 1000,
    },
    worker: { concurrency: e.WORKER_CONCURRENCY, leaseMs: e.LEASE_SECONDS * 1000 },
    slack: {
      botToken: e.SLACK_BOT_TOKEN,
      signingSecret: e.SLACK_SIGNING_SECRET,
      appToken: e.SLACK_APP_TOKEN,
      apiUrl: e.SLACK_API_URL,
      alertChannel: e.SLACK_ALERT_CHANNEL,
      adminUserIds: e.SLACK_ADMIN_USER_IDS,
      editPolicy: e.SLACK_EDIT_POLICY,
      port: e.PORT,
      thread: { maxMessages: e.SLACK_THREAD_MAX_MESSAGES, maxChars: e.SLACK_THREAD_MAX_CHARS },
      functionTimeoutMinutes: e.SLACK_FUNCTION_TIMEOUT_MINUTES,
      membershipTtlMs: e.SLACK_MEMBERSHIP_TTL_SECONDS * 1000,
    },
    ops: { metricsEnabled: e.METRICS_ENABLED, metricsToken: e.METRICS_TOKEN },
    schedules: {
      timezone: e.SCHEDULE_TIMEZONE,
      pauseTimeoutMinutes: e.SCHEDULE_PAUSE_TIMEOUT_MINUTES,
      minIntervalMinutes: e.SCHEDULE_MIN_INTERVAL_MINUTES,
    },
    prices,
    budget: { dailyUsd: e.BUDGET_DAILY_USD, maxOutputTokens: e.MAX_OUTPUT_TOKENS },
    limits: {
      maxInputBytes: e.MAX_INPUT_BYTES,
      maxOutputBytes: e.MAX_OUTPUT_BYTES,
      runsInFlightPerUser: e.MAX_RUNS_IN_FLIGHT_PER_USER,
      forcedRedrawsPerUserPerMinute: e.FORCED_REDRAWS_PER_USER_PER_MINUTE,
    },
  };
}

const MODEL_REF = /^[a-z][a-z0-9_-]{0,31}\/[^\s|]{1,140}$/;
const PRICE_EXAMPLE = 'e.g. openai/gpt-4o-mini: { input: 0.15, output: 0.6 }';

/**
 * Prices from PRICES_FILE (YAML or JSON: "provider/model" → { input, output }, USD per
 * million tokens), then MODEL_PRICES ("provider/model=input:output,…"), which wins.
 */
function readPrices(
  file: string | undefined,
  inline: string[],
  problems: { variable: string; message: string }[],
): PriceOverrides {
  const prices: Record<string, ModelPrice> = {};
  const amount = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value >= 0;
  if (file) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, 'utf8'));
    } catch (error) {
      const why =
        (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
      problems.push({ variable: 'PRICES_FILE', message: `cannot read ${file}: ${why.split('\n')[0]}` });
    }
    if (parsed !== undefined && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))) {
      problems.push({
        variable: 'PRICES_FILE',
        message: `must map "provider/model" to prices, ${PRICE_EXAMPLE}`,
      });
    } else if (parsed) {
      for (const [ref, value] of Object.entries(parsed as Record<string, unknown>)) {
        const v = value as { input?: unknown; output?: unknown } | null;
        const extra =
          v && typeof v === 'object' ? Object.keys(v).filter((k) => k !== 'input' && k !== 'output') : [];
        if (!MODEL_REF.test(ref)) {
          problems.push({
            variable: 'PRICES_FILE',
            message: `"${ref}" must be "provider/model", ${PRICE_EXAMPLE}`,
          });
        } else if (!v || typeof v !== 'object' || !amount(v.input) || !amount(v.output) || extra.length > 0) {
          problems.push({
            variable: 'PRICES_FILE',
            message: `"${ref}" needs input and output: USD per million tokens, 0 or more (${PRICE_EXAMPLE})`,
          });
        } else {
          prices[ref] = { inputPerMTok: v.input as number, outputPerMTok: v.output as number };
        }
      }
    }
  }
  for (const entry of inline) {
    const at = entry.lastIndexOf('=');
    const ref = entry.slice(0, at).trim();
    const [input, output, ...rest] = entry
      .slice(at + 1)
      .split(':')
      .map((x) => Number(x.trim()));
    if (at <= 0 || !MODEL_REF.test(ref) || rest.length > 0 || !amount(input) || !amount(output)) {
      problems.push({
        variable: 'MODEL_PRICES',
        message: `"${entry}" must be provider/model=input:output in USD per million tokens, e.g. openai/gpt-4o-mini=0.15:0.6`,
      });
      continue;
    }
    prices[ref] = { inputPerMTok: input!, outputPerMTok: output! };
  }
  return prices;
}

function providerSettings(id: BuiltInProviderId, e: Record<string, unknown>): ProviderSettings {
  const entry = PROVIDER_TABLE[id];
  const key = [entry.keyVariable, ...entry.keyAliases]
    .map((name) => e[name] as string | undefined)
    .find(Boolean);
  return {
    id,
    label: entry.label,
    apiKey: key,
    baseUrl: e[entry.baseUrlVariable] as string | undefined,
    models: (e[entry.modelsVariable] as string[] | undefined) ?? [],
  };
}

const ENDPOINT_URL_EXAMPLE = 'http://localhost:11434/v1';

/**
 * The endpoints named in LLM_ENDPOINTS, each from its own variables (endpointVariables):
 * a base URL and a model list are required, a key and a label optional. Problems name the
 * variable and what to set.
 */
function endpointSettings(
  ids: readonly string[],
  env: Record<string, string | undefined>,
  problems: { variable: string; message: string }[],
): ProviderSettings[] {
  const out: ProviderSettings[] = [];
  const seen = new Set<string>();
  for (const id of ids) {
    const problem = endpointIdProblem(id);
    if (problem) {
      problems.push({ variable: ENDPOINTS_VARIABLE, message: problem });
      continue;
    }
    if (seen.has(id)) {
      problems.push({
        variable: ENDPOINTS_VARIABLE,
        message: `"${id}" is listed twice; list each endpoint once`,
      });
      continue;
    }
    seen.add(id);
    const vars = endpointVariables(id);
    const read = (name: string) => {
      const value = env[name]?.trim();
      return value === '' ? undefined : value;
    };
    const before = problems.length;
    const baseUrl = read(vars.baseUrl);
    if (baseUrl === undefined) {
      problems.push({
        variable: vars.baseUrl,
        message: `is required for the endpoint "${id}" in ${ENDPOINTS_VARIABLE}: its OpenAI-compatible base URL, e.g. ${ENDPOINT_URL_EXAMPLE}`,
      });
    } else if (!/^https?:\/\/[^/]/.test(baseUrl) || !URL.canParse(baseUrl)) {
      problems.push({
        variable: vars.baseUrl,
        message: `must be a full URL such as ${ENDPOINT_URL_EXAMPLE}`,
      });
    }
    const models = (read(vars.models) ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean);
    if (models.length === 0) {
      problems.push({
        variable: vars.models,
        message: `is required for the endpoint "${id}": the models it serves, comma-separated, the first the default (e.g. llama3.1,qwen2.5)`,
      });
    }
    const badModel = models.find((m) => !isModelName(m));
    if (badModel !== undefined) {
      problems.push({
        variable: vars.models,
        message: `"${badModel}" is not a model name: no spaces or "|", at most 140 characters`,
      });
    }
    const label = read(vars.label);
    if (label !== undefined && label.length > 40) {
      problems.push({
        variable: vars.label,
        message: 'must be at most 40 characters (it is shown in menus)',
      });
    }
    if (problems.length > before) continue;
    out.push({ id, label: label ?? id, apiKey: read(vars.apiKey), baseUrl, models: [...new Set(models)] });
  }
  return out;
}

/** Every secret value in the config, so logs and messages can be scrubbed of them. */
export function secretValues(config: Config): string[] {
  const providers = [...PROVIDER_IDS.map((id) => config.providers[id]), ...config.endpoints];
  return [
    ...providers.map((p) => p.apiKey),
    ...providers.flatMap((p) => urlPasswords(p.baseUrl)),
    config.slack.botToken,
    config.slack.signingSecret,
    config.slack.appToken,
    config.ops.metricsToken,
    ...urlPasswords(config.database.url),
  ].filter((s): s is string => typeof s === 'string' && s.length >= 6);
}

/** The password in a URL (postgresql://, a gateway's https://user:pass@…), as written and decoded (a log may show either). */
function urlPasswords(url: string | undefined): string[] {
  if (!url) return [];
  try {
    const written = new URL(url).password;
    return written ? [...new Set([written, decodeURIComponent(written)])] : [];
  } catch {
    return [];
  }
}

/** Entry points call this first: a `.env` file in the working folder fills unset variables. */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}
