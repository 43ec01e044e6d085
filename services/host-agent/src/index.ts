/** @vmi/host-agent: attaches to guests, arms write traps on protected data and publishes every trap. */
export { type HostAgent, type StartAgentOptions, startAgent } from './app.js';
export { Coalescer, type WindowSummary } from './coalescer.js';
export { AgentConfig } from './config.js';
export { GuestConfig, GuestsFile, loadGuestsFile } from './guest-config.js';
export type { GuestBackends, GuestMemoryReader } from './guest-session.js';
export { nativeBackends } from './native-backends.js';
export { loadPolicyFile, parsePolicy } from './policy-file.js';
export { type ResolvedRegion, resolvePolicy } from './resolve-policy.js';
export type { RawTrap, TrapSource, TrapSourceEvents } from './trap-source.js';
