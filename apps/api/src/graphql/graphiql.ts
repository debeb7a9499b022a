import {
  css,
  editorWorkerService,
  favicon,
  graphqlWorker,
  js,
  jsonWorker,
} from '@graphql-yoga/render-graphiql/graphiql';
import type { GraphiQLOptions } from 'graphql-yoga';

/** Where the console keeps the key it signed in with (apps/web/src/session.tsx), same origin as GraphiQL. */
export const CONSOLE_KEY_STORAGE = 'clipwire.apiKey';

/**
 * GraphiQL served whole by the API — its scripts, styles and editor workers inlined from
 * @graphql-yoga/render-graphiql, nothing from a CDN, so it works offline and behind proxies — and
 * signed in: the page takes the key the console signed in with (or, on this machine in sandbox mode,
 * the sandbox key from /console/config.json) and sends it on every HTTP request (the schema's
 * introspection included) and as the WebSocket's connectionParams, so subscriptions work too; the
 * Headers editor is pre-filled with it.
 */
export function renderGraphiQL(options: GraphiQLOptions): string {
  const { headers: _headers, ...rest } = options;
  const json = JSON.stringify(rest);
  // About 9 MB of inlined bundle: made once per set of options (yoga's are the same on every request).
  if (cached?.json !== json) cached = { json, page: page(json) };
  return cached.page;
}

let cached: { json: string; page: string } | undefined;

function page(optionsJson: string): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Clipwire GraphiQL</title>
    <link rel="icon" href="${favicon}" />
    <style>${css}</style>
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run GraphiQL.</noscript>
    <div id="root"></div>
    <script>
      const blobUrl = (source) => URL.createObjectURL(new Blob([source], { type: 'application/javascript' }));
      const workers = {
        editorWorkerService: blobUrl(${JSON.stringify(editorWorkerService)}),
        json: blobUrl(${JSON.stringify(jsonWorker)}),
        graphql: blobUrl(${JSON.stringify(graphqlWorker)}),
      };
      self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_id, label) => workers[label] };
      ${js};
      (async () => {
        let key = null;
        try { key = localStorage.getItem(${JSON.stringify(CONSOLE_KEY_STORAGE)}); } catch {}
        if (!key) {
          const config = await fetch('/console/config.json').then((r) => r.json()).catch(() => ({}));
          key = config.sandboxApiKey ?? null;
        }
        const options = ${optionsJson};
        if (key) {
          const authorization = 'Bearer ' + key;
          options.additionalHeaders = { authorization };
          options.connectionParams = { authorization };
          // Shown in the Headers editor too, so the developer sees which key the requests carry and can change it.
          options.headers = JSON.stringify({ authorization }, null, 2);
        }
        YogaGraphiQL.renderYogaGraphiQL(document.querySelector('#root'), options);
      })();
    </script>
  </body>
</html>`;
}
