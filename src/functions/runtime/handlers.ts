import { createAppHooks } from '../../app';
import { getConfig, type Config } from '../../config';
import {
  bearerAuthenticator,
  functionKeyAuthenticator,
  signatureAuthenticator,
  type EventAuthenticator,
} from '../../events/authentication';
import { createWebhook, type WebhookHandler } from '../../events/webhook';
import { problemResponse } from '../../http/problem';
import type { CoreResponse } from '../../http/types';
import { createJwtVerifier } from '../../identity/jwt';
import { createOriginPolicy } from '../../protocol/origins';
import { serve, type CoreHandler } from './adapter';

/** How the webhook proves the caller is our service: every configured mechanism, and never none. */
export function webhookAuthenticators(config: Config): EventAuthenticator[] {
  const authenticators: EventAuthenticator[] = [];
  if (config.signatureKeys.length > 0) authenticators.push(signatureAuthenticator(config.signatureKeys));
  if (config.eventHandlerIdentity) {
    const verify = createJwtVerifier(config.eventHandlerIdentity);
    authenticators.push(
      bearerAuthenticator(async (token) => {
        await verify(token);
      }),
    );
  }
  if (authenticators.length === 0) authenticators.push(functionKeyAuthenticator());
  return authenticators;
}

export function buildWebhook(config: Config): WebhookHandler {
  return createWebhook({
    hubs: config.hubs,
    origins: createOriginPolicy(config.webhookOrigins),
    authenticators: webhookAuthenticators(config),
    hooks: createAppHooks(config),
    maxBodyBytes: config.maxEventBytes,
    maxStateBytes: config.maxStateBytes,
  });
}

let webhook: WebhookHandler | undefined;

const handleWebhook: CoreHandler = async (request, log) => {
  try {
    webhook ??= buildWebhook(getConfig());
  } catch (error) {
    return problemResponse(error, log);
  }
  return webhook(request, log);
};

// eslint-disable-next-line @typescript-eslint/require-await -- a CoreHandler is async by contract
const handleHealth: CoreHandler = async (_request, log): Promise<CoreResponse> => {
  let body: unknown;
  try {
    const config = getConfig();
    body = {
      status: 'ok',
      serviceMode: config.service.mode,
      endpoint: config.service.endpoint.origin,
      defaultHub: config.defaultHub,
      hubs: config.hubs,
      webhookAuthentication: webhookAuthenticators(config).map((authenticator) => authenticator.name),
      // What protects each entry point, so an operator can see a misconfiguration without reading settings.
      negotiateIdentity: config.negotiate.identity,
      pushAuthorization: config.push.bearer === undefined ? ['function-key'] : ['function-key', 'app-role'],
    };
  } catch (error) {
    return problemResponse(error, log);
  }
  return {
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
};

export const webhookFunction = serve(handleWebhook);
export const healthFunction = serve(handleHealth);
