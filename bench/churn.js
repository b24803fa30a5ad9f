// Allocation churn for Node.js: V8 allocates and frees heap pages all the
// time and returns them with madvise (MADV_DONTNEED) and munmap.
//
// ROUNDS times: build a young generation full of short-lived objects and
// some large arrays and buffers that survive a while (a sliding window), so
// that both scavenges and full collections run and pages come and go.  At the
// end the window is emptied, a full collection is forced (node --expose-gc),
// and the resident set is printed: "rss-after KIB".
'use strict';

const rounds = Number(process.argv[2] || 300);
const windowSize = 24;
const kept = [];
let check = 0;

for (let r = 0; r < rounds; r++) {
  // large objects: their own pages, freed when they leave the window
  const big = new Array(50000 + (r % 7) * 10000).fill(r);
  const buf = Buffer.alloc(256 * 1024, r & 255);
  kept.push({ big, buf });
  if (kept.length > windowSize) kept.shift();
  // short-lived garbage for the scavenger
  let s = 0;
  for (let i = 0; i < 20000; i++) {
    const o = { i, r, t: 'x' + (i % 100) };
    s += o.i + o.t.length;
  }
  check = (check + s + big.length + buf[0]) | 0;
}
kept.length = 0;
if (global.gc) {
  global.gc();
  global.gc();
}
const rss = process.memoryUsage().rss;
console.log('rss-after ' + Math.round(rss / 1024));
console.log('checksum ' + check);
