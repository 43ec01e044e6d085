import {
  type BaselineRecord,
  type Finding,
  type FindingEvidence,
  OCSF_FINDING_CREATED,
  OCSF_SEVERITY_NAME,
  ocsfSeverityId,
  SCHEMA_VERSION,
} from '@vmi/contracts';
import { v5 as uuidv5 } from 'uuid';
import type { CheckResult } from './checks.js';

/** Namespace of finding ids: a finding's id is a UUIDv5 of what it is about, so a retry yields the same id. */
const FINDING_NAMESPACE = '3d7c2a4e-4b8f-5a61-9d0e-6f1b2c3a4d5e';

/** The id of the finding about one trap on one object: the same on every redelivery of the trap. */
export function trapFindingId(trapId: string, object: string): string {
  return uuidv5(`trap:${trapId}:${object}`, FINDING_NAMESPACE);
}

/** The id of a finding about one changed state of an object, however often a sweep or scan sees it. */
export function stateFindingId(guest: string, object: string, baselineSha: string, currentSha: string): string {
  return uuidv5(`state:${guest}:${object}:${baselineSha}:${currentSha}`, FINDING_NAMESPACE);
}

export interface FindingInput {
  readonly id: string;
  readonly host: string;
  readonly guest: string;
  readonly record: BaselineRecord;
  readonly result: CheckResult;
  readonly evidence: Omit<FindingEvidence, 'object' | 'check'>;
  readonly productVersion: string;
}

const TITLES: Record<string, string> = {
  'syscall-entry': 'System call table entry modified',
  'idt-gate': 'Interrupt descriptor table gate modified',
  text: 'Kernel text modified',
  string: 'Protected kernel string overwritten',
  hash: 'Protected guest memory modified',
};

/** An OCSF 1.3 Detection Finding (class 2004) with the write as Memory Activity evidence. */
export function buildFinding(input: FindingInput): Finding {
  const { record, result, evidence } = input;
  const now = new Date();
  const title = `${TITLES[record.check] ?? TITLES.hash}: ${record.object}`;
  const address = evidence.address.virtual ?? evidence.address.physical ?? record.physical;
  const writer = evidence.writer;
  const by = evidence.detected_by === 'trap' ? `a ${evidence.mechanism ?? 'trap'}` : `the ${evidence.detected_by}`;
  const message = `${result.reason} (seen by ${by}${writer.symbol === null ? '' : `, written by ${writer.symbol}`})`;
  return {
    id: input.id,
    time: now.toISOString(),
    version: SCHEMA_VERSION,
    type: 'finding',
    host: input.host,
    guest: input.guest,
    rule: record.rule,
    severity: record.severity,
    title: title.slice(0, 512),
    evidence: { ...evidence, object: record.object, check: result.check },
    ocsf: {
      ...OCSF_FINDING_CREATED,
      time: now.getTime(),
      severity_id: ocsfSeverityId(record.severity),
      severity: OCSF_SEVERITY_NAME[record.severity],
      message: message.slice(0, 2000),
      metadata: {
        version: '1.3.0',
        product: { name: 'vmi-guard scanner', vendor_name: 'vmi-guard', version: input.productVersion },
        uid: input.id,
      },
      finding_info: {
        uid: input.id,
        title: title.slice(0, 512),
        desc: result.reason.slice(0, 2000),
        types: [record.check, result.check, evidence.detected_by],
        created_time: now.getTime(),
        analytic: { name: record.rule, type_id: 1, type: 'Rule', uid: record.rule },
      },
      device: { hostname: input.guest, type_id: 6, type: 'Virtual', hypervisor: 'QEMU' },
      evidences: [
        {
          data: {
            class_uid: record.check === 'string' || record.check === 'hash' ? 1004 : 1003,
            activity_name: 'Write',
            base_address: address,
            size: evidence.length,
            kernel: { name: record.object, type: record.check },
            actor: { rip: writer.rip, symbol: writer.symbol },
          },
        },
      ],
    },
  };
}
