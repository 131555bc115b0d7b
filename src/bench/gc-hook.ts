// Loaded with `node --expose-gc --import` into the benchmark's Node peers: SIGUSR2 runs a full GC,
// so the harness can read RSS after garbage collection (W3).
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  process.on('SIGUSR2', () => {
    gc();
    gc();
  });
}
