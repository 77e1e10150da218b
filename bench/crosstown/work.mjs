// 20 ms of CPU work, the same function for every mode.
export function burn(ms = 20) {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  return x;
}
