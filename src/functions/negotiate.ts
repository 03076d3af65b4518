import { app } from '@azure/functions';
import { lazyHandler } from './runtime/lazy';

// Client access URLs for browsers: anonymous at the platform level because the caller is a browser, not a
// holder of a function key; the identity chain inside is the gate. OPTIONS answers CORS preflights.
app.http('negotiate', {
  route: 'negotiate',
  methods: ['GET', 'POST', 'OPTIONS'],
  authLevel: 'anonymous',
  handler: lazyHandler(async () => (await import('./runtime/negotiate-handlers.js')).negotiateFunction),
});
