import { excerpt, inlineCode, mrkdwn, quoteLine, safeMrkdwn, truncate } from '../text.js';
import { threadLink } from './alert.js';
import { type Block, context, LIMITS, section } from './blocks.js';
import { type OriginView, originMrkdwn } from './editor.js';
import { describeError, providerLabel } from './error-words.js';
import type { MessagePayload, ProviderMenu, RunView, StepView } from './model.js';
import { RUN_STATUS, STEP_STATUS, slackDate, starterMrkdwn } from './status.js';

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
    return `${st.emoji} *#${r.number}* ${inlineCode(r.workflowName)} — ${st.label} · ${r.stepsCompleted}/${r.stepsTotal} steps · ${starterMrkdwn(r.startedBy)} · ${slackDate(r.createdAt)}`;
  });
  return {
    text: `Latest ${runs.length} run${runs.length === 1 ? '' : 's'}`,
    blocks: [
      section('runs-head', '*Latest runs* — details with `/workflow status <number>`'),
      ...packLines('runs', lines, LIMITS.blocksPerMessage - 1),
    ],
  };
}

export interface ProviderHealth {
  id: string;
  label: string;
  configured: boolean;
  /** Free words from the health tracker: "ok", "degraded", "rate limited", … */
  status?: string | null;
  /** E.g. the last error, already secret-free. */
  detail?: string | null;
  models?: number;
}

/** `/workflow health`: which providers can be chosen and how they are doing. */
export function healthMessage(providers: readonly ProviderHealth[]): MessagePayload {
  const lines = providers.map((p) => {
    if (!p.configured) return `:white_circle: *${safeMrkdwn(p.label)}* — not configured (no API key)`;
    const ok = !p.status || p.status === 'ok';
    const models = p.models !== undefined ? ` · ${p.models} model${p.models === 1 ? '' : 's'}` : '';
    const detail = p.detail ? ` — ${mrkdwn(excerpt(p.detail, 200), 600)}` : '';
    return `${ok ? ':large_green_circle:' : ':large_orange_circle:'} *${safeMrkdwn(p.label)}* — ${safeMrkdwn(p.status ?? 'ok')}${models}${detail}`;
  });
  return {
    text: 'Provider health',
    blocks: [
      section('health-head', '*Providers*'),
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
