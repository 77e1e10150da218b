/** One column of a text table (see renderTable). */
export interface TableColumn {
  readonly header: string;
  /** The plain text of each row's cell (no escape codes: widths are counted on it). */
  readonly cells: readonly string[];
  /** Right-aligned (numbers). */
  readonly right?: boolean;
  /** The narrowest it may be shrunk to when the table is too wide (default: the header's width). */
  readonly min?: number;
  /** The widest it grows, whatever its cells (longer ones are cut with `…`). */
  readonly max?: number;
  /** Takes what the other columns leave of the width (at most one column; it should be the last). */
  readonly flex?: boolean;
  /** Left out when every cell is empty (nothing to say in it). */
  readonly optional?: boolean;
  /** Wraps a cell's padded text, e.g. in a colour; gets the row index. */
  readonly paint?: (text: string, row: number) => string;
}

const GAP = '  ';

/** A column's width when nothing has to give: its widest cell or header, up to its max. */
const naturalOf = (c: TableColumn): number => Math.min(c.max ?? Infinity, Math.max(textWidth(c.header), ...c.cells.map(textWidth)));

/** The columns drawn: an optional one with nothing in it is left out. */
const shown = (all: readonly TableColumn[]): TableColumn[] => all.filter((c) => !c.optional || c.cells.some((cell) => cell !== ''));

/** The number of characters a terminal shows for `text` (code points; the CLI prints no wide characters). */
export function textWidth(text: string): number {
  return [...text].length;
}

/** `text` cut to `width` characters, the last one `…` when something was cut. */
export function truncate(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  return width <= 0 ? '' : `${chars.slice(0, width - 1).join('')}…`;
}

/**
 * The widths that fit the columns in `width`: each column as wide as its widest cell (up to
 * its max); the flex column gets what is left (at least its min); when even that overflows, the
 * widest shrinkable column gives up a character at a time, down to its min.
 */
function fit(columns: readonly TableColumn[], width: number): number[] {
  const natural = columns.map(naturalOf);
  const mins = columns.map((c, i) => Math.min(natural[i]!, c.min ?? textWidth(c.header)));
  const widths = [...natural];
  const flex = columns.findIndex((c) => c.flex);
  const gaps = GAP.length * (columns.length - 1);
  const fixed = () => widths.reduce((sum, w, i) => (i === flex ? sum : sum + w), 0) + gaps;
  const flexMin = flex < 0 ? 0 : mins[flex]!;
  while (fixed() + flexMin > width) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) {
      if (i !== flex && widths[i]! > mins[i]! && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
    }
    if (widest < 0) break;
    widths[widest]!--;
  }
  if (flex >= 0) widths[flex] = Math.max(flexMin, Math.min(natural[flex]!, width - fixed()));
  return widths;
}

/** The width the columns take at their natural widths (widest cell, up to max), gaps included. */
export function naturalWidth(all: readonly TableColumn[]): number {
  const columns = shown(all);
  return columns.reduce((sum, c) => sum + naturalOf(c), 0) + GAP.length * Math.max(0, columns.length - 1);
}

/**
 * A text table within `width` columns: a header row, then one row per cell index; cells too
 * long for their column are cut with `…`; lines carry no trailing spaces.
 */
export function renderTable(all: readonly TableColumn[], width: number, header: (text: string) => string = (t) => t): string[] {
  const columns = shown(all);
  const widths = fit(columns, width);
  const rows = Math.max(0, ...columns.map((c) => c.cells.length));
  const line = (cell: (c: TableColumn, i: number) => string, paint: (c: TableColumn, text: string) => string) => {
    const parts = columns.map((c, i) => {
      const text = truncate(cell(c, i), widths[i]!);
      const pad = ' '.repeat(Math.max(0, widths[i]! - textWidth(text)));
      return { text: paint(c, text), pad, right: Boolean(c.right) };
    });
    // the last cell is not padded on the right: no trailing spaces
    return parts
      .map((p, i) => (p.right ? p.pad + p.text : i === parts.length - 1 ? p.text : p.text + p.pad))
      .join(GAP)
      .trimEnd();
  };
  const out = [line((c) => c.header, (_c, text) => (text ? header(text) : text))];
  for (let row = 0; row < rows; row++) {
    out.push(line((c) => c.cells[row] ?? '', (c, text) => (c.paint && text ? c.paint(text, row) : text)));
  }
  return out;
}
