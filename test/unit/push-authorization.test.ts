import { CredentialUnavailableError } from '@azure/identity';
import type { CoreRequest } from '../../src/http/types';
import type { VerifiedToken } from '../../src/identity/jwt';
import { ProblemError, unauthorized } from '../../src/protocol/errors';
import { bearerRoleAuthorizer, functionKeyAuthorizer } from '../../src/push/authorization';
import { serviceProblem } from '../../src/service/errors';
import { ServiceThrottledError, retryAfterMs } from '../../src/service/resilience';

function request(authorization: string | null): CoreRequest {
  return {
    method: 'POST',
    url: 'https://app.example/api/hubs/chat/messages',
    headers: { get: (name) => (name === 'authorization' ? authorization : null) },
    readBody: () => Promise.resolve(new Uint8Array(0)),
  };
}

async function refusal(action: Promise<unknown>): Promise<ProblemError> {
  try {
    await action;
  } catch (error) {
    if (error instanceof ProblemError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

/** A verifier that accepts the token "good" with the given claims (jose's checks are tested in identity tests). */
function verifier(claims: Record<string, unknown>) {
  const seen: string[] = [];
  const verify = (token: string): Promise<VerifiedToken> => {
    seen.push(token);
    if (token === 'good') return Promise.resolve({ subject: 'svc', claims });
    if (token === 'down') {
      return Promise.reject(
        new ProblemError(503, 'identity-provider-unavailable', 'Service unavailable', 'keys', {
          'retry-after': '5',
        }),
      );
    }
    return Promise.reject(unauthorized('invalid-token', 'The bearer token was rejected (ERR_JWT_EXPIRED).'));
  };
  return { verify, seen };
}

describe('push authorization', () => {
  it('function-key mode adds no check of its own (the platform checks the key)', async () => {
    await expect(functionKeyAuthorizer.authorize(request(null), 'Messages.Send')).resolves.toBeUndefined();
  });

  it.each([
    ['an Entra roles array', { roles: ['Groups.Manage', 'Messages.Send'] }, 'roles'],
    ['a space-separated string', { scp: 'a Messages.Send b' }, 'scp'],
    ['a nested claim', { realm_access: { roles: ['Messages.Send'] } }, 'realm_access.roles'],
  ])('finds the role in %s', async (_name, claims, claim) => {
    const { verify } = verifier(claims);
    await expect(
      bearerRoleAuthorizer(verify, claim).authorize(request('Bearer good'), 'Messages.Send'),
    ).resolves.toBeUndefined();
  });

  it.each([
    ['no roles claim', {}],
    ['another role', { roles: ['Groups.Manage'] }],
    ['a role that only starts the same', { roles: ['Messages.SendAll'] }],
    ['roles that are not strings', { roles: [['Messages.Send']] }],
    ['a role in the wrong case', { roles: ['messages.send'] }],
  ])('403 for %s', async (_name, claims) => {
    const { verify } = verifier(claims);
    const problem = await refusal(
      bearerRoleAuthorizer(verify, 'roles').authorize(request('Bearer good'), 'Messages.Send'),
    );
    expect([problem.status, problem.code]).toEqual([403, 'missing-role']);
    expect(problem.detail).toContain('"Messages.Send"');
    expect(problem.headers['www-authenticate']).toContain('insufficient_scope');
  });

  it.each([
    [null, 'missing-token'],
    ['', 'missing-token'],
    ['Basic abc', 'invalid-authorization-header'],
    ['Bearer', 'invalid-authorization-header'],
    ['Bearer a b', 'invalid-authorization-header'],
    ['Bearer expired', 'invalid-token'],
  ])('401 for Authorization %j, with a Bearer challenge', async (header, code) => {
    const { verify } = verifier({ roles: ['Messages.Send'] });
    const problem = await refusal(
      bearerRoleAuthorizer(verify, 'roles').authorize(request(header), 'Messages.Send'),
    );
    expect([problem.status, problem.code]).toEqual([401, code]);
    expect(problem.headers['www-authenticate']).toMatch(/^Bearer realm="webpubsub-push"/);
  });

  it('accepts the scheme in any case, as RFC 9110 says', async () => {
    const { verify, seen } = verifier({ roles: ['Messages.Send'] });
    await bearerRoleAuthorizer(verify, 'roles').authorize(request('bearer good'), 'Messages.Send');
    expect(seen).toEqual(['good']);
  });

  it('passes an unreachable issuer on as 503', async () => {
    const { verify } = verifier({});
    const problem = await refusal(
      bearerRoleAuthorizer(verify, 'roles').authorize(request('Bearer down'), 'Messages.Send'),
    );
    expect([problem.status, problem.headers['retry-after']]).toEqual([503, '5']);
  });
});

describe('service failures that only keyless mode or odd answers produce', () => {
  it('a managed identity that cannot give a token is 503 with Retry-After', () => {
    const problem = serviceProblem(new CredentialUnavailableError('no IMDS'), {
      timedOut: false,
      timeoutMs: 3000,
    });
    expect([problem?.status, problem?.code, problem?.headers['retry-after']]).toEqual([
      503,
      'service-credential-unavailable',
      '2',
    ]);
  });

  it('the deadline wins over whatever error the abort produced', () => {
    const problem = serviceProblem(new Error('The operation was aborted.'), {
      timedOut: true,
      timeoutMs: 1234,
    });
    expect([problem?.status, problem?.code]).toEqual([504, 'service-timeout']);
    expect(problem?.detail).toContain('1234 ms');
  });

  it('a throttling answer too long to wait for keeps its hint', () => {
    const problem = serviceProblem(new ServiceThrottledError(429, 42, 'svc-1'), {
      timedOut: false,
      timeoutMs: 3000,
    });
    expect([problem?.status, problem?.headers['retry-after']]).toEqual([503, '42']);
  });

  it('anything else is not a service failure (left to the generic 500)', () => {
    expect(serviceProblem(new TypeError('bug'), { timedOut: false, timeoutMs: 3000 })).toBeUndefined();
  });

  it('reads Retry-After as the SDK does: ms headers first, seconds, or an HTTP date', () => {
    const headers = (entries: Record<string, string>) => ({ get: (name: string) => entries[name] });
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(retryAfterMs(503, headers({ 'retry-after-ms': '150', 'retry-after': '9' }), now)).toBe(150);
    expect(retryAfterMs(429, headers({ 'retry-after': '2' }), now)).toBe(2000);
    expect(retryAfterMs(503, headers({ 'retry-after': 'Tue, 01 Jan 2030 00:00:05 GMT' }), now)).toBe(5000);
    expect(retryAfterMs(500, headers({ 'retry-after': '2' }), now)).toBeUndefined();
    expect(retryAfterMs(503, headers({}), now)).toBeUndefined();
  });
});
