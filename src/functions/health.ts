import { app } from '@azure/functions';
import { healthFunction } from './runtime/handlers';

app.http('health', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: healthFunction,
});
