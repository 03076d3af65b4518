import { app } from '@azure/functions';
import { lazyHandler } from './runtime/lazy';

// The Web PubSub CloudEvents event handler for every configured hub (the hub comes from ce-hub).
app.http('webpubsubEvents', {
  route: 'webpubsub/events',
  methods: ['OPTIONS', 'POST'],
  authLevel: 'function',
  handler: lazyHandler(async () => (await import('./runtime/handlers.js')).webhookFunction),
});
