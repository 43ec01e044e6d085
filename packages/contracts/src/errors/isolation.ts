import { defineErrors } from './vmi-error.js';

/** Errors of the isolation service: manifests, kernel VMs and their sandboxed components. */
export const IsolationErrors = defineErrors('VMI_ERR_ISOLATION', {
  MANIFEST: { status: 400, message: 'Isolation manifest refused' },
  UNKNOWN_GUEST: { status: 404, message: 'No kernel VM for this guest' },
  UNKNOWN_COMPONENT: { status: 404, message: 'No such component in this kernel VM' },
  IMAGE: { status: 400, message: 'Guest image is missing or unreadable' },
  STATE: { status: 500, message: 'Kernel-VM state file is unreadable' },
  LOCKED: { status: 409, message: 'Another isolation service holds this state directory' },
  NATIVE: { status: 500, message: 'Sandbox helper programs are missing or failed to build' },
  CGROUP: { status: 500, message: 'Could not set up the component cgroup' },
  LAUNCH: { status: 500, message: 'Component failed to start' },
  NOT_READY: { status: 504, message: 'Component did not become healthy in time' },
  CRASH_LOOP: { status: 409, message: 'Component is in a crash loop' },
  STOPPING: { status: 503, message: 'Kernel VM is stopping' },
  SLUG_CONFLICT: { status: 409, message: 'Two guest names map to the same kernel-VM name' },
  ID_SPACE: { status: 503, message: 'No free user-id block for another kernel VM' },
});
