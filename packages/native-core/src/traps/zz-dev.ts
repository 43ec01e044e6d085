import { imageVirtToPhys, launchGuest, symbolAddress } from '@vmi/guest';
import { openTrapEngine } from './trap-engine.js';

const g = await launchGuest({ name: 'cold' });
const wl = async () => Number(/elapsed_us=(\d+)/.exec((await g.exec('workload -n 100', { timeoutMs: 600000 })).output)![1]);
try {
  const p = g.profile;
  const sct = symbolAddress(p, 'sys_call_table');
  await wl();
  for (let k = 0; k < 3; k++) {
    const base = await wl();
    const e = await openTrapEngine({ backend: 'gdbstub', ramPath: g.ramPath, gdbstub: { port: g.gdbAddress!.port }, onEvents: () => {} });
    const n = Number(process.env.N ?? 256);
    for (let i = 0; i < n; i++) {
      const v = sct + BigInt(8 * i);
      await e.protect({ tag: `s${i}`, virt: v, phys: imageVirtToPhys(p, v), length: 8, aliases: 'none' });
    }
    const w = await wl();
    const attachedNone = await (async () => {
      for (let i = 0; i < n; i++) await e.unprotect(`s${i}`);
      return wl();
    })();
    await e.close();
    console.log('base', base, 'watched', w, 'attached-no-watch', attachedNone, 'pct', (((w - base) / base) * 100).toFixed(1));
  }
} finally {
  await g.close();
}
