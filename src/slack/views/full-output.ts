import { CALLBACKS } from './action-ids.js';
import { type Block, context, LIMITS, type ModalView, plain, section } from './blocks.js';
import type { StepView } from './model.js';
import { excerpt, formatCount, safeCutIndex, safeMrkdwn } from './text.js';

const FENCE = '```';
const OPEN = `${FENCE}\n`;
const CLOSE = `\n${FENCE}`;

/**
 * Untrusted text → safe mrkdwn pieces of at most `size` characters each, for consecutive
 * sections, at most `max` of them. Pieces break at a newline when one is near, never inside
 * an escape entity, a surrogate pair or a run of backticks; a code block that spans a break
 * is closed at the end of one piece and reopened at the start of the next, so each section
 * renders alone.
 *
 * Linear in the length of the text, whatever it holds: each piece looks at most `size`
 * characters back from its end, and a run of backticks longer than a piece is cut in
 * multiples of three (a fence), so a model that writes a megabyte of backticks costs what
 * a megabyte of prose does (bench/chunker.ts measures it).
 */
export function chunkMrkdwn(
  untrusted: string,
  size: number = LIMITS.sectionText,
  max: number = Number.POSITIVE_INFINITY,
): string[] {
  // Escaping only lengthens text: `max` pieces never need more than `max × size` characters of it.
  const needed = Number.isFinite(max) ? untrusted.slice(0, max * size) : untrusted;
  const safe = safeMrkdwn(needed);
  const chunks: string[] = [];
  let pos = 0;
  let open = false;
  while (pos < safe.length && chunks.length < max) {
    const prefix = open ? OPEN : '';
    const budget = size - prefix.length - CLOSE.length;
    let end = Math.min(pos + budget, safe.length);
    if (end < safe.length) {
      end = cutPoint(safe, pos, end, budget);
      if (end <= pos) end = Math.min(pos + budget, safe.length);
    }
    const piece = safe.slice(pos, end);
    const fences = piece.split(FENCE).length - 1;
    const stillOpen: boolean = fences % 2 === 1 ? !open : open;
    pos = end;
    if (piece.trim().length > 0) chunks.push(`${prefix}${piece}${stillOpen ? CLOSE : ''}`);
    open = stillOpen;
  }
  return chunks;
}

/** Where the piece [pos, end) of `safe` should end instead of at `end` (see chunkMrkdwn). */
function cutPoint(safe: string, pos: number, end: number, budget: number): number {
  // A newline in the piece's last 30%: end the piece after it.
  const floor = pos + budget * 0.7;
  for (let i = end - 1; i > floor; i--) {
    if (safe.charCodeAt(i) === 0x0a) {
      end = i + 1;
      break;
    }
  }
  end = safeCutIndex(safe, end);
  if (safe[end] !== '`' || safe[end - 1] !== '`') return end;
  // Inside a run of backticks: end the piece before the run, so the run stays whole…
  let start = end - 1;
  while (start > pos && safe[start - 1] === '`') start--;
  if (start > pos) return start;
  // …unless the run fills the whole piece: then cut it in whole fences (three backticks).
  return pos + Math.max(3, Math.floor((end - pos) / 3) * 3);
}

export interface FullOutputInput {
  step: Pick<
    StepView,
    'id' | 'name' | 'position' | 'total' | 'output' | 'answeredProvider' | 'answeredModel'
  >;
  workflowName?: string;
  runNumber?: number;
}

/**
 * The modal behind "View full output": the whole output in sections of ≤ 3000 characters,
 * up to Slack's 100 blocks per view; if even that is not enough, it says where it stopped.
 */
export function fullOutputModal(input: FullOutputInput): ModalView {
  const { step } = input;
  const output = step.output ?? '';
  const where = [
    input.workflowName ? excerpt(input.workflowName, 80) : '',
    input.runNumber !== undefined ? `run #${input.runNumber}` : '',
    `Step ${step.position + 1}/${step.total} · ${excerpt(step.name, 100)}`,
    step.answeredProvider && step.answeredModel
      ? `answered by ${step.answeredProvider}/${step.answeredModel}`
      : '',
  ].filter(Boolean);

  const blocks: Block[] = [context('meta', [safeMrkdwn(where.join(' · '))])];
  const room = LIMITS.blocksPerView - blocks.length - 1;
  // One piece more than fits is enough to know it was cut.
  const chunks = chunkMrkdwn(output, LIMITS.sectionText, room + 1);
  chunks.slice(0, room).forEach((chunk, i) => {
    blocks.push(section(`chunk-${i}`, chunk));
  });
  if (chunks.length === 0) blocks.push(section('empty', '_This step has no output._'));
  if (chunks.length > room) {
    blocks.push(
      context('cut', [
        `:scissors: Cut at Slack's limit for a window (${room} sections); the full output is ${formatCount(output.length)} characters.`,
      ]),
    );
  }

  return {
    type: 'modal',
    callback_id: CALLBACKS.fullOutput,
    private_metadata: step.id,
    title: plain(`Step ${step.position + 1}/${step.total} output`, LIMITS.modalTitle),
    close: plain('Close', LIMITS.modalTitle),
    blocks,
  };
}
