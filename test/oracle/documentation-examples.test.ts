/**
 * The requests of the Azure docs' "CloudEvents extension for Azure Web PubSub event handler" page
 * (reference-cloud-events.md), header for header, with the placeholders filled in. Signatures come from
 * the external vector set; the connection state `eyJrZXkiOiJhIn0=` is the page's own example.
 */
import { signatureAuthenticator } from '../../src/events/authentication';
import type { ConnectEvent, EventContext, UserEvent } from '../../src/events/hooks';
import { createWebhook } from '../../src/events/webhook';
import { createOriginPolicy } from '../../src/protocol/origins';
import { bodyText, captureLog, coreRequest, header } from '../support/cloud-events';
import vectors from '../fixtures/signature-vectors.json';

const primary = vectors.vectors[1]!;
const secondaryDigest = '5fa527e76e90ae2751ebb4f79ee781ef0de33471309eb4eb0a5dee225bed5c94'; // same id, other key
const connectionId = primary.connectionId;
const signature = `sha256=${primary.hex},sha256=${secondaryDigest}`;
const DOC_STATE = 'eyJrZXkiOiJhIn0=';

function docHeaders(
  ceType: string,
  eventName: string,
  extra: Record<string, string>,
): Record<string, string> {
  return {
    host: 'xxxxxx',
    'webhook-request-origin': 'xxx.webpubsub.azure.com',
    'ce-specversion': '1.0',
    'ce-type': ceType,
    'ce-source': `/hubs/chat/client/${connectionId}`,
    'ce-id': '1',
    'ce-time': '2021-01-01T00:00:00Z',
    'ce-signature': signature,
    'ce-userid': 'user1',
    'ce-connectionid': connectionId,
    'ce-hub': 'chat',
    'ce-eventname': eventName,
    ...extra,
  };
}

function setup() {
  const seen: {
    connect?: ConnectEvent;
    user?: UserEvent;
    connected?: EventContext;
    disconnected?: [EventContext, string | undefined];
  } = {};
  const webhook = createWebhook({
    hubs: ['chat'],
    origins: createOriginPolicy(['https://xxx.webpubsub.azure.com']),
    // Configured with the primary key only: the header also carries the secondary key's signature.
    authenticators: [signatureAuthenticator([primary.accessKey])],
    maxBodyBytes: 1 << 20,
    maxStateBytes: 4096,
    hooks: {
      connect: (event) => {
        seen.connect = event;
        return undefined;
      },
      userEvent: (event) => {
        seen.user = event;
        return undefined;
      },
      connected: (context) => {
        seen.connected = context;
      },
      disconnected: (context, reason) => {
        seen.disconnected = [context, reason];
      },
    },
  });
  return { webhook, seen, log: captureLog() };
}

describe('the documentation examples of reference-cloud-events.md', () => {
  it('abuse protection: WebHook-Request-Origin xxx.webpubsub.azure.com gets WebHook-Allowed-Origin', async () => {
    const { webhook, log } = setup();
    const response = await webhook(
      coreRequest({ method: 'OPTIONS', headers: { 'webhook-request-origin': 'xxx.webpubsub.azure.com' } }),
      log,
    );
    expect(response.status).toBe(200);
    expect(header(response, 'webhook-allowed-origin')).toBe('xxx.webpubsub.azure.com');
  });

  it('system connect event: claims, query, headers, subprotocols and client certificates reach the hook', async () => {
    const { webhook, seen, log } = setup();
    const body = `{
    "claims": {},
    "query": {},
    "headers": {},
    "subprotocols": [],
    "clientCertificates": [
        {
            "thumbprint": "<certificate SHA-1 thumbprint>",
            "content": "-----BEGIN CERTIFICATE-----\\r\\n...\\r\\n-----END CERTIFICATE-----"
        }
    ]
}`;
    const response = await webhook(
      coreRequest({
        headers: docHeaders('azure.webpubsub.sys.connect', 'connect', {
          'content-type': 'application/json; charset=utf-8',
        }),
        body,
      }),
      log,
    );
    expect(response.status).toBe(204);
    expect(seen.connect?.clientCertificates).toEqual([
      {
        thumbprint: '<certificate SHA-1 thumbprint>',
        content: '-----BEGIN CERTIFICATE-----\r\n...\r\n-----END CERTIFICATE-----',
      },
    ]);
    expect(seen.connect?.subprotocols).toEqual([]);
    expect(seen.connect?.context).toMatchObject({
      hub: 'chat',
      connectionId,
      userId: 'user1',
      eventName: 'connect',
    });
  });

  it('system connected event: {} body, subprotocol abc and the example connection state', async () => {
    const { webhook, seen, log } = setup();
    const response = await webhook(
      coreRequest({
        headers: docHeaders('azure.webpubsub.sys.connected', 'connected', {
          'content-type': 'application/json; charset=utf-8',
          'ce-subprotocol': 'abc',
          'ce-connectionstate': DOC_STATE,
        }),
        body: '{}',
      }),
      log,
    );
    expect(response.status).toBe(204);
    expect(seen.connected?.subprotocol).toBe('abc');
    expect(seen.connected?.state.toJSON()).toEqual({ key: 'a' });
  });

  it('system disconnected event: the reason reaches the hook', async () => {
    const { webhook, seen, log } = setup();
    const response = await webhook(
      coreRequest({
        headers: docHeaders('azure.webpubsub.sys.disconnected', 'disconnected', {
          'content-type': 'application/json; charset=utf-8',
          'ce-subprotocol': 'abc',
          'ce-connectionstate': DOC_STATE,
        }),
        body: '{\n    "reason": "{Reason}"\n}',
      }),
      log,
    );
    expect(response.status).toBe(204);
    expect(seen.disconnected?.[1]).toBe('{Reason}');
  });

  it('user event message of a simple client: a binary frame arrives as bytes', async () => {
    const { webhook, seen, log } = setup();
    const frame = Uint8Array.from([0, 1, 2, 255]);
    const response = await webhook(
      coreRequest({
        headers: docHeaders('azure.webpubsub.user.message', 'message', {
          'content-type': 'application/octet-stream',
          'ce-connectionstate': DOC_STATE,
        }),
        body: frame,
      }),
      log,
    );
    expect(response.status).toBe(204);
    expect(seen.user?.dataType).toBe('binary');
    expect(Buffer.from(seen.user?.data as Uint8Array)).toEqual(Buffer.from(frame));
  });

  it.each([
    ['text', 'text/plain', 'text data', 'text data'],
    ['json', 'application/json', '{\n    "hello": "world"\n}', { hello: 'world' }],
    [
      'binary',
      'application/octet-stream',
      Buffer.from('aGVsbG8gd29ybGQ=', 'base64'),
      Buffer.from('hello world'),
    ],
  ])('custom event of a PubSub client with %s data', async (dataType, contentType, body, expected) => {
    const { webhook, seen, log } = setup();
    const response = await webhook(
      coreRequest({
        headers: docHeaders(
          'azure.webpubsub.user.<event_name>'.replace('<event_name>', 'chat.send'),
          'chat.send',
          {
            'content-type': contentType,
            'ce-source': `/client/${connectionId}`,
            'ce-subprotocol': 'json.webpubsub.azure.v1',
          },
        ),
        body,
      }),
      log,
    );
    expect(response.status).toBe(204);
    expect(seen.user?.dataType).toBe(dataType);
    expect(seen.user?.context.eventName).toBe('chat.send');
    if (dataType === 'binary') expect(Buffer.from(seen.user?.data as Uint8Array)).toEqual(expected);
    else expect(seen.user?.data).toEqual(expected);
  });

  it('the 200 connect example would send an empty subprotocol, which we refuse to put on the wire', async () => {
    const { log } = setup();
    const webhook = createWebhook({
      hubs: ['chat'],
      origins: createOriginPolicy(['xxx.webpubsub.azure.com']),
      authenticators: [signatureAuthenticator([primary.accessKey])],
      maxBodyBytes: 1 << 20,
      maxStateBytes: 4096,
      // The documentation's sample response body, verbatim.
      hooks: { connect: () => ({ groups: [], userId: '', roles: [], subprotocol: '' }) },
    });
    const response = await webhook(
      coreRequest({
        headers: docHeaders('azure.webpubsub.sys.connect', 'connect', { 'content-type': 'application/json' }),
        body: '{"claims":{},"query":{},"headers":{},"subprotocols":[]}',
      }),
      log,
    );
    expect(response.status).toBe(500);
    expect(JSON.parse(bodyText(response))).toMatchObject({
      type: 'urn:webpubsub-functions:problem:hook-failed',
    });
    expect(log.lines.some((line) => line.level === 'error')).toBe(true);
  });
});
