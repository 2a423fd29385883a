/**
 * The http method: sends the stage payload as the `value` query parameter or as the body, and
 * returns the response body when the status is one of `successCodes`.
 */
import { readFileSync } from "node:fs";
import { MethodError } from "../errors.ts";
import { truncate } from "../logging.ts";
import { STDOUT_LIMIT_BYTES, describeRun, type MethodRequest, type MethodResult } from "./method.ts";

interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

function readTlsFiles(request: MethodRequest): TlsFiles | undefined {
  const http = request.method.http!;
  const files: TlsFiles = {};
  const read = (label: string, path: string): string => {
    try {
      return readFileSync(path, "utf8");
    } catch (error) {
      throw new MethodError(`${describeRun(request)} failed: cannot read ${label} ${path}: ${(error as Error).message}`, {
        stage: request.stage,
        reason: "http-request",
        cause: error,
      });
    }
  };
  if (http.caCert) files.ca = read("caCert", http.caCert);
  if (http.clientCert) files.cert = read("clientCert", http.clientCert);
  if (http.clientKey) files.key = read("clientKey", http.clientKey);
  return Object.keys(files).length > 0 ? files : undefined;
}

async function readBodyCapped(response: Response, request: MethodRequest): Promise<string> {
  if (response.body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    if (size > STDOUT_LIMIT_BYTES) {
      await response.body.cancel().catch(() => {});
      throw new MethodError(`${describeRun(request)} failed: response body is larger than ${STDOUT_LIMIT_BYTES} bytes`, {
        stage: request.stage,
        reason: "output-limit",
      });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Sends one http method request, or throws MethodError. Request headers never appear in errors. */
export async function runHttp(request: MethodRequest): Promise<MethodResult> {
  const http = request.method.http;
  if (http === undefined) throw new Error(`${request.stage}: http method without an http section`);
  const runName = describeRun(request);
  const started = performance.now();

  const url = new URL(http.url);
  let body: string | undefined;
  if (http.parameterMode === "query") url.searchParams.append("value", request.input);
  else body = request.input;
  const target = `${http.method.toUpperCase()} ${http.url}`;

  const timeout = AbortSignal.timeout(request.method.timeout);
  const signal = request.signal ? AbortSignal.any([timeout, request.signal]) : timeout;
  const tls = readTlsFiles(request);

  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { method: http.method.toUpperCase(), headers: http.headers, body, signal, ...(tls ? { tls } : {}) });
    text = await readBodyCapped(response, request);
  } catch (error) {
    if (error instanceof MethodError) throw error;
    if (timeout.aborted) {
      throw new MethodError(`${runName} timed out after ${request.method.timeout} ms (${target})`, { stage: request.stage, reason: "timeout", cause: error });
    }
    if (request.signal?.aborted) {
      throw new MethodError(`${runName} was cancelled (${target})`, { stage: request.stage, reason: "aborted", cause: error });
    }
    throw new MethodError(`${runName} failed: ${target}: ${(error as Error).message}`, { stage: request.stage, reason: "http-request", cause: error });
  }

  if (!http.successCodes.includes(response.status)) {
    throw new MethodError(
      `${runName} failed: ${target} returned status ${response.status}, expected one of [${http.successCodes.join(", ")}]: ${truncate(text.trim(), 500)}`,
      { stage: request.stage, reason: "http-status", stdout: text },
    );
  }
  return { stdout: text, stderr: "", durationMs: Math.round(performance.now() - started) };
}
