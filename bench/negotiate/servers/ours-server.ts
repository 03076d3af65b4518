import { loadConfig } from '../../../src/config';
import { fromIncomingMessage, writeCoreResponse } from '../../../src/http/node-adapter';
import { silentLogger } from '../../../src/http/types';
import { buildNegotiateHandler } from '../../../src/negotiate/from-config';
import { pathOf, serve } from '../../lib/serve';
import {
  AUDIENCE,
  CONNECTION_STRING,
  ENV_ISSUER,
  HUB,
  LIFETIME_MINUTES,
  NEGOTIATE_PATH,
  requiredEnv,
} from '../fixture';

/**
 * Our negotiate exactly as a deployment builds it from its settings (key mode, bearer identity with the
 * issuer's keys found by OpenID Connect discovery, group policy, CORS), on plain node:http.
 * `cacheVerifiedTokens: false` makes every request verify the caller's signature afresh.
 */
export function serveOurs(cacheVerifiedTokens: boolean): void {
  const config = loadConfig({
    WebPubSubConnectionString: CONNECTION_STRING,
    WebPubSubHub: HUB,
    NegotiateIdentity: 'bearer',
    NegotiateIssuer: requiredEnv(ENV_ISSUER),
    NegotiateAudience: AUDIENCE,
    NegotiateAllowedGroups: 'room.*',
    NegotiateTokenLifetimeMinutes: String(LIFETIME_MINUTES),
    CorsAllowedOrigins: 'https://chat.example',
  });
  const negotiate = buildNegotiateHandler(
    config,
    cacheVerifiedTokens ? {} : { verifiedTokenCacheEntries: 0 },
  );
  serve((baseUrl) => (req, res) => {
    if (pathOf(req.url) !== NEGOTIATE_PATH) {
      res.writeHead(404).end();
      return;
    }
    negotiate(fromIncomingMessage(req, baseUrl), silentLogger).then(
      (response) => writeCoreResponse(res, response),
      () => res.writeHead(500).end(),
    );
  });
}
