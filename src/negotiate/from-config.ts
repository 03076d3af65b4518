import type { TokenCredential } from '@azure/identity';
import type { WebPubSubServiceClientOptions } from '@azure/web-pubsub';
import { ConfigError, type Config } from '../config';
import { anonymousIdentity } from '../identity/anonymous';
import { appServiceIdentity } from '../identity/app-service';
import { bearerIdentity } from '../identity/bearer';
import { createIdentityChain, type IdentityProvider } from '../identity/caller';
import { createJwtVerifier, type JsonWebKeySet } from '../identity/jwt';
import { discoverJwksUri } from '../identity/oidc';
import type { ServiceClients } from '../service/clients';
import { allowsInsecureConnection } from '../service/endpoint';
import { lazyServiceClients } from '../service/lazy-clients';
import { serviceClientOptions } from '../service/resilience';
import { createCorsPolicy } from './cors';
import { createNegotiateHandler, type NegotiateHandler } from './handler';
import { createKeyTokenIssuer } from './key-token';
import { createNegotiatePolicy } from './policy';
import { createServiceTokenIssuer, NEGOTIATE_SERVICE_BUDGET_MS } from './service-token';
import type { ClientTokenIssuer } from './types';

export interface NegotiateBuildOptions {
  /** Keyless mode: the service clients to use (default: one per hub, managed identity). */
  serviceClients?: ServiceClients;
  /** Keyless mode: a credential instead of managed identity, when serviceClients is not given. */
  credential?: TokenCredential;
  clientOptions?: WebPubSubServiceClientOptions;
  /** Bearer mode: a fixed key set instead of the issuer's (tests). */
  jwks?: JsonWebKeySet;
  /** The clock, in milliseconds since the epoch (tests). */
  now?: () => number;
  /** How many verified caller tokens to remember (default 10,000; 0 verifies every request afresh). */
  verifiedTokenCacheEntries?: number;
}

// Enough for every caller active within the cache's lifetime on one instance; about 1 KB each.
const VERIFIED_TOKEN_CACHE_ENTRIES = 10_000;

/** The negotiate handler as configuration describes it; throws ConfigError (500) for what cannot work. */
export function buildNegotiateHandler(config: Config, options: NegotiateBuildOptions = {}): NegotiateHandler {
  const settings = config.negotiate;
  if (settings.identity.length === 0) {
    throw new ConfigError(
      'NegotiateIdentity',
      'is not set: choose how callers are identified (bearer, appservice and/or anonymous)',
    );
  }
  const mapping = {
    userIdClaim: settings.userIdClaim,
    roleClaim: settings.roleClaim,
    groupClaim: settings.groupClaim,
  };
  const providers: IdentityProvider[] = settings.identity.map((mode) => {
    switch (mode) {
      case 'bearer': {
        const bearer = settings.bearer;
        if (bearer === undefined || bearer.issuers.length === 0) {
          throw new ConfigError(
            'NegotiateIssuer',
            'is required for bearer identity (the OpenID Connect issuer URL; under npm start the local host provides its development issuer)',
          );
        }
        if (bearer.audiences.length === 0) {
          throw new ConfigError(
            'NegotiateAudience',
            'is required for bearer identity (the API the tokens are issued for)',
          );
        }
        const verify = createJwtVerifier({
          issuers: bearer.issuers,
          audience: bearer.audiences,
          ...(options.jwks !== undefined
            ? { jwks: options.jwks }
            : { jwksUri: bearer.jwksUri ?? discoverJwksUri(bearer.issuers[0] as string) }),
          cache: { maxEntries: options.verifiedTokenCacheEntries ?? VERIFIED_TOKEN_CACHE_ENTRIES },
          ...(options.now ? { now: options.now } : {}),
        });
        return bearerIdentity(verify, mapping);
      }
      case 'appservice':
        return appServiceIdentity({ platformAuthEnabled: settings.platformAuthEnabled, ...mapping });
      case 'anonymous':
        return anonymousIdentity();
    }
  });

  return createNegotiateHandler({
    identify: createIdentityChain(providers),
    policy: createNegotiatePolicy({
      hubs: config.hubs,
      defaultHub: config.defaultHub,
      allowedGroups: settings.allowedGroups,
      roles: settings.roles,
      groupPermissions: settings.groupPermissions,
      allowHubWideRoles: settings.allowHubWideRoles,
      tokenLifetimeMinutes: settings.tokenLifetimeMinutes,
    }),
    issuer: tokenIssuer(config, options),
    cors: createCorsPolicy(settings.corsOrigins),
  });
}

function tokenIssuer(config: Config, options: NegotiateBuildOptions): ClientTokenIssuer {
  const service = config.service;
  if (service.mode === 'key') {
    // A ws:// URL beyond loopback would carry the client's token in clear text.
    if (service.endpoint.protocol === 'http:' && !allowsInsecureConnection(service.endpoint)) {
      throw new ConfigError(
        'WebPubSubConnectionString',
        'has an http endpoint that is not loopback; client tokens would travel unencrypted',
      );
    }
    return createKeyTokenIssuer(service.endpoint, service.accessKey, options.now);
  }
  const clients =
    options.serviceClients ??
    lazyServiceClients(service, {
      ...(options.credential ? { credential: options.credential } : {}),
      // Bounded retries first; what the caller passes (TLS for tests, say) is added on top.
      clientOptions: { ...serviceClientOptions(NEGOTIATE_SERVICE_BUDGET_MS), ...options.clientOptions },
    });
  return createServiceTokenIssuer(clients, options.now, NEGOTIATE_SERVICE_BUDGET_MS);
}
