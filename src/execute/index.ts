/** Method runner that dispatches on the method type. */
import { runHttp } from "./http.ts";
import type { MethodRunner } from "./method.ts";
import { runShell } from "./shell.ts";

export type { MethodRequest, MethodResult, MethodRunner } from "./method.ts";

/** Returns the runner used in production: shell methods as child processes, http methods with fetch. */
export function createMethodRunner(): MethodRunner {
  return {
    run: (request) => (request.method.type === "http" ? runHttp(request) : runShell(request)),
  };
}
