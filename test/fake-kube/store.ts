/**
 * In-memory object storage of the fake API server, with resource versions and paged lists.
 */

import type { KindInfo, KindRegistry } from "./kinds.ts";
import { parseLabelSelector } from "./selector.ts";

export type StoredObject = Record<string, unknown>;

/** Thrown for an invalid or expired `continue` token. */
export class ContinueTokenError extends Error {}

interface Metadata {
  name?: unknown;
  namespace?: unknown;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

function metadataOf(object: StoredObject): Metadata {
  const metadata = object.metadata;
  if (typeof metadata !== "object" || metadata === null) {
    object.metadata = {};
    return object.metadata as Metadata;
  }
  return metadata as Metadata;
}

/** Objects keyed by kind, namespace and name. */
export class ObjectStore {
  private readonly objects = new Map<string, StoredObject>();
  private revision = 1000;
  private uidCounter = 0;
  private readonly kinds: KindRegistry;

  constructor(kinds: KindRegistry) {
    this.kinds = kinds;
  }

  private key(kind: KindInfo, namespace: string, name: string): string {
    return `${kind.group}/${kind.plural}/${kind.namespaced ? namespace : ""}/${name}`;
  }

  /** Current resource version of the whole store. */
  get resourceVersion(): string {
    return String(this.revision);
  }

  /**
   * Stores a copy of `object`, filling in namespace `default`, uid, resourceVersion, generation and
   * creationTimestamp when missing. Replaces an existing object of the same name. Returns the kind.
   */
  put(object: StoredObject): KindInfo {
    const apiVersion = object.apiVersion;
    const kindName = object.kind;
    if (typeof apiVersion !== "string" || typeof kindName !== "string") {
      throw new Error("an object needs string fields apiVersion and kind");
    }
    const kind = this.kinds.byKind(apiVersion, kindName);
    if (kind === undefined) throw new Error(`the fake API server has no kind ${kindName} in ${apiVersion}; register it first`);

    const copy = structuredClone(object);
    const metadata = metadataOf(copy);
    if (typeof metadata.name !== "string" || metadata.name === "") throw new Error("an object needs metadata.name");
    if (kind.namespaced && metadata.namespace === undefined) metadata.namespace = "default";
    if (!kind.namespaced) delete metadata.namespace;
    metadata.uid ??= `00000000-0000-4000-8000-${String(++this.uidCounter).padStart(12, "0")}`;
    metadata.generation ??= 1;
    metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, "Z");
    metadata.resourceVersion = String(++this.revision);
    this.objects.set(this.key(kind, String(metadata.namespace ?? ""), metadata.name), copy);
    return kind;
  }

  /** Returns the stored object itself (not a copy), or undefined. */
  find(kind: KindInfo, namespace: string, name: string): StoredObject | undefined {
    return this.objects.get(this.key(kind, namespace, name));
  }

  /** Marks an object as changed: new resourceVersion, and a new generation when its spec changed. */
  touch(object: StoredObject, specChanged: boolean): void {
    const metadata = metadataOf(object);
    metadata.resourceVersion = String(++this.revision);
    if (specChanged) metadata.generation = (typeof metadata.generation === "number" ? metadata.generation : 0) + 1;
  }

  delete(kind: KindInfo, namespace: string, name: string): boolean {
    return this.objects.delete(this.key(kind, namespace, name));
  }

  /**
   * Lists objects of a kind, sorted by namespace and name as the apiserver does. With `limit`, the
   * response contains at most that many items and a continue token that encodes the last key returned.
   */
  list(
    kind: KindInfo,
    options: { namespace?: string; labelSelector?: string; limit?: number; continueToken?: string },
  ): { items: StoredObject[]; continueToken?: string; remainingItemCount?: number } {
    const matches = parseLabelSelector(options.labelSelector ?? "");
    const prefix = `${kind.group}/${kind.plural}/`;
    let entries = [...this.objects]
      .filter(([key]) => key.startsWith(prefix))
      .filter(([, object]) => options.namespace === undefined || metadataOf(object).namespace === options.namespace)
      .filter(([, object]) => matches(metadataOf(object).labels ?? {}))
      .sort(([a], [b]) => compareKeys(a, b));

    if (options.continueToken !== undefined) {
      const after = decodeContinue(options.continueToken);
      entries = entries.filter(([key]) => key > after);
    }
    const limit = options.limit;
    if (limit === undefined || limit <= 0 || entries.length <= limit) {
      return { items: entries.map(([, object]) => object) };
    }
    const page = entries.slice(0, limit);
    const lastKey = page[page.length - 1]?.[0] ?? "";
    return {
      items: page.map(([, object]) => object),
      continueToken: Buffer.from(JSON.stringify({ after: lastKey })).toString("base64url"),
      remainingItemCount: entries.length - limit,
    };
  }
}

/** Orders keys by code unit, as etcd orders its keys. */
function compareKeys(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

function decodeContinue(token: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (typeof parsed === "object" && parsed !== null && "after" in parsed && typeof parsed.after === "string") {
      return parsed.after;
    }
  } catch {
    // Falls through to the error below.
  }
  throw new ContinueTokenError(`invalid continue token ${JSON.stringify(token)}`);
}
