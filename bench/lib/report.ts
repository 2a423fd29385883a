/** Result tables of the benchmarks and their Markdown form. */

export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Sentences printed under the table: setup, sample counts, how a value was derived. */
  readonly notes: readonly string[];
}

export interface BenchResult {
  readonly name: string;
  readonly tables: readonly Table[];
  /** Raw numbers for --json output. */
  readonly data: Record<string, unknown>;
}

export interface BenchOptions {
  /** Fewer cycles and runs, for a check that the benchmarks work. The numbers are noisier. */
  readonly quick: boolean;
  /** Path of the compiled agent. */
  readonly binary: string;
  /** Cycles of the memory benchmark. Default 1,000, or 200 with `quick`. */
  readonly memoryCycles?: number;
}

/** Formats `table` as a Markdown heading, table and notes. */
export function markdownTable(table: Table): string {
  const escape = (cell: string): string => cell.replaceAll("|", "\\|");
  const lines = [`### ${table.title}`, "", `| ${table.columns.map(escape).join(" | ")} |`, `|${table.columns.map(() => " --- ").join("|")}|`];
  for (const row of table.rows) lines.push(`| ${row.map(escape).join(" | ")} |`);
  if (table.notes.length > 0) lines.push("", ...table.notes.map((note) => `- ${note}`));
  return `${lines.join("\n")}\n`;
}
