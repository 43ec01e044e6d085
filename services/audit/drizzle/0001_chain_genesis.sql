-- The chain starts empty: the head points at sequence 0 with the all-zero genesis hash.
INSERT INTO "audit_chain_head" ("id", "seq", "row_hash") VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000') ON CONFLICT DO NOTHING;
