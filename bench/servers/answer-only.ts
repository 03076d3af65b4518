import { CONTENT_TYPE_OF } from '../../src/protocol/events';
import { CloudEventHeader } from '../../src/protocol/headers';
import { serve } from '../lib/serve';
import { CONNECT_REQUEST, EXPECTED_CONNECT_REPLY, USER_EVENT_TEXT } from '../webhook/fixture';

// Measurement only (bench/instructions): reads every body byte and answers each request of the webhook mix
// with the status, headers and body ours answers, prepared once: what answering costs node:http, with no
// protocol work at all. It tells the HTTP share of ours apart from the floor's bodiless 204.
const CONNECT_TYPE = CONNECT_REQUEST.headers[CloudEventHeader.type];
const connectAnswer = JSON.stringify(EXPECTED_CONNECT_REPLY);
const answers = {
  connect: {
    body: connectAnswer,
    headers: {
      'content-type': CONTENT_TYPE_OF.json,
      'content-length': Buffer.byteLength(connectAnswer),
    },
  },
  user: {
    body: USER_EVENT_TEXT,
    headers: {
      'content-type': CONTENT_TYPE_OF.text,
      'content-length': Buffer.byteLength(USER_EVENT_TEXT),
    },
  },
};

serve(() => (req, res) => {
  const answer = req.headers[CloudEventHeader.type] === CONNECT_TYPE ? answers.connect : answers.user;
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, answer.headers);
    res.end(answer.body);
  });
});
