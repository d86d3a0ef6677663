import { context, LIMITS, section } from './blocks.js';
import { type OriginView, originMrkdwn } from './editor.js';
import type { MessagePayload } from './model.js';
import { escapeMrkdwn, inlineCode } from './text.js';

/** `/workflow export`: the YAML as an ephemeral code block when short, else a note that a file was sent. */

/**
 * The YAML fits an ephemeral message as one code block when, escaped, it fits a section and
 * holds no ``` (which would end the block early and spoil a copy-paste).
 */
export function exportFitsMessage(yaml: string): boolean {
  return !yaml.includes('```') && escapeMrkdwn(yaml).length + 8 <= LIMITS.sectionText;
}

export function exportMessage(name: string, yaml: string, origin: OriginView): MessagePayload {
  return {
    text: `${name}.yml`,
    blocks: [
      context('export-head', [`${inlineCode(`${name}.yml`)} · ${originMrkdwn(origin)}`]),
      // Inside a code block Slack still reads &, < and >: escaped, they show (and copy) as typed.
      section('export-yaml', `\`\`\`\n${escapeMrkdwn(yaml)}\n\`\`\``),
    ],
  };
}

export function exportSentMessage(name: string, where: 'dm' | 'channel'): MessagePayload {
  const place = where === 'dm' ? 'in a direct message from me' : 'here';
  return {
    text: `${name}.yml sent`,
    blocks: [
      section(
        'export-sent',
        `:page_facing_up: ${inlineCode(`${name}.yml`)} is too long for a message, so I sent it as a file ${place}.`,
      ),
    ],
  };
}
