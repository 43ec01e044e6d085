export * from './common.js';
export * from './control.js';
export * from './deadletter.js';
export * from './finding.js';
export * from './input.js';
export * from './isolation.js';
export * from './policy.js';
export * from './trap.js';
