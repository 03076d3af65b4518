import type { HttpHandler } from '@azure/functions';

/**
 * A handler whose module is loaded on its first invocation. Registration files run at start-up for every
 * function, so anything they import statically is paid by the first request whatever it asks for; behind
 * `import()`, a cold negotiate loads negotiate's code only (and the bundle keeps each handler in its own chunk).
 * A failed load is retried on the next request rather than cached.
 */
export function lazyHandler(load: () => Promise<HttpHandler>): HttpHandler {
  let handler: Promise<HttpHandler> | undefined;
  return async (request, context) => {
    handler ??= load().catch((error: unknown) => {
      handler = undefined;
      throw error;
    });
    return (await handler)(request, context);
  };
}
