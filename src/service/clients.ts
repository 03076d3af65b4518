import { createSecretKey, type KeyObject } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import {
  AzureKeyCredential,
  WebPubSubServiceClient,
  type WebPubSubServiceClientOptions,
} from '@azure/web-pubsub';
import type { ServiceConfig } from '../config';
import { allowsInsecureConnection } from './endpoint';

// Kept here too for the callers that import it with the clients.
export { allowsInsecureConnection };

/**
 * One `WebPubSubServiceClient` per hub for the life of the process, created on first use: the SDK client
 * builds a pipeline and (keyless) a credential, which is too costly to repeat per request.
 */
export interface ServiceClients {
  readonly mode: ServiceConfig['mode'];
  readonly endpoint: URL;
  forHub(hub: string): Promise<WebPubSubServiceClient>;
}

export interface ServiceClientsOptions {
  /** Passed to every client (retries, time-outs); `allowInsecureConnection` is decided here. */
  clientOptions?: WebPubSubServiceClientOptions;
  /** Keyless mode: the credential to use instead of managed identity (tests, local development). */
  credential?: TokenCredential;
}

/**
 * An access key the SDK hands to jsonwebtoken as a secret KeyObject instead of a string.
 *
 * @azure/web-pubsub signs a bearer token for every REST call with jsonwebtoken, which first tries to read a
 * string key as a PEM private key and takes it as a secret only after that attempt throws: about 1 ms of
 * CPU per push (measured here: 1,028 µs per sign with the string, 12 µs with a KeyObject), 10% of the
 * whole local stack's CPU under `npm run load`. The SDK uses `key` for nothing but jsonwebtoken, which
 * accepts a KeyObject wherever it accepts a string; the type says string only because AzureKeyCredential
 * was written for string keys.
 */
class SecretKeyCredential extends AzureKeyCredential {
  #secret: KeyObject;

  constructor(accessKey: string) {
    super(accessKey);
    this.#secret = createSecretKey(Buffer.from(accessKey, 'utf8'));
  }

  override get key(): string {
    return this.#secret as unknown as string;
  }

  override update(accessKey: string): void {
    super.update(accessKey);
    this.#secret = createSecretKey(Buffer.from(accessKey, 'utf8'));
  }
}

function endpointString(endpoint: URL): string {
  // The SDK appends its own paths; a trailing slash would double it.
  return endpoint.origin;
}

/** The credential for keyless mode; `@azure/identity` is loaded only here, so key mode never pays for it. */
async function managedIdentity(clientId: string | undefined): Promise<TokenCredential> {
  const { ManagedIdentityCredential } = await import('@azure/identity');
  return clientId === undefined
    ? new ManagedIdentityCredential()
    : new ManagedIdentityCredential({ clientId });
}

export function createServiceClients(
  config: ServiceConfig,
  options: ServiceClientsOptions = {},
): ServiceClients {
  const clients = new Map<string, Promise<WebPubSubServiceClient>>();
  const clientOptions: WebPubSubServiceClientOptions = {
    ...options.clientOptions,
    allowInsecureConnection: allowsInsecureConnection(config.endpoint),
  };
  let credential: Promise<TokenCredential> | undefined;

  async function create(hub: string): Promise<WebPubSubServiceClient> {
    if (config.mode === 'key') {
      return new WebPubSubServiceClient(
        endpointString(config.endpoint),
        new SecretKeyCredential(config.accessKey),
        hub,
        clientOptions,
      );
    }
    credential ??= options.credential
      ? Promise.resolve(options.credential)
      : managedIdentity(config.managedIdentityClientId);
    return new WebPubSubServiceClient(endpointString(config.endpoint), await credential, hub, clientOptions);
  }

  return {
    mode: config.mode,
    endpoint: config.endpoint,
    forHub(hub: string): Promise<WebPubSubServiceClient> {
      // Hubs are case-insensitive in the service, so `Chat` and `chat` share one client.
      const key = hub.toLowerCase();
      let client = clients.get(key);
      if (client === undefined) {
        client = create(hub);
        // A failed creation (identity not loadable) must not poison the cache for later requests.
        client.catch(() => clients.delete(key));
        clients.set(key, client);
      }
      return client;
    },
  };
}
