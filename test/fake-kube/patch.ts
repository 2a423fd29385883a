/**
 * JSON merge patch (RFC 7386) and JSON patch (RFC 6902) over plain JSON values.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Thrown for a patch that cannot be applied; the server responds with 422 or 400. */
export class PatchError extends Error {}

function isObject(value: unknown): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Applies a merge patch: objects merge key by key, `null` deletes, anything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: { [key: string]: Json } = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value) as Json;
  }
  return result;
}

function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new PatchError(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split("/")
    .map((token) => token.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function parentOf(document: Json, tokens: string[], pointer: string): { parent: Json; last: string } {
  let parent: Json = document;
  for (const token of tokens.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(parent)
      ? parent[Number(token)]
      : isObject(parent)
        ? parent[token]
        : undefined;
    if (next === undefined) throw new PatchError(`path ${pointer} does not exist`);
    parent = next;
  }
  const last = tokens[tokens.length - 1];
  if (last === undefined) throw new PatchError("the root cannot be patched");
  return { parent, last };
}

function valueAt(document: Json, pointer: string): Json | undefined {
  let value: Json | undefined = document;
  for (const token of parsePointer(pointer)) {
    if (Array.isArray(value)) value = value[Number(token)];
    else if (isObject(value)) value = value[token];
    else return undefined;
  }
  return value;
}

interface Operation {
  op: string;
  path: string;
  value?: Json;
  from?: string;
}

/** Applies a JSON patch. Supports add, remove, replace, test, copy and move. */
export function applyJsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw new PatchError("a JSON patch must be an array of operations");
  let document = structuredClone(target) as Json;

  for (const raw of operations as Operation[]) {
    if (!isObject(raw) || typeof raw.op !== "string" || typeof raw.path !== "string") {
      throw new PatchError("each JSON patch operation needs string fields op and path");
    }
    const { op, path } = raw;
    if (op === "test") {
      if (JSON.stringify(valueAt(document, path)) !== JSON.stringify(raw.value)) {
        throw new PatchError(`test operation at ${path} failed`);
      }
      continue;
    }
    let value: Json | undefined = raw.value;
    if (op === "copy" || op === "move") {
      if (typeof raw.from !== "string") throw new PatchError(`${op} operation needs a from field`);
      value = structuredClone(valueAt(document, raw.from));
      if (value === undefined) throw new PatchError(`path ${raw.from} does not exist`);
      if (op === "move") document = removeAt(document, raw.from);
    }
    if (op === "remove") {
      document = removeAt(document, path);
      continue;
    }
    if (op !== "add" && op !== "replace" && op !== "copy" && op !== "move") {
      throw new PatchError(`unknown JSON patch operation ${JSON.stringify(op)}`);
    }
    if (value === undefined) throw new PatchError(`${op} operation at ${path} needs a value`);
    const tokens = parsePointer(path);
    if (tokens.length === 0) {
      document = value;
      continue;
    }
    const { parent, last } = parentOf(document, tokens, path);
    if (Array.isArray(parent)) {
      const index = last === "-" ? parent.length : Number(last);
      if (op === "replace") parent[index] = value;
      else parent.splice(index, 0, value);
    } else if (isObject(parent)) {
      if (op === "replace" && !(last in parent)) throw new PatchError(`path ${path} does not exist`);
      parent[last] = value;
    } else {
      throw new PatchError(`path ${path} does not exist`);
    }
  }
  return document;
}

function removeAt(document: Json, pointer: string): Json {
  const { parent, last } = parentOf(document, parsePointer(pointer), pointer);
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else if (isObject(parent) && last in parent) delete parent[last];
  else throw new PatchError(`path ${pointer} does not exist`);
  return document;
}
