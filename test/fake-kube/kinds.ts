/**
 * The kinds the fake API server serves: built-in workloads and pods, plus custom kinds registered
 * by tests, and the discovery documents that describe them.
 */

import { formatSelector } from "./selector.ts";

/** A custom kind, shaped like a CustomResourceDefinition version with an optional scale subresource. */
export interface CustomKindOptions {
  /** `GROUP/VERSION`, such as `example.com/v1`. */
  apiVersion: string;
  kind: string;
  /** Plural resource name, such as `logstashes`. */
  plural: string;
  /** Default true. */
  namespaced?: boolean;
  /** Dotted path of the replica count, like a CRD's `specReplicasPath`. Default `.spec.replicas`. */
  replicasPath?: string;
  /** Like `statusReplicasPath`. Default `.status.replicas`. */
  statusReplicasPath?: string;
  /** Like `labelSelectorPath`; the value there must be a selector string. Default `.status.selector`. */
  selectorPath?: string;
  /** True for a kind without a `/scale` subresource. */
  noScale?: boolean;
}

/** A kind as the fake stores it. */
export interface KindInfo {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  builtin: boolean;
  /** Undefined for kinds without a `/scale` subresource. */
  scale: ScaleMapping | undefined;
}

/** Where a kind keeps the fields that its Scale shows. */
export interface ScaleMapping {
  replicasPath: string;
  statusReplicasPath: string;
  /** Reads `status.selector` of the Scale from the object. */
  selector: (object: Record<string, unknown>) => string;
}

const WORKLOAD_SCALE: ScaleMapping = {
  replicasPath: ".spec.replicas",
  statusReplicasPath: ".status.replicas",
  selector: (object) => formatSelector(getPath(object, ".spec.selector")),
};

const BUILTIN_KINDS: readonly KindInfo[] = [
  { group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true, builtin: true, scale: undefined },
  { group: "", version: "v1", kind: "ReplicationController", plural: "replicationcontrollers", namespaced: true, builtin: true, scale: WORKLOAD_SCALE },
  { group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true, builtin: true, scale: WORKLOAD_SCALE },
  { group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true, builtin: true, scale: WORKLOAD_SCALE },
  { group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", namespaced: true, builtin: true, scale: WORKLOAD_SCALE },
];

/** Reads a dotted path such as `.spec.count`; undefined when any step is missing. */
export function getPath(object: unknown, dotted: string): unknown {
  let value: unknown = object;
  for (const key of dotted.split(".").filter((part) => part !== "")) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Writes a dotted path, creating missing objects on the way. */
export function setPath(object: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split(".").filter((part) => part !== "");
  const last = keys.pop();
  if (last === undefined) throw new Error(`invalid path ${JSON.stringify(dotted)}`);
  let target = object;
  for (const key of keys) {
    const next = target[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) target[key] = {};
    target = target[key] as Record<string, unknown>;
  }
  target[last] = value;
}

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash === -1 ? { group: "", version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** All kinds of one fake server. */
export class KindRegistry {
  private readonly kinds: KindInfo[] = [...BUILTIN_KINDS];

  /** Adds a custom kind; throws when the same group, version and kind or plural exists. */
  register(options: CustomKindOptions): KindInfo {
    const { group, version } = splitApiVersion(options.apiVersion);
    if (group === "") throw new Error("custom kinds need a group: apiVersion must be GROUP/VERSION");
    const clash = this.kinds.find(
      (k) => k.group === group && k.version === version && (k.kind === options.kind || k.plural === options.plural),
    );
    if (clash) throw new Error(`kind ${options.kind} or plural ${options.plural} already exists in ${options.apiVersion}`);
    const selectorPath = options.selectorPath ?? ".status.selector";
    const info: KindInfo = {
      group,
      version,
      kind: options.kind,
      plural: options.plural,
      namespaced: options.namespaced ?? true,
      builtin: false,
      scale: options.noScale
        ? undefined
        : {
            replicasPath: options.replicasPath ?? ".spec.replicas",
            statusReplicasPath: options.statusReplicasPath ?? ".status.replicas",
            selector: (object) => {
              const value = getPath(object, selectorPath);
              return typeof value === "string" ? value : "";
            },
          },
    };
    this.kinds.push(info);
    return info;
  }

  byKind(apiVersion: string, kind: string): KindInfo | undefined {
    const { group, version } = splitApiVersion(apiVersion);
    return this.kinds.find((k) => k.group === group && k.version === version && k.kind === kind);
  }

  byPlural(group: string, version: string, plural: string): KindInfo | undefined {
    return this.kinds.find((k) => k.group === group && k.version === version && k.plural === plural);
  }

  /** Returns the `/apis` document: every non-core group with its versions. */
  groupList(): unknown {
    const groups = new Map<string, string[]>();
    for (const k of this.kinds) {
      if (k.group === "") continue;
      const versions = groups.get(k.group) ?? [];
      if (!versions.includes(k.version)) versions.push(k.version);
      groups.set(k.group, versions);
    }
    return {
      kind: "APIGroupList",
      apiVersion: "v1",
      groups: [...groups].map(([name, versions]) => {
        const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
        return { name, versions: entries, preferredVersion: entries[0] };
      }),
    };
  }

  /** The APIResourceList of one group version, or undefined when no kind is registered there. */
  resourceList(group: string, version: string): unknown {
    const kinds = this.kinds.filter((k) => k.group === group && k.version === version);
    if (kinds.length === 0) return undefined;
    const verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
    const resources: unknown[] = [];
    for (const k of kinds) {
      resources.push({ name: k.plural, singularName: k.kind.toLowerCase(), namespaced: k.namespaced, kind: k.kind, verbs });
      if (k.scale) {
        resources.push({
          name: `${k.plural}/scale`,
          singularName: "",
          namespaced: k.namespaced,
          group: "autoscaling",
          version: "v1",
          kind: "Scale",
          verbs: ["get", "patch", "update"],
        });
      }
      resources.push({ name: `${k.plural}/status`, singularName: "", namespaced: k.namespaced, kind: k.kind, verbs: ["get", "patch", "update"] });
    }
    return { kind: "APIResourceList", apiVersion: "v1", groupVersion: group === "" ? version : `${group}/${version}`, resources };
  }
}
