/** The Slack view layer: pure (state) → Block Kit builders and the action/block-id contract. */

export { editDistance, suggest } from '../../core/suggest.js';
export * from './action-ids.js';
export * from './alert.js';
export * from './approval.js';
export type { Block, ModalView } from './blocks.js';
export { LIMITS } from './blocks.js';
export * from './editor.js';
export * from './error-words.js';
export * from './export-message.js';
export * from './full-output.js';
export * from './help.js';
export * from './home-view.js';
export * from './list.js';
export type * from './model.js';
export * from './persona-views.js';
export * from './rerun.js';
export * from './run-from-message.js';
export * from './run-message.js';
export * from './schedules.js';
export * from './status.js';
export { factsLine, modelSelect, personaSelect, stepCard } from './step-card.js';
