import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { serve } from '../../lib/serve';
import {
  CONNECTION_STRING,
  GROUP,
  HUB,
  LIFETIME_MINUTES,
  ROLES,
  type NegotiateAnswer,
  writeNegotiateAnswer,
} from '../fixture';

// The usual sample (the Web PubSub quickstarts' negotiate): one service client for the process, and a
// token from getClientAccessToken for whatever userId the query string claims. It verifies no caller, so
// it does less than the floor; its cost is the SDK's signing (jsonwebtoken derives the key on every call).
const client = new WebPubSubServiceClient(CONNECTION_STRING, HUB);

serve(() => (req, res) => {
  const userId = new URL(req.url ?? '/', 'http://localhost').searchParams.get('userId') ?? undefined;
  client
    .getClientAccessToken({
      userId,
      roles: ROLES,
      groups: [GROUP],
      expirationTimeInMinutes: LIFETIME_MINUTES,
    })
    .then(
      ({ url, baseUrl, token }) => {
        const answer: NegotiateAnswer = {
          url,
          baseUrl,
          token,
          expiresOn: new Date(Date.now() + LIFETIME_MINUTES * 60_000).toISOString(),
          userId: userId ?? '',
          hub: HUB,
          groups: [GROUP],
          roles: ROLES,
        };
        writeNegotiateAnswer(res, answer);
      },
      () => res.writeHead(500).end(),
    );
});
