import type { Logger } from '../http/types';

/** The client protocols a client access URL can be for (`?protocol=`), as @azure/web-pubsub names them. */
export type ClientProtocol = 'default' | 'mqtt' | 'socketio';

export const CLIENT_PROTOCOLS: readonly ClientProtocol[] = ['default', 'mqtt', 'socketio'];

/** What policy granted a caller: exactly what goes into the client access token. */
export interface Grant {
  hub: string;
  userId: string;
  groups: string[];
  roles: string[];
  protocol: ClientProtocol;
  lifetimeMinutes: number;
}

export interface IssuedToken {
  token: string;
  /** The client endpoint without the token (`wss://<host>/client/hubs/<hub>`). */
  baseUrl: string;
  /** `baseUrl?access_token=<token>`: what @azure/web-pubsub-client connects to. */
  url: string;
  expiresOn: Date;
}

/** Turns a grant into a client access token: signed here (key mode) or by the service (keyless). */
export interface ClientTokenIssuer {
  readonly mode: 'key' | 'keyless';
  issue(grant: Grant, log: Logger): IssuedToken | Promise<IssuedToken>;
}

/** The client endpoint path of each protocol, as @azure/web-pubsub's getClientAccessToken builds it. */
export function clientPath(protocol: ClientProtocol, hub: string): string {
  switch (protocol) {
    case 'mqtt':
      return `clients/mqtt/hubs/${hub}`;
    case 'socketio':
      return `clients/socketio/hubs/${hub}`;
    default:
      return `client/hubs/${hub}`;
  }
}
