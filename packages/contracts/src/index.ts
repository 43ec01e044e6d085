/** @vmi/contracts: the single source of truth for what crosses a process boundary. */
export * from './errors/index.js';
export { type BadExample, EXAMPLES, type SchemaExamples } from './examples/index.js';
export * from './ids.js';
export * from './kernel-symbols.js';
export * from './make-message.js';
export * from './protection-kv.js';
export * from './registry.js';
export * from './schemas/index.js';
export * from './streams.js';
export * from './subjects.js';
export * from './validate.js';
