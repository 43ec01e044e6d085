import { getMeter } from '@vmi/service-runtime';

/**
 * The agent's OTLP metrics. Counters, so the backend derives traps per second; the same numbers
 * are in the control service's stats for a quick look.
 */
export function agentMetrics() {
  const meter = getMeter('@vmi/host-agent');
  return {
    traps: meter.createCounter('vmi.agent.traps', { description: 'Trapped writes, by guest and mechanism' }),
    suppressed: meter.createCounter('vmi.agent.traps.suppressed', {
      description: 'Trap events not published one by one during a storm (counted in the storm summaries)',
    }),
    unrelated: meter.createCounter('vmi.agent.traps.unrelated', {
      description: 'Physical page traps whose bytes lie outside every protected object',
    }),
  };
}
export type AgentMetrics = ReturnType<typeof agentMetrics>;
