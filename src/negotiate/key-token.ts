import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { clientPath, type ClientTokenIssuer, type Grant, type IssuedToken } from './types';

// {"alg":"HS256","typ":"JWT"}, the header jsonwebtoken writes for the SDK; constant, so encoded once.
const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

/**
 * Key mode: client access tokens signed here, as @azure/web-pubsub's getClientAccessToken signs them (HS256,
 * keyed with the UTF-8 bytes of the access key; claims `role`, `webpubsub.group`, `iat`, `exp`, `aud`, `sub`
 * in that order), without a network call.
 *
 * Why node:crypto and not jose's SignJWT or the SDK: the SDK's jsonwebtoken re-derives the key from the
 * string secret on every call (~560 µs of CPU per token), and jose signs through the asynchronous WebCrypto
 * API (~150 µs); an HMAC over a cached KeyObject is ~6 µs. Signing is the easy half of JWT: nothing here
 * parses or trusts input, so the hand-written part is one HMAC and two base64url strings (the test suite
 * checks the result against the SDK's own token and verifies it with jose).
 */
export function createKeyTokenIssuer(
  endpoint: URL,
  accessKey: string,
  now: () => number = Date.now,
): ClientTokenIssuer {
  // Derived once for the life of the process.
  const key: KeyObject = createSecretKey(Buffer.from(accessKey, 'utf8'));
  // The audience uses the http(s) endpoint, the URL the ws(s) one (as the SDK does).
  const httpBase = `${endpoint.origin}/`;
  const wsBase = httpBase.replace(/^http/, 'ws');

  return {
    mode: 'key',
    issue(grant: Grant): IssuedToken {
      const path = clientPath(grant.protocol, grant.hub);
      const iat = Math.floor(now() / 1000);
      const exp = iat + grant.lifetimeMinutes * 60;
      const claims: Record<string, unknown> = {
        role: grant.roles,
        'webpubsub.group': grant.groups,
        iat,
        exp,
        aud: httpBase + path,
      };
      if (grant.userId !== '') claims.sub = grant.userId;
      const signingInput = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      const token = `${signingInput}.${createHmac('sha256', key).update(signingInput).digest('base64url')}`;
      const baseUrl = wsBase + path;
      return { token, baseUrl, url: `${baseUrl}?access_token=${token}`, expiresOn: new Date(exp * 1000) };
    },
  };
}
