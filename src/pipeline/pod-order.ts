/**
 * The order of pods in per-pod mode: pods whose names end in `-<number>` (StatefulSet ordinals)
 * sort by the name before the number and then by the number, so `web-2` comes before `web-10`.
 * Every other name sorts by the name itself. The order is total, so results never depend on the
 * order in which the API listed the pods.
 */

interface SortKey {
  readonly base: string;
  readonly ordinal: number;
}

function sortKey(name: string): SortKey {
  const match = /^(.*)-(\d{1,15})$/.exec(name);
  if (match) return { base: match[1]!, ordinal: Number(match[2]) };
  return { base: name, ordinal: -1 };
}

/** Compares two pod names in per-pod order. */
export function comparePodNames(a: string, b: string): number {
  const ka = sortKey(a);
  const kb = sortKey(b);
  if (ka.base !== kb.base) return ka.base < kb.base ? -1 : 1;
  if (ka.ordinal !== kb.ordinal) return ka.ordinal - kb.ordinal;
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}
