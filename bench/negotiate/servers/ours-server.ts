import { loadConfig } from '../../../src/config';
import { silentLogger } from '../../../src/http/types';
import { buildNegotiateHandler } from '../../../src/negotiate/from-config';
import { serveCoreHandler } from '../../lib/serve';
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
  serveCoreHandler(NEGOTIATE_PATH, (request) => negotiate(request, silentLogger));
}
