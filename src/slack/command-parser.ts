import { z } from 'zod';
import { parseScheduleCommand, type ScheduleCommand } from './schedule-commands.js';
import type { SUBCOMMANDS } from './views/help.js';

/**
 * `/workflow run <name> [input…] | list | status [run] | cancel <run> | rerun <run> [from <step>] | health | schedule …
 * | edit <name> | export <name> | persona list|add|edit <name> | help`, parsed: the slash
 * command's body (zod) and its text (pure).
 */

/** The fields of Slack's slash-command body we use (form-encoded; all strings). */
export const slashCommandSchema = z.object({
  command: z.string(),
  text: z.string().default(''),
  user_id: z.string().min(1),
  channel_id: z.string().min(1),
  response_url: z.string().optional(),
  trigger_id: z.string().optional(),
});

export type SlashCommandInput = z.infer<typeof slashCommandSchema>;

export type Command =
  | { kind: 'run'; workflow: string; input: string }
  | { kind: 'list' }
  | { kind: 'status'; run?: string }
  | { kind: 'cancel'; run: string }
  | { kind: 'rerun'; run: string; from?: string }
  | { kind: 'health' }
  | { kind: 'schedule'; command: ScheduleCommand }
  | { kind: 'edit'; workflow: string }
  | { kind: 'export'; workflow: string }
  | { kind: 'persona'; action: 'list' | 'add' }
  | { kind: 'persona'; action: 'edit'; name: string }
  | { kind: 'help' }
  | { kind: 'usage'; subcommand: (typeof SUBCOMMANDS)[number]; problem: string }
  | { kind: 'unknown'; word: string };

/**
 * Slack sends `&`, `<` and `>` in command text as HTML entities; the input is handed to a
 * model, so it gets the characters the user typed. (Every view escapes it again for Slack.)
 */
export function decodeSlackText(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Pure: command text → what to do. The input after a workflow name keeps its newlines. */
export function parseCommand(rawText: string): Command {
  const text = decodeSlackText(rawText).trim();
  const match = /^(\S+)(?:\s+(\S+))?(?:\s+([\s\S]*))?$/.exec(text);
  if (!match) return { kind: 'help' };
  const sub = match[1]!.toLowerCase();
  const arg = match[2];
  const rest = match[3]?.trim() ?? '';
  switch (sub) {
    case 'run':
      if (!arg) return { kind: 'usage', subcommand: 'run', problem: 'Name the workflow to run.' };
      return { kind: 'run', workflow: arg, input: rest };
    case 'list':
      return { kind: 'list' };
    case 'status':
      return arg ? { kind: 'status', run: arg } : { kind: 'status' };
    case 'cancel':
      if (!arg)
        return { kind: 'usage', subcommand: 'cancel', problem: 'Say which run to cancel, by its number.' };
      return { kind: 'cancel', run: arg };
    case 'rerun':
      return parseRerun(arg, rest);
    case 'health':
      return { kind: 'health' };
    case 'schedule':
    case 'schedules':
      return { kind: 'schedule', command: parseScheduleCommand(text.slice(match[1]!.length)) };
    case 'edit':
      if (!arg) return { kind: 'usage', subcommand: 'edit', problem: 'Name the workflow to edit.' };
      return { kind: 'edit', workflow: arg };
    case 'export':
      if (!arg) return { kind: 'usage', subcommand: 'export', problem: 'Name the workflow to export.' };
      return { kind: 'export', workflow: arg };
    case 'persona':
    case 'personas':
      return parsePersona(arg?.toLowerCase(), rest);
    case 'help':
      return { kind: 'help' };
    default:
      return { kind: 'unknown', word: match[1]! };
  }
}

function parsePersona(action: string | undefined, rest: string): Command {
  if (action === undefined || action === 'list' || action === 'ls')
    return { kind: 'persona', action: 'list' };
  if (action === 'add' || action === 'new') return { kind: 'persona', action: 'add' };
  if (action === 'edit') {
    const name = rest.split(/\s+/)[0];
    if (!name) return { kind: 'usage', subcommand: 'persona', problem: 'Name the persona to edit.' };
    return { kind: 'persona', action: 'edit', name };
  }
  return {
    kind: 'usage',
    subcommand: 'persona',
    problem: `\`persona\` has no action "${action}": use list, add or edit.`,
  };
}

/** `rerun <run> [from <step>]`: the step by number (1-based) or name; `from` may be left out. */
function parseRerun(run: string | undefined, rest: string): Command {
  if (!run) return { kind: 'usage', subcommand: 'rerun', problem: 'Say which run to re-run, by its number.' };
  const words = rest.split(/\s+/).filter(Boolean);
  if (words[0]?.toLowerCase() === 'from') words.shift();
  if (rest && words.length === 0)
    return { kind: 'usage', subcommand: 'rerun', problem: 'Say which step to re-run from, e.g. `from 3`.' };
  if (words.length > 1)
    return {
      kind: 'usage',
      subcommand: 'rerun',
      problem: `Expected one step after the run, not "${words.join(' ')}".`,
    };
  const from = words[0];
  if (from !== undefined && !/^(\d{1,3}|[a-z0-9][a-z0-9_-]{0,63})$/.test(from))
    return {
      kind: 'usage',
      subcommand: 'rerun',
      problem: `"${from}" is not a step: give its number (1, 2, …) or its name.`,
    };
  if (from !== undefined && /^\d+$/.test(from) && Number(from) < 1)
    return { kind: 'usage', subcommand: 'rerun', problem: 'Steps are numbered from 1.' };
  return from === undefined ? { kind: 'rerun', run } : { kind: 'rerun', run, from };
}
