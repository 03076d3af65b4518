import { signatureAuthenticator } from '../../src/events/authentication';
import { ACCESS_KEY } from '../webhook/fixture';
import { serveOurWebhook } from '../webhook/our-webhook';

// Our webhook as deployed in key mode: every event's ce-signature verified under the access key.
serveOurWebhook([signatureAuthenticator([ACCESS_KEY])]);
