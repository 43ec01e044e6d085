/** @vmi/stack: the whole platform on one machine, from the repository's own scripts. */
export { devNatsEnv, type NatsUser, natsCredentials, type ProjectNats, type StartNatsOptions, startProjectNats } from './nats.js';
export { deployDir, repoRoot, serviceEntry } from './paths.js';
export { freePort, portOpen } from './ports.js';
export { ServiceProcess, type ServiceProcessOptions } from './service-process.js';
export { type ProtectedGuest, Stack, type StackOptions } from './stack.js';
