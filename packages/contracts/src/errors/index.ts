export { AgentErrors } from './agent.js';
export { AuditErrors } from './audit.js';
export { CoreErrors } from './core.js';
export { GuestErrors } from './guest.js';
export { InputErrors } from './input.js';
export { IsolationErrors } from './isolation.js';
export { NativeErrors } from './native.js';
export { ScannerErrors } from './scanner.js';
export { allErrorDefinitions, defineErrors, type ErrorDefinition, isVmiError, VmiError, type VmiErrorOptions } from './vmi-error.js';
