// COCO RLE masks: the compressed string form (pycocotools' rleToString / rleFrString)
// decoded to run lengths and to a row-major bitmap. RLE runs go down columns (Fortran
// order), starting with a run of zeros.

/** Run lengths of a compressed COCO RLE string (the inverse of pycocotools' rleToString). */
export function decodeCounts(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) throw new Error('truncated RLE string');
      const c = s.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

/** Run lengths of a bitmap (row-major, h x w): the inverse of decodeMask. */
export function countsOf(mask: Uint8Array, h: number, w: number): number[] {
  const counts: number[] = [];
  let current = 0;
  let run = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = mask[y * w + x] ? 1 : 0;
      if (v !== current) {
        counts.push(run);
        run = 0;
        current = v;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}

/** Compressed string of run lengths (pycocotools' rleToString). */
export function encodeCounts(counts: number[]): string {
  let out = '';
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i];
    if (i > 2) x -= counts[i - 2];
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x >>= 5;
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      out += String.fromCharCode(c + 48);
    }
  }
  return out;
}

/** Row-major bitmap (1 = inside) of h x w from run lengths; throws if they do not fit. */
export function decodeMask(counts: number[] | string, h: number, w: number): Uint8Array {
  const runs = typeof counts === 'string' ? decodeCounts(counts) : counts;
  const total = h * w;
  const out = new Uint8Array(total);
  let pos = 0;
  let value = 0;
  for (const run of runs) {
    if (run < 0 || pos + run > total) throw new Error('RLE runs exceed the mask size');
    if (value) {
      for (let i = pos; i < pos + run; i++) {
        const x = Math.floor(i / h);
        const y = i - x * h;
        out[y * w + x] = 1;
      }
    }
    pos += run;
    value ^= 1;
  }
  if (pos !== total) throw new Error(`RLE runs cover ${pos} pixels, not ${total}`);
  return out;
}

/** Area (pixel count) of a mask from its run lengths. */
export function maskArea(counts: number[]): number {
  let a = 0;
  for (let i = 1; i < counts.length; i += 2) a += counts[i];
  return a;
}
