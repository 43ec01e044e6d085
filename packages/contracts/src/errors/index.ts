export { CoreErrors } from './core.js';
export { defineErrors, type ErrorDefinition, isVmiError, VmiError, type VmiErrorOptions } from './vmi-error.js';
