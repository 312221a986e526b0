import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Router, type Request, type Response, type NextFunction } from 'express';
import { ServerCloseCode } from '../realtime/close-codes';

/**
 * The GraphQL IDE, served from installed packages (GraphiQL, React, graphql-ws UMD builds): no CDN, so
 * air-gapped installs work. Browsers asking for HTML at the endpoint get the page; everything else falls
 * through to Apollo.
 */
const ASSETS: Record<string, { module: string; file: string; type: string }> = {
  'react.js': { module: 'react', file: 'umd/react.production.min.js', type: 'text/javascript' },
  'react-dom.js': { module: 'react-dom', file: 'umd/react-dom.production.min.js', type: 'text/javascript' },
  'graphiql.js': { module: 'graphiql', file: 'graphiql.min.js', type: 'text/javascript' },
  'graphiql.css': { module: 'graphiql', file: 'graphiql.min.css', type: 'text/css' },
  'graphql-ws.js': { module: 'graphql-ws', file: 'umd/graphql-ws.min.js', type: 'text/javascript' },
};

function assetPath(name: string): string {
  const asset = ASSETS[name]!;
  const pkg = require.resolve(`${asset.module}/package.json`, { paths: [process.cwd(), __dirname] });
  return path.join(path.dirname(pkg), asset.file);
}

const DEFAULT_QUERY = `# Welcome to Switchboard.
#
# Log in (the demo credentials are printed at the first start):
#   mutation { login(email: "owner@demo.switchboard.test", password: "...") { token } }
# then open Headers below and paste: {"Authorization": "Bearer <token>"}
# Subscriptions run over graphql-ws on this same URL with the same header.

{ __typename }
`;

/** Runs in the browser: HTTP for queries and mutations, graphql-ws for subscriptions, headers from the editor. */
function bootstrap(endpoint: string): string {
  return `
(function () {
  var endpoint = ${JSON.stringify(endpoint)};
  var wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + endpoint;
  var clients = {};
  function wsClientFor(authorization) {
    var key = authorization || '';
    if (!clients[key]) {
      // One quick retry: a refused socket is reported in a second or two, not after a long backoff.
      clients[key] = graphqlWs.createClient({ url: wsUrl, lazy: true, retryAttempts: 1, connectionParams: authorization ? { authorization: authorization } : {} });
    }
    return clients[key];
  }
  // graphql-ws hands a failed socket to the sink as a bare browser Event or CloseEvent, which GraphiQL would
  // print as {"isTrusted":true}: say in words what happened and what to check.
  function socketFailure(e) {
    if (Array.isArray(e)) return e;
    if (e instanceof Error) return [{ message: 'Subscription failed: ' + e.message }];
    var reason = e && e.reason ? ' (' + e.reason + ')' : '';
    if (e && e.code === ${ServerCloseCode.FORBIDDEN}) {
      return [{ message: 'The server refused the subscription socket: the credential is not valid (${ServerCloseCode.FORBIDDEN}' + reason + '). Check the Authorization header in the Headers tab.' }];
    }
    if (e && typeof e.code === 'number' && e.code !== 1006) {
      return [{ message: 'The subscription socket to ' + wsUrl + ' was closed by the server with code ' + e.code + reason + '.' }];
    }
    return [{ message: 'Could not open the subscription socket to ' + wsUrl + ': the server refused it or cannot be reached. ' +
      'The server accepts sockets from pages at its PUBLIC_URL and ALLOWED_ORIGINS (and, outside production, at localhost, ' +
      '127.0.0.1 and [::1] on its port); this page is ' + location.origin + '.' }];
  }
  function isSubscription(params) {
    var q = String(params.query || '').replace(/#[^\\n]*/g, '');
    if (params.operationName) {
      var m = new RegExp('\\\\b(query|mutation|subscription)\\\\s+' + params.operationName + '\\\\b').exec(q);
      if (m) return m[1] === 'subscription';
    }
    return /^\\s*subscription\\b/.test(q);
  }
  function fetcher(params, opts) {
    var headers = (opts && opts.headers) || {};
    var authorization = headers.Authorization || headers.authorization;
    if (isSubscription(params)) {
      return {
        subscribe: function (observer) {
          var dispose = wsClientFor(authorization).subscribe(params, {
            next: function (v) { observer.next && observer.next(v); },
            error: function (e) {
              observer.next && observer.next({ errors: socketFailure(e) });
              observer.complete && observer.complete();
            },
            complete: function () { observer.complete && observer.complete(); }
          });
          return { unsubscribe: dispose };
        }
      };
    }
    var h = Object.assign({ 'content-type': 'application/json', accept: 'application/json' }, headers);
    return fetch(endpoint, { method: 'POST', headers: h, body: JSON.stringify(params) }).then(function (r) { return r.json(); });
  }
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultQuery: ${JSON.stringify(DEFAULT_QUERY)},
    headerEditorEnabled: true,
    shouldPersistHeaders: true
  }));
})();
`;
}

function page(endpoint: string, nonce: string): string {
  const base = `${endpoint}/ide/assets`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard GraphQL IDE</title>
<link rel="stylesheet" href="${base}/graphiql.css">
<style nonce="${nonce}">html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading the IDE…</div>
<script src="${base}/react.js"></script>
<script src="${base}/react-dom.js"></script>
<script src="${base}/graphql-ws.js"></script>
<script src="${base}/graphiql.js"></script>
<script nonce="${nonce}">${bootstrap(endpoint)}</script>
</body>
</html>`;
}

function wantsHtml(req: Request): boolean {
  return (req.headers.accept ?? '').includes('text/html') && req.query.query === undefined;
}

export function ideRouter(opts: { endpointPath: string }): Router {
  const router = Router();
  const endpoint = opts.endpointPath;

  router.get(endpoint, (req: Request, res: Response, next: NextFunction) => {
    if (!wantsHtml(req)) return next();
    const nonce = randomBytes(16).toString('base64');
    res.setHeader(
      'content-security-policy',
      [
        "default-src 'self'",
        `script-src 'self' 'nonce-${nonce}'`,
        // GraphiQL sets inline styles on its panes.
        "style-src 'self' 'unsafe-inline'",
        `connect-src 'self' ws://${req.headers.host ?? ''} wss://${req.headers.host ?? ''}`,
        "img-src 'self' data:",
        "font-src 'self' data:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
      ].join('; '),
    );
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.type('html').send(page(endpoint, nonce));
  });

  router.get(`${endpoint}/ide/assets/:file`, (req: Request, res: Response) => {
    const name = String(req.params.file);
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) {
      res.status(404).json({ errors: [{ message: 'Not found', extensions: { code: 'NOT_FOUND' } }] });
      return;
    }
    res.setHeader('content-type', `${asset.type}; charset=utf-8`);
    res.setHeader('cache-control', 'public, max-age=86400');
    res.setHeader('x-content-type-options', 'nosniff');
    fs.createReadStream(assetPath(name)).on('error', () => res.destroy()).pipe(res);
  });

  return router;
}
