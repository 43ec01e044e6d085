import type { DeadLetter } from '../schemas/deadletter.js';
import { type SchemaExamples, withField, withoutField } from './types.js';

const deadLetter: DeadLetter = {
  id: '0192f4a1-9000-7d2a-9b1e-3f5a6c7d8e9f',
  time: '2026-01-15T10:21:00.000Z',
  version: 1,
  type: 'deadletter',
  host: 'hv-01',
  guest: null,
  stream: 'VMI_SCANS',
  consumer: 'scanner-scans',
  subject: 'vmi.scan.hv-01.web-1',
  stream_seq: 17,
  deliveries: 1,
  error: { code: 'VMI_ERR_VALIDATION', message: 'Message failed validation: scan-request/rules must be array', path: '/rules' },
  payload_base64: Buffer.from('{"rules":"all"}').toString('base64'),
  payload_truncated: false,
};

export const DEADLETTER_EXAMPLES = {
  deadletter: {
    good: deadLetter,
    bad: [
      { why: 'id is not a UUID', value: withField(deadLetter, '/id', 'x'), path: '/id' },
      { why: 'wrong type', value: withField(deadLetter, '/type', 'trap'), path: '/type' },
      { why: 'guest is empty', value: withField(deadLetter, '/guest', ''), path: '/guest' },
      { why: 'error code is missing', value: withoutField(deadLetter, '/error/code'), path: '/error/code' },
      { why: 'error path is missing (null is required when unknown)', value: withoutField(deadLetter, '/error/path'), path: '/error/path' },
      { why: 'negative stream sequence', value: withField(deadLetter, '/stream_seq', -1), path: '/stream_seq' },
      { why: 'stream name too long', value: withField(deadLetter, '/stream', 'S'.repeat(65)), path: '/stream' },
      { why: 'an unknown property', value: withField(deadLetter, '/payload', '{}'), path: '/payload' },
    ],
  },
} satisfies { deadletter: SchemaExamples<'deadletter'> };
