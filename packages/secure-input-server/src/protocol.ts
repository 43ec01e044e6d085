/**
 * What binds a record to its connection and place: the HPKE `info` names the connection and
 * application (so a context can never be used for another), the AAD names the connection and the
 * record's sequence number (so a record cannot be moved to another place or connection).
 */
const LABEL = 'vmi-secure-input/v1';
const encoder = new TextEncoder();

export function connectionInfo(connectionId: string, application: string): Uint8Array {
  return encoder.encode(`${LABEL}\u0000info\u0000${connectionId}\u0000${application}`);
}

export function recordAad(connectionId: string, seq: number): Uint8Array {
  const head = encoder.encode(`${LABEL}\u0000record\u0000${connectionId}\u0000`);
  const out = new Uint8Array(head.byteLength + 8);
  out.set(head, 0);
  new DataView(out.buffer).setBigUint64(head.byteLength, BigInt(seq), false);
  return out;
}
