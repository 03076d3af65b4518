import { WebPubSubEventHandler } from '@azure/web-pubsub-express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathOf, serve } from '../lib/serve';
import { EVENTS_PATH, HUB } from '../webhook/fixture';

// The official handler as most apps deploy it. It checks no ce-signature, so it does less than ours.
type ExpressLikeRequest = IncomingMessage & { baseUrl: string; path: string };
type Middleware = (
  req: ExpressLikeRequest,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => Promise<void>;

const handler = new WebPubSubEventHandler(HUB, {
  path: EVENTS_PATH,
  handleConnect(request, response) {
    response.success({ userId: request.context.userId ?? 'anonymous', groups: request.queries?.room ?? [] });
  },
  handleUserEvent(request, response) {
    if (request.dataType === 'text') response.success(request.data, 'text');
    else response.fail(400, 'this benchmark sends text only');
  },
});
// Its declared type comes from express-serve-static-core, which is not installed: only the shape matters.
const middleware = handler.getMiddleware() as unknown as Middleware;

serve(() => (req, res) => {
  // The two fields Express would have set; the middleware matches its path on them.
  const request = Object.assign(req, { baseUrl: '', path: pathOf(req.url) });
  void middleware(request, res, (error) => {
    res.statusCode = error === undefined ? 404 : 500;
    res.end();
  });
});
