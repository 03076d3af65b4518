import { getConfig, type Config } from '../../config';
import { problemResponse } from '../../http/problem';
import type { CoreResponse } from '../../http/types';
import { createJwtVerifier } from '../../identity/jwt';
import { createPushApi, type PushApi, type PushOperation } from '../../push/api';
import { bearerRoleAuthorizer, functionKeyAuthorizer, type PushAuthorizer } from '../../push/authorization';
import { buildOpenApiDocument } from '../../push/openapi';
import { createServiceClients } from '../../service/clients';
import { serviceClientOptions } from '../../service/resilience';
import { serve, type CoreHandler } from './adapter';

/** Function key only, or function key plus a bearer token with an app role (PushApiAudience set). */
export function pushAuthorizer(config: Config): PushAuthorizer {
  const bearer = config.push.bearer;
  if (bearer === undefined) return functionKeyAuthorizer;
  return bearerRoleAuthorizer(createJwtVerifier(bearer), config.push.roleClaim);
}

export function buildPushApi(config: Config): PushApi {
  const { push } = config;
  return createPushApi({
    hubs: config.hubs,
    // Clients of their own: the push API's retry and time budget are not negotiate's.
    clients: createServiceClients(config.service, {
      clientOptions: serviceClientOptions(push.serviceTimeoutMs),
    }),
    authorizer: pushAuthorizer(config),
    roles: { send: push.sendRole, manage: push.manageRole },
    serviceTimeoutMs: push.serviceTimeoutMs,
  });
}

// Built on first use: a cold start that serves only the webhook never loads the push API's clients.
let api: PushApi | undefined;

/** The Functions handler of one push operation. */
export function pushFunction(operation: PushOperation) {
  const handler: CoreHandler = async (request, log) => {
    try {
      api ??= buildPushApi(getConfig());
    } catch (error) {
      return problemResponse(error, log);
    }
    return api[operation](request, log);
  };
  return serve(handler);
}

let openApiBody: string | undefined;

// eslint-disable-next-line @typescript-eslint/require-await -- a CoreHandler is async by contract
const handleOpenApi: CoreHandler = async (_request, log): Promise<CoreResponse> => {
  try {
    const { push } = getConfig();
    openApiBody ??= JSON.stringify(
      buildOpenApiDocument({
        roles: { send: push.sendRole, manage: push.manageRole },
        bearer: push.bearer !== undefined,
        serviceTimeoutMs: push.serviceTimeoutMs,
      }),
    );
  } catch (error) {
    return problemResponse(error, log);
  }
  return {
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache' },
    body: openApiBody,
  };
};

export const openApiFunction = serve(handleOpenApi);
