import { type Block, context, section } from './blocks.js';
import { packLines } from './list.js';
import type { MessagePayload } from './model.js';
import { starterMrkdwn } from './status.js';
import { excerpt, inlineCode, mrkdwn, safeMrkdwn } from './text.js';

/** Ephemeral answers to `/workflow schedule …` (pure; facts from ScheduleService views). */

export interface ScheduleFacts {
  number: number;
  workflow: string;
  source: 'file' | 'slack';
  cron: string;
  timezone: string;
  channelId: string;
  input: string;
  paused: boolean;
  /** Slack user id, or "file:<path>". */
  createdBy: string;
  /** The next fire time on the schedule's own clock, e.g. "Mon, 2 Mar 2026, 09:00 UTC+1". */
  nextFireLocal: string | null;
}

const CHANNEL = /^[CGD][A-Z0-9]{2,}$/;

export function channelMrkdwn(channelId: string): string {
  return CHANNEL.test(channelId) ? `<#${channelId}>` : safeMrkdwn(channelId);
}

function origin(s: ScheduleFacts): string {
  if (s.source === 'file')
    return `from ${safeMrkdwn(
      s.createdBy
        .replace(/^file:/, '')
        .split('/')
        .pop() ?? 'its file',
    )}`;
  return `by ${starterMrkdwn(s.createdBy)}`;
}

/** `#3` *release-notes* `0 9 * * 1-5` Europe/Berlin → #digest · next … */
export function scheduleLine(s: ScheduleFacts): string {
  const when = s.paused
    ? ':double_vertical_bar: paused'
    : s.nextFireLocal
      ? `next ${safeMrkdwn(s.nextFireLocal)}`
      : 'no next run';
  const input = s.input.trim() ? ` · input ${inlineCode(s.input, 60)}` : '';
  return `\`#${s.number}\` *${safeMrkdwn(s.workflow)}* ${inlineCode(s.cron)} ${safeMrkdwn(s.timezone)} → ${channelMrkdwn(s.channelId)} · ${when}${input} · ${origin(s)}`;
}

export function scheduleListMessage(schedules: readonly ScheduleFacts[]): MessagePayload {
  if (schedules.length === 0) {
    return {
      text: 'No schedules yet',
      blocks: [
        section(
          'schedules-empty',
          'No schedules yet. Add one with `/workflow schedule add <name> "<cron>" [tz] [input]`, or under `schedules:` in a workflow file.',
        ),
      ],
    };
  }
  const blocks: Block[] = [
    section('schedules-head', '*Schedules* — `/workflow schedule pause|resume|remove <number>`'),
    ...packLines('schedules', schedules.map(scheduleLine), 45),
  ];
  return { text: `${schedules.length} schedule${schedules.length === 1 ? '' : 's'}`, blocks };
}

export type ScheduleChange = 'added' | 'paused' | 'resumed' | 'removed';

const VERBS: Record<ScheduleChange, string> = {
  added: ':alarm_clock: Added',
  paused: ':double_vertical_bar: Paused',
  resumed: ':arrow_forward: Resumed',
  removed: ':wastebasket: Removed',
};

/** What a schedule command did, in one short message. */
export function scheduleChangedMessage(change: ScheduleChange, s: ScheduleFacts): MessagePayload {
  const head = `${VERBS[change]} schedule \`#${s.number}\`: *${safeMrkdwn(s.workflow)}* ${inlineCode(s.cron)} (${safeMrkdwn(s.timezone)}), runs posted in ${channelMrkdwn(s.channelId)}.`;
  const lines = [head];
  if (change === 'added' || change === 'resumed') {
    lines.push(s.nextFireLocal ? `Next run: ${safeMrkdwn(s.nextFireLocal)}.` : 'It has no next run.');
  }
  if (change === 'paused') lines.push(`No runs until \`/workflow schedule resume ${s.number}\`.`);
  if (change === 'removed') lines.push('Its past runs stay as they are.');
  const blocks: Block[] = [section('schedule-changed', lines.join('\n'))];
  if (change === 'added' && s.input.trim()) {
    blocks.push(context('schedule-input', [`Input: ${mrkdwn(excerpt(s.input, 200), 600)}`]));
  }
  return { text: mrkdwn(`${change} schedule #${s.number} of ${s.workflow}`, 300), blocks };
}
