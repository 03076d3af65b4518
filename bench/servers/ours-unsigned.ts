import { serveOurWebhook } from '../webhook/our-webhook';

// Measurement only (bench/instructions): our webhook with an authenticator that accepts every request, so
// that the signature check's share of the cost can be told apart. No deployment can build this: the app's
// settings always give the webhook a real authenticator.
serveOurWebhook([{ name: 'accept-all (measurement only)', authenticate: () => undefined }]);
