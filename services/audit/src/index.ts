/** @vmi/audit: JetStream to Postgres audit trail with REST queries and tamper evidence. */
export { type AppOptions, buildApp } from './app.js';
export { canonicalJson } from './chain/canonical-json.js';
export { contentHash, GENESIS_HASH, rowHash } from './chain/row-hash.js';
export { AUDITED_STREAMS, AuditConfig } from './config.js';
export { type AuditDatabase, type AuditDb, type DatabaseOptions, MIGRATIONS_DIR, openDatabase } from './db/open.js';
export { events as auditEvents } from './db/schema.js';
export { createMessageDecoder, type DecodedMessage, type Envelope, registeredMessageValidators } from './ingest/message-decoder.js';
export { type Ingest, type IngestOptions, startIngest } from './ingest/start-ingest.js';
export { type AppendResult, ChainWriter, type IncomingEvent } from './store/append-events.js';
export { eventRowJson, type FullEventRow, insertEventRows, insertRowJson } from './store/insert-events.js';
export { runRetention } from './store/retention.js';
export { verifyChain } from './store/verify-chain.js';
