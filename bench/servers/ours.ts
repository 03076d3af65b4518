import { signatureAuthenticator } from '../../src/events/authentication';
import { createWebhook } from '../../src/events/webhook';
import { fromIncomingMessage, writeCoreResponse } from '../../src/http/node-adapter';
import { silentLogger } from '../../src/http/types';
import { createOriginPolicy } from '../../src/protocol/origins';
import { pathOf, serve } from '../lib/serve';
import { ACCESS_KEY, EVENTS_PATH, HUB, ORIGIN } from '../webhook/fixture';

// Our webhook with everything a deployment has switched on: origin check, ce-signature verification under
// the access key, hub check and bounded bodies; hooks do the same work as the Express server's handlers.
const webhook = createWebhook({
  hubs: [HUB],
  origins: createOriginPolicy([ORIGIN]),
  authenticators: [signatureAuthenticator([ACCESS_KEY])],
  hooks: {
    connect: (event) => ({ userId: event.context.userId ?? 'anonymous', groups: event.query.room ?? [] }),
    userEvent: (event) => (event.dataType === 'text' ? { dataType: 'text', data: event.data } : undefined),
  },
  maxBodyBytes: 1024 * 1024,
  maxStateBytes: 4096,
});

serve((baseUrl) => (req, res) => {
  if (pathOf(req.url) !== EVENTS_PATH) {
    res.writeHead(404).end();
    return;
  }
  webhook(fromIncomingMessage(req, baseUrl), silentLogger).then(
    (response) => writeCoreResponse(res, response),
    () => res.writeHead(500).end(),
  );
});
