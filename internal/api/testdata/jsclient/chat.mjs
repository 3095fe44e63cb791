// Follows a session's chat with the real graphql-ws (MODE=ws) or graphql-sse
// (MODE=sse) client, written as the README shows, with tokens that expire
// every TOKEN_TTL seconds. Prints one JSON line per message received, per
// reconnect and per close; exits after the message whose body is "END".
//
// Env: URL, SECRET (HS256), CLERK_ID, SESSION, MODE, TOKEN_TTL.
import { createHmac } from 'node:crypto';

const { URL: url, SECRET, CLERK_ID, SESSION, MODE } = process.env;
const ttl = Number(process.env.TOKEN_TTL || '2');
const query = `subscription Chat($id: ID!) { sessionMessages(sessionId: $id) { id body } }`;
const out = (v) => process.stdout.write(JSON.stringify(v) + '\n');

// getToken stands for the app's token source (Clerk's getToken()).
async function getToken() {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: CLERK_ID, iat: now, exp: now + ttl })}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

const sink = (dispose) => ({
  next(result) {
    if (result.errors) {
      out({ errors: result.errors });
      process.exit(1);
    }
    const m = result.data.sessionMessages;
    lastSeen[SESSION] = m.id;
    out({ body: m.body });
    if (m.body === 'END') {
      dispose();
      process.exit(0);
    }
  },
  error(err) {
    out({ error: String(err && (err.reason || err.message || err)) });
    process.exit(1);
  },
  complete() {
    out({ complete: true });
    process.exit(1);
  },
});

// The last message seen, per session: what the client resumes from.
const lastSeen = {};

if (MODE === 'ws') {
  const { createClient } = await import('graphql-ws');
  const { default: WebSocket } = await import('ws');
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: async () => ({ Authorization: 'Bearer ' + (await getToken()), resume: lastSeen }),
    on: {
      connected: () => out({ connected: true }),
      closed: (e) => out({ closed: e.code, reason: e.reason }),
    },
  });
  let dispose = () => {};
  dispose = client.subscribe({ query, variables: { id: SESSION } }, sink(() => dispose()));
} else {
  const { createClient } = await import('graphql-sse');
  const client = createClient({
    url,
    // graphql-sse sees no event ids: the app sends the last one it saw.
    headers: async () => {
      const h = { Authorization: 'Bearer ' + (await getToken()) };
      if (lastSeen[SESSION]) h['Last-Event-ID'] = lastSeen[SESSION];
      return h;
    },
  });
  let dispose = () => {};
  dispose = client.subscribe({ query, variables: { id: SESSION } }, sink(() => dispose()), {
    connecting: (reconnecting) => out({ connecting: true, reconnecting }),
  });
}
