// The soak's crosstown task: a little CPU in a worker thread.
export function checksum({ n }) {
  let sum = 0;
  for (let i = 0; i < n; i++) sum = (sum * 31 + i) >>> 0;
  return sum;
}
