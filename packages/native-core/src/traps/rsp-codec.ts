/**
 * The native GDB remote serial protocol codec, reachable from tests: the same C++ the gdbstub
 * backend's I/O thread runs on every byte QEMU sends. Not part of the package's public entry.
 */
import type { VmiError } from '@vmi/contracts';
import { type NativeRspFrame, native } from '../native.js';
import { callNative, fromNative } from '../native-errors.js';

export interface DecodedRsp {
  readonly frames: NativeRspFrame[];
  /** One typed error per malformed packet; decoding goes on after each. */
  readonly errors: VmiError[];
}

/** Decodes bytes fed in `chunk`-sized pieces, as they would arrive from a socket. */
export function decodeRsp(data: Buffer, maxPacket = 1 << 20, chunk = 65536): DecodedRsp {
  const out = callNative(() => native().rspDecodeForTest(data, maxPacket, chunk));
  return { frames: out.frames, errors: out.errors.map((e) => fromNative(e) as VmiError) };
}

export function encodeRsp(body: Buffer): Buffer {
  return callNative(() => native().rspEncodeForTest(body));
}

export function parseStopReply(payload: Buffer): ReturnType<ReturnType<typeof native>['rspStopReplyForTest']> {
  return callNative(() => native().rspStopReplyForTest(payload));
}
