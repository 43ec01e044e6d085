import type { ResolvedRegion } from './resolve-policy.js';

/** Finds the protected objects a guest-physical byte range touches (binary search over sorted regions). */
export class RegionIndex {
  private readonly sorted: ResolvedRegion[];
  private readonly byObject: Map<string, ResolvedRegion>;

  constructor(regions: readonly ResolvedRegion[]) {
    this.sorted = [...regions].sort((a, b) => (a.physical < b.physical ? -1 : a.physical > b.physical ? 1 : 0));
    this.byObject = new Map(regions.map((r) => [r.object, r]));
  }

  get size(): number {
    return this.sorted.length;
  }

  all(): readonly ResolvedRegion[] {
    return this.sorted;
  }

  get(object: string): ResolvedRegion | undefined {
    return this.byObject.get(object);
  }

  /** Regions overlapping [phys, phys + length). */
  overlapping(phys: bigint, length: number): ResolvedRegion[] {
    const end = phys + BigInt(Math.max(1, length));
    // First region whose end is above `phys`.
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.sorted[mid] as ResolvedRegion;
      if (r.physical + BigInt(r.length) <= phys) lo = mid + 1;
      else hi = mid;
    }
    const out: ResolvedRegion[] = [];
    for (let i = lo; i < this.sorted.length; i++) {
      const r = this.sorted[i] as ResolvedRegion;
      if (r.physical >= end) break;
      if (r.physical + BigInt(r.length) > phys) out.push(r);
    }
    return out;
  }
}
