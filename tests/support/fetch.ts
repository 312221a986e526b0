/**
 * `fetch` that tries again when the connection could not be opened in time (undici's 10 s connect timeout).
 * On a starved machine the in-process server and this client share one event loop: after a long stall the
 * timers run before the I/O callbacks, so a connect the kernel completed long ago can still time out. No byte
 * of the request was sent then, so a retry cannot apply anything twice; any other error is thrown as it is,
 * with its cause in the message.
 */
export async function fetchRetryingConnect(url: string | URL, init?: RequestInit): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (err) {
      const code = ((err as { cause?: { code?: string } }).cause ?? {}).code;
      if (code === 'UND_ERR_CONNECT_TIMEOUT' && attempt < 3) continue;
      if (err instanceof Error && code) err.message = `${err.message} (${code})`;
      throw err;
    }
  }
}
