import { app } from '@azure/functions';
import { lazyHandler } from './runtime/lazy';

app.http('health', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: lazyHandler(async () => (await import('./runtime/handlers.js')).healthFunction),
});
