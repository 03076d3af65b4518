import { app } from '@azure/functions';
import { lazyHandler } from './runtime/lazy';

// The OpenAPI 3.1 description of every route (push API, negotiate, webhook, health).
app.http('openApiDocument', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: lazyHandler(async () => (await import('./runtime/push-handlers.js')).openApiFunction),
});
