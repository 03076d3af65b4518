import { serve } from '../lib/serve';

// The HTTP floor: what node:http costs for these requests with no application work at all. It still reads
// every body byte, as the two real handlers must.
serve(() => (req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(204);
    res.end();
  });
});
