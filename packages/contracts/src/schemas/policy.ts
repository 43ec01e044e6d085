import Type, { type Static } from 'typebox';
import { Hex64, Mode, Name, RuleName, Severity } from './common.js';

const SymbolName = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z_.$][A-Za-z0-9_.$]*$' });

/** Which trap mechanism guards a target: `auto` lets the agent pick by page temperature. */
export const MechanismChoice = Type.Union([
  Type.Literal('auto'),
  Type.Literal('watchpoint'),
  Type.Literal('uffd-wp'),
  Type.Literal('both'),
]);

export const SymbolTarget = Type.Object(
  { kind: Type.Literal('symbol'), symbol: SymbolName, length: Type.Integer({ minimum: 1, maximum: 4096 }) },
  { additionalProperties: false },
);
export const SymbolRangeTarget = Type.Object(
  { kind: Type.Literal('symbol-range'), start: SymbolName, end: SymbolName },
  { additionalProperties: false, description: 'e.g. _stext.._etext' },
);
export const TableTarget = Type.Object(
  {
    kind: Type.Literal('table'),
    table: Type.Union([Type.Literal('sys_call_table'), Type.Literal('idt_table')]),
    /** Entries to protect; all of them (NR_syscalls or 256) when omitted. */
    entries: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
  },
  { additionalProperties: false, description: 'Each entry of a kernel dispatch table, one region per entry' },
);
export const PhysicalTarget = Type.Object(
  { kind: Type.Literal('physical'), address: Hex64, length: Type.Integer({ minimum: 1, maximum: 64 * 1024 * 1024 }) },
  { additionalProperties: false },
);
export const StringTarget = Type.Object(
  {
    kind: Type.Literal('string'),
    symbol: SymbolName,
    length: Type.Integer({ minimum: 1, maximum: 4096 }),
    /** Values the NUL-terminated string may hold. */
    allowed: Type.Array(Type.String({ maxLength: 4096 }), { minItems: 1, maxItems: 64 }),
  },
  { additionalProperties: false, description: 'A kernel string such as modprobe_path or core_pattern' },
);

export const PolicyTarget = Type.Union([SymbolTarget, SymbolRangeTarget, TableTarget, PhysicalTarget, StringTarget]);

export const PolicyRule = Type.Object(
  {
    name: RuleName,
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    severity: Severity,
    mode: Type.Optional(Mode),
    mechanism: Type.Optional(MechanismChoice),
    target: PolicyTarget,
    /** Values (hex, exactly the target's bytes) a write may leave without a finding. */
    allow_values: Type.Optional(Type.Array(Type.String({ pattern: '^([0-9a-f]{2})+$', maxLength: 8192 }), { maxItems: 256 })),
    /** Writer symbols (exact or `prefix*`) whose writes are expected. */
    allow_writers: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 256 })),
  },
  { additionalProperties: false },
);
export type PolicyRule = Static<typeof PolicyRule>;

export const ProtectionPolicy = Type.Object(
  {
    version: Type.Literal(1),
    guest: Name,
    mode: Mode,
    rules: Type.Array(PolicyRule, { minItems: 1, maxItems: 1000 }),
    sweep: Type.Optional(
      Type.Object({ enabled: Type.Boolean(), period_s: Type.Number({ minimum: 0.1, maximum: 86_400 }) }, { additionalProperties: false }),
    ),
    coalesce: Type.Optional(
      Type.Object(
        {
          /** Traps per region per window published one by one; the rest are counted in the summary. */
          burst: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
          window_ms: Type.Integer({ minimum: 10, maximum: 3_600_000 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  {
    $id: 'protection-policy',
    title: 'protection-policy',
    description: 'What to protect in one guest, and how',
    additionalProperties: false,
  },
);
export type ProtectionPolicy = Static<typeof ProtectionPolicy>;
