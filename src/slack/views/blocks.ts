import type { types } from '@slack/bolt';
import { plainText, truncate } from './text.js';

/**
 * Block Kit types (from @slack/types, re-exported by Bolt) and the few constructors the
 * views share. Limits are Slack's: docs.slack.dev/reference/block-kit.
 */

export type SectionBlock = types.SectionBlock;
export type ContextBlock = types.ContextBlock;
export type ActionsBlock = types.ActionsBlock;
export type HeaderBlock = types.HeaderBlock;
export type DividerBlock = types.DividerBlock;
export type Button = types.Button;
export type StaticSelect = types.StaticSelect;
export type PlainTextOption = types.PlainTextOption;
export type PlainTextElement = types.PlainTextElement;
export type MrkdwnElement = types.MrkdwnElement;
export type ModalView = types.ModalView;

/** The blocks these views produce; assignable to chat.postMessage's `blocks`. */
export type Block = SectionBlock | ContextBlock | ActionsBlock | HeaderBlock | DividerBlock;

export const LIMITS = {
  blocksPerMessage: 50,
  blocksPerView: 100,
  sectionText: 3000,
  headerText: 150,
  buttonText: 75,
  optionText: 75,
  optionValue: 150,
  buttonValue: 2000,
  optionsPerSelect: 100,
  contextElements: 10,
  markdownPerMessage: 12_000,
  modalTitle: 24,
  /** Not a Slack limit: keeps notification fallbacks readable. */
  fallbackText: 300,
} as const;

export function plain(text: string, limit: number = LIMITS.sectionText): PlainTextElement {
  return { type: 'plain_text', text: plainText(text, limit), emoji: true };
}

/** `text` must already be safe mrkdwn (built with ../text.js). */
export function md(text: string): MrkdwnElement {
  return { type: 'mrkdwn', text: truncate(text, LIMITS.sectionText) };
}

export function section(blockId: string, text: string, accessory?: Button): SectionBlock {
  const block: SectionBlock = { type: 'section', block_id: blockId, text: md(text) };
  if (accessory) block.accessory = accessory;
  return block;
}

/** A context block of mrkdwn lines; empty lines are dropped, at most 10 elements (Slack's limit). */
export function context(blockId: string, lines: string[]): ContextBlock {
  const elements = lines.filter((l) => l.length > 0).slice(0, LIMITS.contextElements);
  return { type: 'context', block_id: blockId, elements: elements.map(md) };
}

export interface ButtonInit {
  actionId: string;
  text: string;
  value: string;
  style?: 'primary' | 'danger';
  confirm?: { title: string; text: string; confirm: string; deny: string };
}

export function button(init: ButtonInit): Button {
  const b: Button = {
    type: 'button',
    action_id: init.actionId,
    text: plain(init.text, LIMITS.buttonText),
    value: init.value,
  };
  if (init.style) b.style = init.style;
  if (init.confirm) {
    b.confirm = {
      title: plain(init.confirm.title, 100),
      text: plain(init.confirm.text, 300),
      confirm: plain(init.confirm.confirm, 30),
      deny: plain(init.confirm.deny, 30),
    };
  }
  return b;
}

export function actions(blockId: string, elements: (Button | StaticSelect)[]): ActionsBlock {
  return { type: 'actions', block_id: blockId, elements };
}

export function option(text: string, value: string): PlainTextOption {
  return { text: plain(text, LIMITS.optionText), value };
}
