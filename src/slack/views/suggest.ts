// The matching rules live in the core, shared with file and schedule validation.
export { editDistance, suggest } from '../../core/suggest.js';
