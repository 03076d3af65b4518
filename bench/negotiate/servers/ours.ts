import { serveOurs } from './ours-server';

serveOurs(true);
