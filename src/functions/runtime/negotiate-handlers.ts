import { getConfig } from '../../config';
import { problemResponse } from '../../http/problem';
import { buildNegotiateHandler } from '../../negotiate/from-config';
import type { NegotiateHandler } from '../../negotiate/handler';
import { serve, type CoreHandler } from './adapter';

// Built on first use and kept for the life of the process: the identity chain (with its cached signing keys
// and verified tokens), the derived token key, and in keyless mode one service client per hub.
let negotiate: NegotiateHandler | undefined;

const handleNegotiate: CoreHandler = async (request, log) => {
  try {
    negotiate ??= buildNegotiateHandler(getConfig());
  } catch (error) {
    return problemResponse(error, log);
  }
  return negotiate(request, log);
};

export const negotiateFunction = serve(handleNegotiate);
