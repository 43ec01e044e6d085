import Type, { type Static } from 'typebox';
import { Guard, Hex64, HexBytes, Mechanism, message, RuleName, Severity, Uint } from './common.js';
import { TrapAddress } from './trap.js';

/** The writer, resolved as far as the scanner could tell. */
export const ResolvedWriter = Type.Object(
  {
    rip: Type.Union([Hex64, Type.Null()]),
    cr3: Type.Union([Hex64, Type.Null()]),
    vcpu: Type.Union([Uint, Type.Null()]),
    kind: Type.Union([Type.Literal('kernel'), Type.Literal('module'), Type.Literal('user'), Type.Literal('unknown')]),
    /** `symbol+0xoff` for kernel and module text, null otherwise. */
    symbol: Type.Union([Type.String({ maxLength: 256 }), Type.Null()]),
    module: Type.Union([Type.String({ maxLength: 128 }), Type.Null()]),
  },
  { additionalProperties: false },
);

export const FindingEvidence = Type.Object(
  {
    trap_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    object: Type.String({ minLength: 1, maxLength: 256 }),
    address: TrapAddress,
    length: Type.Integer({ minimum: 1, maximum: 4096 }),
    /** Baseline bytes (at most 4 KiB shown). */
    old_bytes: HexBytes,
    /** Bytes found by the guarded copy. */
    new_bytes: HexBytes,
    writer: ResolvedWriter,
    guard: Guard,
    attempts: Type.Integer({ minimum: 0 }),
    aborts: Type.Integer({ minimum: 0 }),
    mechanism: Type.Union([Mechanism, Type.Null()]),
    detected_by: Type.Union([Type.Literal('trap'), Type.Literal('sweep'), Type.Literal('scan')]),
    /** Which check failed: hash, pointer-outside-text, text-modified, value-not-allowed. */
    check: Type.String({ minLength: 1, maxLength: 64 }),
    restored: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type FindingEvidence = Static<typeof FindingEvidence>;

/** OCSF severity_id by platform severity. */
export const OCSF_SEVERITY_ID = { info: 1, low: 2, medium: 3, high: 4, critical: 5 } as const;
export const OCSF_SEVERITY_NAME = { info: 'Informational', low: 'Low', medium: 'Medium', high: 'High', critical: 'Critical' } as const;
export type SeverityName = keyof typeof OCSF_SEVERITY_ID;

export function ocsfSeverityId(severity: SeverityName): number {
  return OCSF_SEVERITY_ID[severity];
}

/** The fixed part of every OCSF Detection Finding the platform creates (class 2004, Create, New). */
export const OCSF_FINDING_CREATED = {
  class_uid: 2004,
  class_name: 'Detection Finding',
  category_uid: 2,
  category_name: 'Findings',
  activity_id: 1,
  activity_name: 'Create',
  type_uid: 200401,
  status_id: 1,
  status: 'New',
} as const;

/** Subset of OCSF 1.3 Detection Finding (class 2004) the platform fills, every field present. */
export const OcsfDetectionFinding = Type.Object(
  {
    class_uid: Type.Literal(2004),
    class_name: Type.Literal('Detection Finding'),
    category_uid: Type.Literal(2),
    category_name: Type.Literal('Findings'),
    activity_id: Type.Literal(1),
    activity_name: Type.Literal('Create'),
    type_uid: Type.Literal(200401),
    time: Type.Integer({ minimum: 0, description: 'epoch milliseconds' }),
    severity_id: Type.Integer({ minimum: 0, maximum: 99 }),
    severity: Type.String(),
    status_id: Type.Literal(1),
    status: Type.Literal('New'),
    message: Type.String({ maxLength: 2000 }),
    metadata: Type.Object(
      {
        version: Type.Literal('1.3.0'),
        product: Type.Object({ name: Type.String(), vendor_name: Type.String(), version: Type.String() }, { additionalProperties: false }),
        uid: Type.String({ format: 'uuid' }),
      },
      { additionalProperties: false },
    ),
    finding_info: Type.Object(
      {
        uid: Type.String({ format: 'uuid' }),
        title: Type.String({ maxLength: 512 }),
        desc: Type.String({ maxLength: 2000 }),
        types: Type.Array(Type.String(), { maxItems: 16 }),
        created_time: Type.Integer({ minimum: 0 }),
        analytic: Type.Object(
          { name: RuleName, type_id: Type.Literal(1), type: Type.Literal('Rule'), uid: Type.String() },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    device: Type.Object(
      {
        hostname: Type.String(),
        type_id: Type.Literal(6),
        type: Type.Literal('Virtual'),
        hypervisor: Type.String(),
      },
      { additionalProperties: false },
    ),
    /** The trap as evidence, in Memory Activity (1004) / Kernel Activity (1003) terms. */
    evidences: Type.Array(
      Type.Object(
        {
          data: Type.Object(
            {
              class_uid: Type.Union([Type.Literal(1004), Type.Literal(1003)]),
              activity_name: Type.String(),
              base_address: Hex64,
              size: Type.Integer({ minimum: 1 }),
              kernel: Type.Union([Type.Object({ name: Type.String(), type: Type.String() }, { additionalProperties: false }), Type.Null()]),
              actor: Type.Object(
                { rip: Type.Union([Hex64, Type.Null()]), symbol: Type.Union([Type.String(), Type.Null()]) },
                { additionalProperties: false },
              ),
            },
            { additionalProperties: false },
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 16 },
    ),
  },
  { additionalProperties: false },
);
export type OcsfDetectionFinding = Static<typeof OcsfDetectionFinding>;

export const Finding = message(
  'finding',
  {
    rule: RuleName,
    severity: Severity,
    title: Type.String({ minLength: 1, maxLength: 512 }),
    evidence: FindingEvidence,
    ocsf: OcsfDetectionFinding,
  },
  'A detection: protected guest data changed in a way the policy does not allow',
);
export type Finding = Static<typeof Finding>;
