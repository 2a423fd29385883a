/**
 * Fault rules of the fake API server: responses that replace or delay the normal one for requests
 * that match a method and path.
 */

/**
 * A fault. Give one action: `status` (with a Status body, or `body` as is), `drop`, `hang`,
 * `stallBody`, or `delayMs` (alone it delays the normal response, and with `status` it delays that response).
 */
export interface FaultRule {
  /** HTTP method, any when omitted. */
  method?: string;
  /**
   * Matched against the whole path without query: a string where `*` stands for any characters,
   * so a `*` followed by `/scale` matches every scale request, or a RegExp. Any path when omitted.
   */
  path?: string | RegExp;
  /** Matched against the query string without `?`, with the same rules as `path`. Any query when omitted. */
  query?: string | RegExp;
  /** Number of matching requests the rule applies to; until cleared when omitted. */
  times?: number;
  status?: number;
  /** Status `reason`; defaults to the apiserver's reason for `status`. */
  reason?: string;
  /** Status `message`. */
  message?: string;
  /** Raw response body sent in place of a Status, with `contentType` (default `text/plain`). */
  body?: string;
  contentType?: string;
  delayMs?: number;
  /**
   * Closes the connection without a response. Bun 1.4.5's `fetch` sends a GET again once when a reused
   * keep-alive connection is closed this way, so set `times` to 2 or more to fail such a GET.
   */
  drop?: boolean;
  /** Sends no response. The connection stays open until the client gives up or the fake stops. */
  hang?: boolean;
  /** Sends status 200 and the first bytes of a JSON body, then nothing more, like `hang`. */
  stallBody?: boolean;
}

/** Returned by `fail()`. */
export interface FaultHandle {
  /** Number of requests the rule has applied to. */
  readonly hits: number;
  /** Removes the rule. */
  clear(): void;
}

interface ActiveRule {
  rule: FaultRule;
  pattern: RegExp | undefined;
  queryPattern: RegExp | undefined;
  remaining: number;
  hits: number;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`);
}

function toPattern(pattern: string | RegExp | undefined): RegExp | undefined {
  if (pattern === undefined) return undefined;
  return typeof pattern === "string" ? globToRegExp(pattern) : pattern;
}

/** The active fault rules, first added first matched. */
export class FaultList {
  private rules: ActiveRule[] = [];

  add(rule: FaultRule): FaultHandle {
    const actions = [rule.status !== undefined, rule.drop === true, rule.hang === true, rule.stallBody === true];
    const count = actions.filter(Boolean).length;
    if (count > 1) throw new Error("a fault rule takes one of status, drop, hang and stallBody");
    if (count === 0 && rule.delayMs === undefined) throw new Error("a fault rule needs status, drop, hang, stallBody or delayMs");
    const active: ActiveRule = {
      rule,
      pattern: toPattern(rule.path),
      queryPattern: toPattern(rule.query),
      remaining: rule.times ?? Number.POSITIVE_INFINITY,
      hits: 0,
    };
    this.rules.push(active);
    return {
      get hits() {
        return active.hits;
      },
      clear: () => {
        this.rules = this.rules.filter((candidate) => candidate !== active);
      },
    };
  }

  clear(): void {
    this.rules = [];
  }

  /** Returns the first rule that matches and still applies, counting the hit. */
  match(method: string, pathname: string, query: string): FaultRule | undefined {
    const found = this.rules.find(
      (active) =>
        active.remaining > 0 &&
        (active.rule.method === undefined || active.rule.method.toUpperCase() === method.toUpperCase()) &&
        (active.pattern === undefined || active.pattern.test(pathname)) &&
        (active.queryPattern === undefined || active.queryPattern.test(query)),
    );
    if (found === undefined) return undefined;
    found.remaining--;
    found.hits++;
    return found.rule;
  }
}
