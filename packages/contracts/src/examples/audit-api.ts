import type {
  AuditAggregateQuery,
  AuditAggregateReply,
  AuditApiError,
  AuditChainVerifyReply,
  AuditChainVerifyRequest,
  AuditEventPage,
  AuditEventQuery,
  AuditEventRecord,
  AuditFindingQuery,
  AuditRetentionReply,
  AuditRetentionRequest,
} from '../schemas/audit-api.js';
import { type SchemaExamples, withField, withoutField } from './types.js';

const eventQuery: AuditEventQuery = {
  from: '2026-01-15T00:00:00.000Z',
  to: '2026-01-16T00:00:00.000Z',
  host: 'hv-01',
  guest: 'web-1',
  type: 'trap',
  severity: 'critical',
  rule: 'syscall-table',
  cursor: 'WyIyMDI2LTAxLTE1VDEwOjIwOjMwLjEyM1oiLCIwMTkyZjRhMS03YzNlLTdkMmEtOWIxZS0zZjVhNmM3ZDhlOWYiXQ',
  limit: 50,
};

const findingQuery: AuditFindingQuery = { from: '2026-01-15T00:00:00.000Z', guest: 'web-1', severity: 'high', limit: 100 };

const record: AuditEventRecord = {
  id: '0192f4a1-7c3e-7d2a-9b1e-3f5a6c7d8e9f',
  seq: 1,
  stream: 'traps',
  subject: 'vmi.trap.hv-01.web-1',
  type: 'trap',
  host: 'hv-01',
  guest: 'web-1',
  time: '2026-01-15T10:20:30.123Z',
  severity: 'critical',
  rule: 'syscall-table',
  ingested_at: '2026-01-15T10:20:30.200Z',
  prev_hash: '0'.repeat(64),
  row_hash: 'b'.repeat(64),
  body: { id: '0192f4a1-7c3e-7d2a-9b1e-3f5a6c7d8e9f', type: 'trap' },
};

const page: AuditEventPage = { items: [record], next_cursor: null };

const aggregateQuery: AuditAggregateQuery = {
  from: '2026-01-15T00:00:00.000Z',
  to: '2026-01-16T00:00:00.000Z',
  bucket: 'hour',
  type: 'finding',
};

const aggregateReply: AuditAggregateReply = {
  bucket: 'hour',
  groups: [{ bucket_start: '2026-01-15T10:00:00.000Z', rule: 'syscall-table', severity: 'critical', count: 3 }],
  truncated: false,
};

const verifyRequest: AuditChainVerifyRequest = { from_seq: 1, to_seq: 1000 };

const verifyReply: AuditChainVerifyReply = {
  ok: false,
  checked: 41,
  from_seq: 1,
  to_seq: 1000,
  anchor: 'genesis',
  broken: { seq: 42, id: '0192f4a1-7c3e-7d2a-9b1e-3f5a6c7d8e9f', reason: 'row-hash', expected: 'c'.repeat(64), actual: 'd'.repeat(64) },
};

const retentionRequest: AuditRetentionRequest = { max_age_s: 86_400 };

const retentionReply: AuditRetentionReply = {
  cutoff: '2026-01-14T10:20:30.123Z',
  removed: 1200,
  checkpoint: { seq: 1200, row_hash: 'e'.repeat(64), created_at: '2026-01-15T10:20:30.123Z' },
};

const apiError: AuditApiError = {
  code: 'VMI_ERR_AUDIT_BAD_REQUEST',
  message: 'Request failed validation: /querystring/limit must be less or equal to 1000',
  status: 400,
  path: '/querystring/limit',
};

export const AUDIT_API_EXAMPLES = {
  'audit-event-query': {
    good: eventQuery,
    bad: [
      { why: 'from is not RFC 3339', value: withField(eventQuery, '/from', "2026-01-15' OR 1=1"), path: '/from' },
      { why: 'limit over the cap', value: withField(eventQuery, '/limit', 1001), path: '/limit' },
      { why: 'limit is zero', value: withField(eventQuery, '/limit', 0), path: '/limit' },
      { why: 'unknown severity', value: withField(eventQuery, '/severity', 'severe'), path: '/severity' },
      { why: 'rule with SQL in it', value: withField(eventQuery, '/rule', "x'; DROP TABLE audit_events;--"), path: '/rule' },
      { why: 'type with a space', value: withField(eventQuery, '/type', 'trap event'), path: '/type' },
      { why: 'cursor not base64url', value: withField(eventQuery, '/cursor', 'a+b/c='), path: '/cursor' },
      { why: 'an unknown filter', value: withField(eventQuery, '/order', 'asc'), path: '/order' },
    ],
  },
  'audit-finding-query': {
    good: findingQuery,
    bad: [
      { why: 'type is fixed for findings', value: withField(findingQuery, '/type', 'trap'), path: '/type' },
      { why: 'guest has a control character', value: withField(findingQuery, '/guest', 'web\n1'), path: '/guest' },
      { why: 'limit is fractional', value: withField(findingQuery, '/limit', 2.5), path: '/limit' },
      { why: 'to is a bare date', value: withField(findingQuery, '/to', '2026-01-16'), path: '/to' },
    ],
  },
  'audit-event-record': {
    good: record,
    bad: [
      { why: 'row hash is not sha256 hex', value: withField(record, '/row_hash', 'xyz'), path: '/row_hash' },
      { why: 'seq is negative', value: withField(record, '/seq', -1), path: '/seq' },
      { why: 'body is missing', value: withoutField(record, '/body'), path: '/body' },
    ],
  },
  'audit-event-page': {
    good: page,
    bad: [
      { why: 'next_cursor is missing', value: withoutField(page, '/next_cursor'), path: '/next_cursor' },
      { why: 'items is not a list', value: withField(page, '/items', {}), path: '/items' },
      { why: 'an item lacks its id', value: withoutField(page, '/items/0/id'), path: '/items/0/id' },
    ],
  },
  'audit-aggregate-query': {
    good: aggregateQuery,
    bad: [
      { why: 'unknown bucket', value: withField(aggregateQuery, '/bucket', 'week'), path: '/bucket' },
      { why: 'to is not a time', value: withField(aggregateQuery, '/to', 'now()'), path: '/to' },
      { why: 'an unknown field', value: withField(aggregateQuery, '/group_by', 'host'), path: '/group_by' },
    ],
  },
  'audit-aggregate-reply': {
    good: aggregateReply,
    bad: [
      { why: 'negative count', value: withField(aggregateReply, '/groups/0/count', -3), path: '/groups/0/count' },
      { why: 'truncated is missing', value: withoutField(aggregateReply, '/truncated'), path: '/truncated' },
      {
        why: 'bucket start is not a time',
        value: withField(aggregateReply, '/groups/0/bucket_start', 'today'),
        path: '/groups/0/bucket_start',
      },
    ],
  },
  'audit-chain-verify-request': {
    good: verifyRequest,
    bad: [
      { why: 'from_seq is zero', value: withField(verifyRequest, '/from_seq', 0), path: '/from_seq' },
      { why: 'to_seq is text', value: withField(verifyRequest, '/to_seq', '10'), path: '/to_seq' },
      { why: 'an unknown field', value: withField(verifyRequest, '/repair', true), path: '/repair' },
    ],
  },
  'audit-chain-verify-reply': {
    good: verifyReply,
    bad: [
      { why: 'unknown break reason', value: withField(verifyReply, '/broken/reason', 'odd'), path: '/broken/reason' },
      { why: 'ok is not a boolean', value: withField(verifyReply, '/ok', 'yes'), path: '/ok' },
      { why: 'unknown anchor', value: withField(verifyReply, '/anchor', 'trust'), path: '/anchor' },
    ],
  },
  'audit-retention-request': {
    good: retentionRequest,
    bad: [
      { why: 'max_age_s is zero', value: withField(retentionRequest, '/max_age_s', 0), path: '/max_age_s' },
      { why: 'max_age_s is fractional', value: withField(retentionRequest, '/max_age_s', 1.5), path: '/max_age_s' },
      { why: 'an unknown field', value: withField(retentionRequest, '/all', true), path: '/all' },
    ],
  },
  'audit-retention-reply': {
    good: retentionReply,
    bad: [
      { why: 'checkpoint hash is not hex', value: withField(retentionReply, '/checkpoint/row_hash', 'nope'), path: '/checkpoint/row_hash' },
      { why: 'removed is negative', value: withField(retentionReply, '/removed', -1), path: '/removed' },
      { why: 'cutoff is missing', value: withoutField(retentionReply, '/cutoff'), path: '/cutoff' },
    ],
  },
  'audit-api-error': {
    good: apiError,
    bad: [
      { why: 'code is missing', value: withoutField(apiError, '/code'), path: '/code' },
      { why: 'status is text', value: withField(apiError, '/status', '400'), path: '/status' },
      { why: 'an unknown field', value: withField(apiError, '/stack', 'at x'), path: '/stack' },
    ],
  },
} satisfies {
  'audit-event-query': SchemaExamples<'audit-event-query'>;
  'audit-finding-query': SchemaExamples<'audit-finding-query'>;
  'audit-event-record': SchemaExamples<'audit-event-record'>;
  'audit-event-page': SchemaExamples<'audit-event-page'>;
  'audit-aggregate-query': SchemaExamples<'audit-aggregate-query'>;
  'audit-aggregate-reply': SchemaExamples<'audit-aggregate-reply'>;
  'audit-chain-verify-request': SchemaExamples<'audit-chain-verify-request'>;
  'audit-chain-verify-reply': SchemaExamples<'audit-chain-verify-reply'>;
  'audit-retention-request': SchemaExamples<'audit-retention-request'>;
  'audit-retention-reply': SchemaExamples<'audit-retention-reply'>;
  'audit-api-error': SchemaExamples<'audit-api-error'>;
};
