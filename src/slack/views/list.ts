import { formatCost } from '../../core/cost.js';
import { threadLink } from './alert.js';
import { type Block, context, LIMITS, section } from './blocks.js';
import { type OriginView, originMrkdwn } from './editor.js';
import { describeError, providerLabel } from './error-words.js';
import type { MessagePayload, ProviderMenu, RunView, StepView } from './model.js';
import { usageWords } from './run-message.js';
import { RUN_STATUS, STEP_STATUS, slackDate, starterMrkdwn } from './status.js';
import { excerpt, inlineCode, mrkdwn, quoteLine, safeMrkdwn, truncate } from './text.js';

/** Ephemeral answers to `/workflow list`, `status` and `health`. */

export interface WorkflowSummary {
  name: string;
  description?: string | null;
  steps?: number;
  /** Where its current version came from: "v7 · edited in Slack by @U123". */
  origin?: OriginView;
}

export function workflowListMessage(workflows: readonly WorkflowSummary[]): MessagePayload {
  if (workflows.length === 0) {
    return {
      text: 'No workflows yet',
      blocks: [
        section('list-empty', 'No workflows are defined yet: add one to the workflows folder, then restart.'),
      ],
    };
  }
  const lines = workflows.map((w) => {
    const steps = w.steps !== undefined ? ` (${w.steps} step${w.steps === 1 ? '' : 's'})` : '';
    const about = w.description ? ` — ${mrkdwn(excerpt(w.description, 150), 400)}` : '';
    const origin = w.origin ? ` · ${originMrkdwn(w.origin)}` : '';
    return `• ${inlineCode(w.name)}${about}${steps}${origin}`;
  });
  return {
    text: `${workflows.length} workflow${workflows.length === 1 ? '' : 's'}`,
    blocks: [
      section('list-head', `*Workflows* — start one with \`/workflow run <name> [input]\``),
      ...packLines('list', lines, LIMITS.blocksPerMessage - 1),
    ],
  };
}

export interface RunStatusOptions {
  /** Link to the run's thread. */
  permalink?: string | null;
  providers?: readonly ProviderMenu[];
}

/** `/workflow status 42`: the run and one line per step. */
export function runStatusMessage(
  run: RunView,
  steps: readonly StepView[],
  opts: RunStatusOptions = {},
): MessagePayload {
  const status = RUN_STATUS[run.status];
  const title = `*${safeMrkdwn(excerpt(run.workflowName, 80))}* run #${run.number}`;
  const head = [
    `${title} — ${status.emoji} ${status.label} · ${run.stepsCompleted}/${run.stepsTotal} steps`,
    `Started by ${starterMrkdwn(run.startedBy)} · ${slackDate(run.createdAt)}`,
  ];
  if (run.usage) head.push(usageWords(run.usage));
  if (run.rerunOf) head.push(`Re-run of #${run.rerunOf.number} from step ${run.rerunOf.fromStep}`);
  if (run.input.trim()) head.push(quoteLine(run.input, 200));
  if (run.reason) head.push(`*Why:* ${mrkdwn(excerpt(run.reason, 300), 1000)}`);

  const lines = [...steps]
    .sort((a, b) => a.position - b.position)
    .map((s) => {
      const st = STEP_STATUS[s.status];
      let line = `${st.emoji} ${s.position + 1}. *${safeMrkdwn(excerpt(s.name, 80))}* — ${st.label} · ${safeMrkdwn(`${s.provider}/${s.model}`)}`;
      if (s.status === 'paused' && s.lastError) {
        const e = s.lastError;
        line += ` · ${safeMrkdwn(describeError(e.kind, providerLabel(e.provider, opts.providers), e.provider))}`;
      }
      if (s.reusedFrom != null) line += ` · reused from run #${s.reusedFrom}`;
      if (s.cost) line += ` · ${formatCost(s.cost)}`;
      return line;
    });

  const blocks: Block[] = [section('status-head', head.join('\n'))];
  const link = threadLink(opts.permalink);
  blocks.push(...packLines('status-steps', lines, LIMITS.blocksPerMessage - 2));
  if (link) blocks.push(context('status-link', [link]));
  return {
    text: mrkdwn(
      `${run.workflowName} run #${run.number} — ${status.label}, ${run.stepsCompleted}/${run.stepsTotal} steps`,
      LIMITS.fallbackText,
    ),
    blocks,
  };
}

/** `/workflow status` with no run: the latest runs, newest first as given. */
export function recentRunsMessage(runs: readonly RunView[]): MessagePayload {
  if (runs.length === 0) {
    return {
      text: 'No runs yet',
      blocks: [section('runs-empty', 'No runs yet. Start one with `/workflow run <name>`.')],
    };
  }
  const lines = runs.map((r) => {
    const st = RUN_STATUS[r.status];
    const cost = r.usage ? ` · ${formatCost(r.usage.cost)}` : '';
    return `${st.emoji} *#${r.number}* ${inlineCode(r.workflowName)} — ${st.label} · ${r.stepsCompleted}/${r.stepsTotal} steps${cost} · ${starterMrkdwn(r.startedBy)} · ${slackDate(r.createdAt)}`;
  });
  return {
    text: `Latest ${runs.length} run${runs.length === 1 ? '' : 's'}`,
    blocks: [
      section('runs-head', '*Latest runs* — details with `/workflow status <number>`'),
      ...packLines('runs', lines, LIMITS.blocksPerMessage - 1),
    ],
  };
}

/** One provider on `/workflow health`. */
export interface ProviderHealthLine {
  label: string;
  configured: boolean;
  /** How many models its menu offers. */
  models?: number | undefined;
  /** Its figures and circuit in words (describeHealth). */
  figures?: string | undefined;
}

/**
 * `/workflow health`: every provider with its recent calls and circuit state, in the words
 * of src/health/describe.ts ("⚠ anthropic — 5 of last 6 failed: billing · circuit open"),
 * or that it is not configured.
 */
export function healthMessage(providers: readonly ProviderHealthLine[]): MessagePayload {
  const lines = providers.map((p) => {
    if (!p.configured) return `:white_circle: *${safeMrkdwn(p.label)}* — not configured (no API key)`;
    const models = p.models !== undefined ? ` · ${p.models} model${p.models === 1 ? '' : 's'}` : '';
    return `*${safeMrkdwn(p.label)}*: ${safeMrkdwn(p.figures ?? 'no recent calls')}${models}`;
  });
  return {
    text: 'Provider health',
    blocks: [
      section('health-head', '*Providers* — recent calls and circuit state'),
      ...packLines('health', lines.length ? lines : ['None.'], 40),
    ],
  };
}

/**
 * Safe mrkdwn lines → as few sections as fit (3000 characters each), at most `maxBlocks`
 * and `maxChars` in all (a message carries at most 12,000 characters of markdown); what does
 * not fit is counted in a last "…and N more" line.
 */
export function packLines(
  idPrefix: string,
  lines: readonly string[],
  maxBlocks: number,
  maxChars = 10_000,
): Block[] {
  const texts: string[] = [];
  let current = '';
  let total = 0;
  let used = 0;
  for (const raw of lines) {
    const line = truncate(raw, 1000);
    if (total + line.length + 1 > maxChars) break;
    const next = current ? `${current}\n${line}` : line;
    if (next.length > LIMITS.sectionText - 40) {
      if (texts.length + 1 >= maxBlocks) break;
      texts.push(current);
      current = line;
    } else {
      current = next;
    }
    total += line.length + 1;
    used++;
  }
  if (used < lines.length) current += `\n…and ${lines.length - used} more`;
  if (current) texts.push(current);
  return texts.map((t, i) => section(`${idPrefix}-${i}`, t));
}
