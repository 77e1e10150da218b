// A small ASCII area plot for the soak's curves (RSS, handles) in a terminal.
const BLOCKS = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/**
 * Plots `values` (one per sample, in order) as `height` rows of eighth-blocks, at most `width`
 * columns (each the largest value of its share of the samples), with the y range on the left
 * and the elapsed time underneath. Returns the lines.
 */
export function plot(values, { height = 8, width = 60, format = (v) => String(v), seconds = values.length } = {}) {
  if (values.length === 0) return [];
  const columns = Math.min(width, values.length);
  const buckets = Array.from({ length: columns }, (_, c) => {
    const from = Math.floor((c * values.length) / columns);
    const to = Math.max(from + 1, Math.floor(((c + 1) * values.length) / columns));
    return Math.max(...values.slice(from, to));
  });
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (high === low) {
    low -= 1;
    high += 1;
  }
  // a little room under the lowest value, so the curve's shape is visible
  low = Math.max(0, low - (high - low) * 0.1);
  const levels = height * 8;
  const filled = buckets.map((v) => Math.max(1, Math.round(((v - low) / (high - low)) * levels)));
  const labels = [format(high), format(low)];
  const pad = Math.max(...labels.map((l) => l.length));
  const lines = [];
  for (let row = height - 1; row >= 0; row--) {
    const cells = filled.map((f) => BLOCKS[Math.min(8, Math.max(0, f - row * 8))]).join('');
    const label = row === height - 1 ? labels[0] : row === 0 ? labels[1] : '';
    lines.push(`${label.padStart(pad)} │${cells}`);
  }
  lines.push(`${''.padStart(pad)} └${'─'.repeat(columns)}`);
  const end = `${Math.round(seconds)} s`;
  lines.push(`${''.padStart(pad)}  0 s${end.padStart(columns - 3)}`);
  return lines;
}
