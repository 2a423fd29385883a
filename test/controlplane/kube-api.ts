// A minimal HTTPS client for the test control plane's apiserver, authenticated with the admin client
// certificate. It uses Bun's fetch, whose `tls` option takes the CA and the client key pair.

export interface ApiRequestOptions {
  /** Sent as JSON. */
  body?: unknown;
  /** Defaults to application/json; use application/merge-patch+json and similar for PATCH. */
  contentType?: string;
  /** Extra request headers, such as Authorization to act as another user. */
  headers?: Record<string, string>;
  /** Skips the admin client certificate, so the request is anonymous unless headers authenticate it. */
  withoutClientCertificate?: boolean;
}

export interface ApiResponse {
  readonly status: number;
  /** The parsed JSON body, or undefined when the body is empty or not JSON. */
  readonly body: unknown;
  readonly text: string;
}

/** A response whose status was not one of the expected ones. */
export class KubeApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly responseText: string,
  ) {
    super(`${method} ${path} returned HTTP ${status}: ${responseText.slice(0, 2000)}`);
    this.name = "KubeApiError";
  }
}

export class KubeApiClient {
  constructor(
    readonly server: string,
    private readonly caPem: string,
    private readonly certPem: string,
    private readonly keyPem: string,
  ) {}

  /** Sends one request and returns the response whatever its status. */
  async request(method: string, path: string, options: ApiRequestOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers["Content-Type"] = options.contentType ?? "application/json";
      body = JSON.stringify(options.body);
    }
    const tls = options.withoutClientCertificate
      ? { ca: this.caPem }
      : { ca: this.caPem, cert: this.certPem, key: this.keyPem };
    const response = await fetch(`${this.server}${path}`, { method, headers, body, tls });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed, text };
  }

  /** Sends one request and throws {@link KubeApiError} unless the status is 2xx or in `allowedStatuses`. */
  async requestJson(
    method: string,
    path: string,
    options: ApiRequestOptions & { allowedStatuses?: number[] } = {},
  ): Promise<ApiResponse> {
    const response = await this.request(method, path, options);
    const ok = (response.status >= 200 && response.status < 300) || options.allowedStatuses?.includes(response.status);
    if (!ok) {
      throw new KubeApiError(method, path, response.status, response.text);
    }
    return response;
  }
}
