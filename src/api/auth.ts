/**
 * Bearer-token authentication of the REST API. The token comes from `apiConfig.authTokenFile`,
 * re-read when the file changes, or from the environment variable CPA_API_TOKEN.
 */
import { statSync, readFileSync } from "node:fs";
import { timingSafeEqual } from "node:crypto";

export const API_TOKEN_ENV = "CPA_API_TOKEN";

export interface TokenSource {
  /** Returns the expected token, or undefined when authentication is off. */
  token(): string | undefined;
  /** Describes where the token comes from, for the start-up log. */
  readonly description: string;
}

/** Returns the token source configured by `authTokenFile` or CPA_API_TOKEN; file first. */
export function createTokenSource(authTokenFile: string, env: Readonly<Record<string, string | undefined>>): TokenSource {
  if (authTokenFile !== "") return new FileToken(authTokenFile);
  const value = env[API_TOKEN_ENV];
  if (value !== undefined && value.trim() !== "") {
    const token = value.trim();
    return { token: () => token, description: `environment variable ${API_TOKEN_ENV}` };
  }
  return { token: () => undefined, description: "none" };
}

class FileToken implements TokenSource {
  private cached: { key: string; token: string } | undefined;
  readonly description: string;

  constructor(private readonly path: string) {
    this.description = `file ${path}`;
  }

  token(): string | undefined {
    let key: string;
    try {
      const stat = statSync(this.path);
      key = `${stat.mtimeMs}/${stat.ino}/${stat.size}`;
    } catch (error) {
      // Fail closed: a missing token file must not switch authentication off.
      throw new Error(`failed to read apiConfig.authTokenFile ${this.path}: ${(error as Error).message}`);
    }
    if (this.cached?.key !== key) this.cached = { key, token: readFileSync(this.path, "utf8").trim() };
    return this.cached.token;
  }
}

/** Reports whether the Authorization header carries `expected` as a bearer token, in constant time. */
export function bearerMatches(header: string | null, expected: string): boolean {
  if (header === null) return false;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match) return false;
  const received = Buffer.from(match[1]!.trim());
  const expectedBytes = Buffer.from(expected);
  return received.length === expectedBytes.length && timingSafeEqual(received, expectedBytes);
}
