import { app } from '@azure/functions';
import { webhookFunction } from './runtime/handlers';

// The Web PubSub CloudEvents event handler for every configured hub (the hub comes from ce-hub).
app.http('webpubsubEvents', {
  route: 'webpubsub/events',
  methods: ['OPTIONS', 'POST'],
  authLevel: 'function',
  handler: webhookFunction,
});
