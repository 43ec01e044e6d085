/** @vmi/isolation: per-guest kernel VMs whose components run in sandboxed execution environments. */
export { DEFAULT_MANIFEST, IsolationConfig } from './config.js';
export { type IsolationControl, startIsolationControl } from './control.js';
export { createEventPublisher, type EventPublisher } from './events.js';
export type { ComponentEvent, ComponentRecord, SupervisedComponent } from './kernel-vm/component.js';
export { deviceModelArgv } from './kernel-vm/device-model.js';
export { checkHealth, type HealthProbe, waitHealthy } from './kernel-vm/health.js';
export type { KernelVm, KernelVmEnvironment } from './kernel-vm/kernel-vm.js';
export { natsTarget, startNatsRelay } from './kernel-vm/nats-relay.js';
export { type LoadedManifest, loadManifestFile, parseManifest } from './manifest/load.js';
export { buildNative, NATIVE_BUILD_DIR, nativeProgram } from './native.js';
export { KernelVmRegistry, type RegistryOptions } from './registry.js';
export { type CgroupLayout, ComponentCgroup, detectCgroups } from './sandbox/cgroups.js';
export { type SandboxPlan, sandboxCommand } from './sandbox/plan.js';
export { createIsolationService, type IsolationService, type IsolationServiceDeps } from './service.js';
export { StateStore } from './state-store.js';
