/** Splits a byte stream into text lines as they arrive. */

/** Calls `onLine` with each complete line of `stream`, without its newline, and resolves at the end of the stream. */
export async function forEachLine(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of stream) {
    buffer += decoder.decode(chunk, { stream: true });
    let index: number;
    while ((index = buffer.indexOf("\n")) >= 0) {
      onLine(buffer.slice(0, index));
      buffer = buffer.slice(index + 1);
    }
  }
  buffer += decoder.decode();
  if (buffer !== "") onLine(buffer);
}

/**
 * Settles like `promise`, or rejects with `message` when `promise` has not settled within `ms`
 * milliseconds. A function `message` is called at the timeout, so it can describe the state then.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string | (() => string)): Promise<T> {
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const text = typeof message === "string" ? message : message();
      reject(new Error(`${text} (timed out after ${ms} ms)`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
