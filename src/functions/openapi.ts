import { app } from '@azure/functions';
import { openApiFunction } from './runtime/push-handlers';

// The OpenAPI 3.1 description of every route (push API, negotiate, webhook, health).
app.http('openApiDocument', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: openApiFunction,
});
