import { describe, expect, it } from 'vitest';
import { Severity } from './schemas/common.js';
import { OCSF_SEVERITY_ID, OCSF_SEVERITY_NAME, ocsfSeverityId, type SeverityName } from './schemas/finding.js';

describe('severity mapping to OCSF', () => {
  const severities = (Severity as unknown as { anyOf: { const: SeverityName }[] }).anyOf.map((s) => s.const);

  it('maps every platform severity to the OCSF severity_id and name', () => {
    expect(severities).toEqual(['info', 'low', 'medium', 'high', 'critical']);
    expect(severities.map(ocsfSeverityId)).toEqual([1, 2, 3, 4, 5]);
    expect(severities.map((s) => OCSF_SEVERITY_NAME[s])).toEqual(['Informational', 'Low', 'Medium', 'High', 'Critical']);
    expect(Object.keys(OCSF_SEVERITY_ID).sort()).toEqual([...severities].sort());
  });
});
