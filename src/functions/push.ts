import { app } from '@azure/functions';
import type { PushOperation } from '../push/api';
import { lazyHandler } from './runtime/lazy';

// The push API's code (and @azure/web-pubsub) loads with its first request, not with every cold start.
const pushFunction = (operation: PushOperation) =>
  lazyHandler(async () => (await import('./runtime/push-handlers.js')).pushFunction(operation));

// The push and management API for other servers (../shared/ARCHITECTURE.md, pinned routes). Every route needs
// the function key; with PushApiAudience set, also a bearer token carrying the operation's app role.

// Messages.
app.http('pushSendToAll', {
  route: 'hubs/{hub}/messages',
  methods: ['POST'],
  authLevel: 'function',
  handler: pushFunction('sendToAll'),
});

app.http('pushSendToUser', {
  route: 'hubs/{hub}/users/{userId}/messages',
  methods: ['POST'],
  authLevel: 'function',
  handler: pushFunction('sendToUser'),
});

app.http('pushSendToGroup', {
  route: 'hubs/{hub}/groups/{group}/messages',
  methods: ['POST'],
  authLevel: 'function',
  handler: pushFunction('sendToGroup'),
});

app.http('pushSendToConnection', {
  route: 'hubs/{hub}/connections/{connectionId}/messages',
  methods: ['POST'],
  authLevel: 'function',
  handler: pushFunction('sendToConnection'),
});

// Group membership.
app.http('pushAddUserToGroup', {
  route: 'hubs/{hub}/groups/{group}/users/{userId}',
  methods: ['PUT'],
  authLevel: 'function',
  handler: pushFunction('addUserToGroup'),
});

app.http('pushRemoveUserFromGroup', {
  route: 'hubs/{hub}/groups/{group}/users/{userId}',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: pushFunction('removeUserFromGroup'),
});

app.http('pushAddConnectionToGroup', {
  route: 'hubs/{hub}/groups/{group}/connections/{connectionId}',
  methods: ['PUT'],
  authLevel: 'function',
  handler: pushFunction('addConnectionToGroup'),
});

app.http('pushRemoveConnectionFromGroup', {
  route: 'hubs/{hub}/groups/{group}/connections/{connectionId}',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: pushFunction('removeConnectionFromGroup'),
});

// Connections: close, exists.
app.http('pushCloseConnection', {
  route: 'hubs/{hub}/connections/{connectionId}',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: pushFunction('closeConnection'),
});

app.http('pushConnectionExists', {
  route: 'hubs/{hub}/connections/{connectionId}',
  methods: ['HEAD'],
  authLevel: 'function',
  handler: pushFunction('connectionExists'),
});

// A user's connections: close all, online?
app.http('pushCloseUserConnections', {
  route: 'hubs/{hub}/users/{userId}/connections',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: pushFunction('closeUserConnections'),
});

app.http('pushUserExists', {
  route: 'hubs/{hub}/users/{userId}/connections',
  methods: ['HEAD'],
  authLevel: 'function',
  handler: pushFunction('userExists'),
});

// A group's connections: close all, exists, list.
app.http('pushCloseGroupConnections', {
  route: 'hubs/{hub}/groups/{group}/connections',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: pushFunction('closeGroupConnections'),
});

app.http('pushGroupExists', {
  route: 'hubs/{hub}/groups/{group}/connections',
  methods: ['HEAD'],
  authLevel: 'function',
  handler: pushFunction('groupExists'),
});

app.http('pushListGroupConnections', {
  route: 'hubs/{hub}/groups/{group}/connections',
  methods: ['GET'],
  authLevel: 'function',
  handler: pushFunction('listGroupConnections'),
});

// A connection's permissions on a group (?targetName=<group>).
app.http('pushGrantPermission', {
  route: 'hubs/{hub}/connections/{connectionId}/permissions/{permission}',
  methods: ['PUT'],
  authLevel: 'function',
  handler: pushFunction('grantPermission'),
});

app.http('pushRevokePermission', {
  route: 'hubs/{hub}/connections/{connectionId}/permissions/{permission}',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: pushFunction('revokePermission'),
});

app.http('pushHasPermission', {
  route: 'hubs/{hub}/connections/{connectionId}/permissions/{permission}',
  methods: ['HEAD'],
  authLevel: 'function',
  handler: pushFunction('hasPermission'),
});
