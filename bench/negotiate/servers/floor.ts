import { createHmac, createPublicKey, createSecretKey, verify, type KeyObject } from 'node:crypto';
import { serve } from '../../lib/serve';
import {
  ACCESS_KEY,
  AUDIENCE,
  ENDPOINT,
  ENV_ISSUER,
  ENV_JWKS,
  GROUP,
  HUB,
  LIFETIME_MINUTES,
  requiredEnv,
  ROLES,
  type NegotiateAnswer,
  writeNegotiateAnswer,
} from '../fixture';

// The floor: only the irreducible work of a verified negotiate on node:http, with both keys prepared once.
// It checks the caller's RS256 signature with node:crypto (no JWT library), then iss, aud and exp, and signs
// one HS256 client token. No policy, no identity modes, no CORS, no problem documents.
const issuer = requiredEnv(ENV_ISSUER);
const jwk = (JSON.parse(requiredEnv(ENV_JWKS)) as { keys: (Record<string, unknown> & { kid: string })[] })
  .keys[0];
if (jwk === undefined) throw new Error('no key in the JWKS');
const publicKey: KeyObject = createPublicKey({ key: jwk, format: 'jwk' });
const secret: KeyObject = createSecretKey(Buffer.from(ACCESS_KEY, 'utf8'));
const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
const aud = `${ENDPOINT}/client/hubs/${HUB}`;
const baseUrl = `${ENDPOINT.replace(/^http/, 'ws')}/client/hubs/${HUB}`;

function callerOf(authorization: string | undefined): string | undefined {
  if (authorization?.startsWith('Bearer ') !== true) return undefined;
  const [head, body, signature] = authorization.slice(7).split('.');
  if (head === undefined || body === undefined || signature === undefined) return undefined;
  const protectedHeader = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as {
    alg?: string;
    kid?: string;
  };
  if (protectedHeader.alg !== 'RS256' || protectedHeader.kid !== jwk?.kid) return undefined;
  if (!verify('sha256', Buffer.from(`${head}.${body}`), publicKey, Buffer.from(signature, 'base64url'))) {
    return undefined;
  }
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (claims.iss !== issuer || claims.aud !== AUDIENCE) return undefined;
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) return undefined;
  return typeof claims.sub === 'string' ? claims.sub : undefined;
}

serve(() => (req, res) => {
  const userId = callerOf(req.headers.authorization);
  if (userId === undefined) {
    res.writeHead(401, { 'content-length': '0' }).end();
    return;
  }
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + LIFETIME_MINUTES * 60;
  const payload = { role: ROLES, 'webpubsub.group': [GROUP], iat, exp, aud, sub: userId };
  const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const token = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  const answer: NegotiateAnswer = {
    url: `${baseUrl}?access_token=${token}`,
    baseUrl,
    token,
    expiresOn: new Date(exp * 1000).toISOString(),
    userId,
    hub: HUB,
    groups: [GROUP],
    roles: ROLES,
  };
  writeNegotiateAnswer(res, answer);
});
