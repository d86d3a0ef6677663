/** The Slack view layer: pure (state) → Block Kit builders and the action/block-id contract. */
export * from './actions.js';
export * from './alert.js';
export * from './authoring.js';
export type { Block, ModalView } from './blocks.js';
export { LIMITS } from './blocks.js';
export * from './errors.js';
export * from './export.js';
export * from './full-output.js';
export * from './help.js';
export * from './home.js';
export * from './list.js';
export type * from './model.js';
export * from './personas.js';
export * from './run-message.js';
export * from './schedules.js';
export * from './status.js';
export { factsLine, modelSelect, personaSelect, stepCard } from './step-card.js';
export * from './suggest.js';
