import { defineErrors } from './vmi-error.js';

/** Errors of the host agent: guests, policies, trap arming, enforcement. */
export const AgentErrors = defineErrors('VMI_ERR_AGENT', {
  GUEST_CONFIG: { status: 400, message: 'Invalid guest configuration' },
  GUEST_UNKNOWN: { status: 404, message: 'No such guest on this agent' },
  POLICY_FILE: { status: 400, message: 'Policy file could not be read' },
  POLICY_INVALID: { status: 400, message: 'Policy refused' },
  PROFILE_INVALID: { status: 400, message: 'Symbol profile is invalid' },
  SYMBOL_UNKNOWN: { status: 400, message: 'Symbol not in the profile' },
  RULE_UNKNOWN: { status: 404, message: 'No such rule in the live policy' },
  ATTACH_FAILED: { status: 503, message: 'Could not attach to the guest' },
  ARM_FAILED: { status: 502, message: 'Could not arm a trap' },
  BASELINE_FAILED: { status: 503, message: 'Could not store a baseline' },
  VERDICT_TIMEOUT: { status: 504, message: 'No verdict in time; the held write was released (fail open)' },
});
