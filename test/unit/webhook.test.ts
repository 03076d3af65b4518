import { signatureAuthenticator } from '../../src/events/authentication';
import { rejectConnect, type WebhookHooks } from '../../src/events/hooks';
import { createWebhook } from '../../src/events/webhook';
import { badRequest } from '../../src/protocol/errors';
import { createOriginPolicy } from '../../src/protocol/origins';
import {
  ACCESS_KEY,
  bodyText,
  captureLog,
  connectBody,
  coreRequest,
  eventHeaders,
  header,
  ORIGIN,
  PRIMARY,
} from '../support/cloud-events';

function webhookWith(hooks: WebhookHooks, maxStateBytes = 4096) {
  return createWebhook({
    hubs: ['chat'],
    origins: createOriginPolicy([ORIGIN]),
    authenticators: [signatureAuthenticator([ACCESS_KEY])],
    hooks,
    maxBodyBytes: 1 << 16,
    maxStateBytes,
  });
}

const connect = (overrides: Record<string, string | undefined> = {}, body: unknown = connectBody()) =>
  coreRequest({ headers: eventHeaders('connect', overrides), body: JSON.stringify(body) });

const problemCode = (body: string): unknown => (JSON.parse(body) as { type: string }).type.split(':').pop();

describe('webhook engine', () => {
  it('refuses to exist without an authenticator (keyless is never accept-all)', () => {
    expect(() =>
      createWebhook({
        hubs: ['chat'],
        origins: createOriginPolicy([ORIGIN]),
        authenticators: [],
        hooks: {},
        maxBodyBytes: 1,
        maxStateBytes: 1,
      }),
    ).toThrow(/at least one authenticator/);
  });

  it('accepts a connect with no hook as 204 (token defaults)', async () => {
    const response = await webhookWith({})(connect(), captureLog());
    expect(response.status).toBe(204);
    expect(header(response, 'ce-connectionState')).toBeUndefined();
  });

  it('answers a connect result as JSON and writes state only when a hook changed it', async () => {
    const webhook = webhookWith({
      connect: ({ context }) => {
        context.state.set('joinedAt', 5);
        return { userId: 'alice', groups: ['lobby'] };
      },
    });
    const response = await webhook(connect(), captureLog());
    expect(response.status).toBe(200);
    expect(header(response, 'content-type')).toBe('application/json; charset=utf-8');
    expect(JSON.parse(bodyText(response))).toEqual({ userId: 'alice', groups: ['lobby'] });
    expect(JSON.parse(Buffer.from(header(response, 'ce-connectionState')!, 'base64').toString())).toEqual({
      joinedAt: 5,
    });
  });

  it('passes a typed rejection through with its status, and no state', async () => {
    const webhook = webhookWith({
      connect: ({ context }) => {
        context.state.set('x', 1);
        return rejectConnect(403, 'not in the allowed tenant');
      },
    });
    const response = await webhook(connect(), captureLog());
    expect(response.status).toBe(403);
    expect(problemCode(bodyText(response))).toBe('connect-rejected');
    expect(JSON.parse(bodyText(response)).detail).toBe('not in the allowed tenant');
    expect(header(response, 'ce-connectionState')).toBeUndefined();
  });

  it('turns a throwing connect hook into a 500 without its message, logged with the event identity', async () => {
    const log = captureLog();
    const webhook = webhookWith({
      connect: () => {
        throw new Error('database password is hunter2');
      },
    });
    const response = await webhook(connect({ 'ce-id': '42' }), log);
    expect(response.status).toBe(500);
    expect(bodyText(response)).not.toContain('hunter2');
    const failure = log.lines.find((line) => line.level === 'error');
    expect(failure?.fields).toMatchObject({ ceId: '42', connectionId: PRIMARY.connectionId });
    expect(String(failure?.fields?.error)).toContain('hunter2');
  });

  it('lets a hook refuse with its own 4xx problem', async () => {
    const webhook = webhookWith({
      userEvent: () => {
        throw badRequest('message-too-long', 'Messages are at most 10 characters.');
      },
    });
    const response = await webhook(
      coreRequest({ headers: eventHeaders('user.message'), body: 'far too long a message' }),
      captureLog(),
    );
    expect(response.status).toBe(400);
    expect(problemCode(bodyText(response))).toBe('message-too-long');
  });

  it('refuses a connect result that would break the handshake (subprotocol not offered)', async () => {
    const log = captureLog();
    const response = await webhookWith({ connect: () => ({ subprotocol: 'not-offered' }) })(connect(), log);
    expect(response.status).toBe(500);
    expect(log.lines.some((line) => String(line.fields?.error).includes('not offered'))).toBe(true);
  });

  it('bounds the connection state a hook writes', async () => {
    const log = captureLog();
    const webhook = webhookWith(
      {
        userEvent: ({ context }) => {
          context.state.set('big', 'x'.repeat(200));
          return undefined;
        },
      },
      128,
    );
    const response = await webhook(coreRequest({ headers: eventHeaders('user.message'), body: 'hi' }), log);
    expect(response.status).toBe(500);
    expect(log.lines.some((line) => String(line.fields?.error).includes('over the limit of 128'))).toBe(true);
  });

  it.each([
    ['text', 'text/plain; charset=utf-8', 'pong', 'pong'],
    ['json', 'application/json; charset=utf-8', { ok: true }, '{"ok":true}'],
  ] as const)('replies to a user event with %s data', async (dataType, contentType, data, wire) => {
    const webhook = webhookWith({ userEvent: () => ({ dataType, data }) as never });
    const response = await webhook(
      coreRequest({ headers: eventHeaders('user.ping'), body: 'ping' }),
      captureLog(),
    );
    expect(response.status).toBe(200);
    expect(header(response, 'content-type')).toBe(contentType);
    expect(bodyText(response)).toBe(wire);
  });

  it('replies with binary data as application/octet-stream bytes', async () => {
    const webhook = webhookWith({
      userEvent: () => ({ dataType: 'binary', data: Uint8Array.from([1, 2, 3]) }),
    });
    const response = await webhook(
      coreRequest({ headers: eventHeaders('user.ping'), body: 'x' }),
      captureLog(),
    );
    expect(header(response, 'content-type')).toBe('application/octet-stream');
    expect(Buffer.from(response.body as Uint8Array)).toEqual(Buffer.from([1, 2, 3]));
  });

  it('treats a reply whose data does not match its type as the application fault it is', async () => {
    const webhook = webhookWith({ userEvent: () => ({ dataType: 'binary', data: 'not bytes' }) as never });
    const response = await webhook(
      coreRequest({ headers: eventHeaders('user.ping'), body: 'x' }),
      captureLog(),
    );
    expect(response.status).toBe(500);
  });

  it('awaits the connected hook before acknowledging', async () => {
    const order: string[] = [];
    let finish!: () => void;
    const hookDone = new Promise<void>((resolve) => (finish = resolve));
    const webhook = webhookWith({
      connected: async () => {
        await hookDone;
        order.push('hook finished');
      },
    });
    const pending = webhook(
      coreRequest({ headers: eventHeaders('connected'), body: '{}' }),
      captureLog(),
    ).then((r) => {
      order.push('answered');
      return r;
    });
    await Promise.resolve();
    order.push('released');
    finish();
    expect((await pending).status).toBe(204);
    expect(order).toEqual(['released', 'hook finished', 'answered']);
  });

  it('logs a failing disconnected hook with the event identity and still acknowledges', async () => {
    const log = captureLog();
    const webhook = webhookWith({
      disconnected: () => Promise.reject(new Error('presence store down')),
    });
    const response = await webhook(
      coreRequest({ headers: eventHeaders('disconnected', { 'ce-id': '7' }), body: '{"reason":"Normal"}' }),
      log,
    );
    expect(response.status).toBe(204);
    const failure = log.lines.find((line) => line.level === 'error');
    expect(failure?.message).toContain('disconnected');
    expect(failure?.fields).toMatchObject({ ceId: '7', event: 'disconnected' });
    expect(String(failure?.fields?.error)).toContain('presence store down');
  });

  it('warns when a notification hook sets state the service will ignore', async () => {
    const log = captureLog();
    const webhook = webhookWith({ connected: ({ state }) => state.set('a', 1) });
    const response = await webhook(coreRequest({ headers: eventHeaders('connected'), body: '{}' }), log);
    expect(header(response, 'ce-connectionState')).toBeUndefined();
    expect(log.lines.some((line) => line.level === 'warn' && line.message.includes('ignored'))).toBe(true);
  });

  it('gives hooks the user id as UTF-8 even when the host decoded the header as latin1', async () => {
    let seen: string | undefined;
    const webhook = webhookWith({
      connected: ({ userId }) => {
        seen = userId;
      },
    });
    const latin1 = Buffer.from('José-用户', 'utf8').toString('latin1');
    await webhook(
      coreRequest({ headers: eventHeaders('connected', { 'ce-userid': latin1 }), body: '{}' }),
      captureLog(),
    );
    expect(seen).toBe('José-用户');
  });

  it('recognises an MQTT connection (ce-subprotocol mqtt with a physical connection id)', async () => {
    let protocol: unknown;
    const webhook = webhookWith({
      connected: (context) => {
        protocol = [context.clientProtocol, context.mqtt];
      },
    });
    await webhook(
      coreRequest({
        headers: eventHeaders('connected', {
          'ce-subprotocol': 'mqtt',
          'ce-physicalconnectionid': 'p1',
          'ce-sessionid': 's1',
        }),
        body: '{}',
      }),
      captureLog(),
    );
    expect(protocol).toEqual(['mqtt', { physicalConnectionId: 'p1', sessionId: 's1' }]);
  });

  it('authenticates before revealing which hubs it serves', async () => {
    const response = await webhookWith({})(
      connect({ 'ce-hub': 'secretHub', 'ce-signature': 'sha256=' + '00'.repeat(32) }),
      captureLog(),
    );
    expect(response.status).toBe(401);
  });

  it('never writes the signature or the access key to its logs', async () => {
    const log = captureLog();
    const webhook = webhookWith({
      connect: () => {
        throw new Error('boom');
      },
    });
    await webhook(connect(), log);
    await webhook(connect({ 'ce-signature': 'sha256=' + 'ab'.repeat(32) }), log);
    const text = JSON.stringify(log.lines);
    expect(log.lines.length).toBeGreaterThan(1);
    expect(text).not.toContain(ACCESS_KEY);
    expect(text).not.toContain(PRIMARY.hex);
    expect(text).not.toContain('ab'.repeat(32));
  });
});
