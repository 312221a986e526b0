import { randomUUID } from 'node:crypto';

/**
 * SQL statements grouped by the request they ran for (the server carries the request id, from the
 * `x-request-id` header, to its query hook). Counting one request's statements leaves out the background
 * traffic of the same process: the event tailer's polls, dashboards, badges, another test's requests.
 */
const PREFIX = 'count-';

export class QueryLog {
  private readonly byRequest = new Map<string, string[]>();

  record(sql: string, requestId: string | undefined): void {
    // Only requests sent to be counted (every request has an id; the others are not kept).
    if (!requestId?.startsWith(PREFIX)) return;
    let list = this.byRequest.get(requestId);
    if (!list) this.byRequest.set(requestId, (list = []));
    list.push(sql);
  }

  /** A request id no other request uses. */
  static newRequestId(): string {
    return `${PREFIX}${randomUUID()}`;
  }

  /** The statements run for a request so far, forgotten afterwards. */
  take(requestId: string): string[] {
    const list = this.byRequest.get(requestId) ?? [];
    this.byRequest.delete(requestId);
    return list;
  }
}
