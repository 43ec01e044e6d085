// A stand-in for a guest that keeps two halves of a buffer equal, and for the trap engine that
// watches it: it stores each 8-byte word into the first half, then the same value into the second
// half, and records every store in the write-generation table right after it lands (as the trap
// engine does before resuming a vCPU). At any instant the halves differ in at most one word.
//
// argv: addonPath ramPath tablePath|- base words burstPauseMs
const [addonPath, ramPath, tablePath, baseText, wordsText, pauseText] = process.argv.slice(2);
const addon = require(addonPath);
const memory = addon.memoryOpen(ramPath, true, null);
const table = tablePath === '-' ? null : addon.genOpen(tablePath, true);
const base = BigInt(baseText);
const words = Number(wordsText);
const pauseMs = Number(pauseText);
const half = BigInt(words * 8);
const word = Buffer.alloc(8);
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function store(address) {
  addon.memoryWritePhys(memory, address, word);
  if (table !== null) addon.genRecordWrite(table, address, 8n);
}

process.stdout.write('ready\n');
for (let generation = 1n; ; generation++) {
  word.writeBigUInt64LE(generation);
  for (let i = 0; i < words; i++) {
    const offset = BigInt(i * 8);
    store(base + offset);
    store(base + half + offset);
  }
  if (pauseMs > 0) Atomics.wait(sleeper, 0, 0, pauseMs);
}
