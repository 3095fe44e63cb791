// Runs graphql-http's auditServer (the GraphQL-over-HTTP spec's own audit)
// against the URL given as the first argument, prints every result that is
// not "ok" with the response that caused it, and a summary line; exits 1
// when any audit is not ok (error, warning or notice), 2 when the audit
// itself could not run. Driven by internal/api's TestGraphQLOverHTTPAudit.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}

const results = await auditServer({ url });
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const r of results) {
  counts[r.status]++;
  if (r.status === 'ok') continue;
  let body = '';
  try {
    body = await r.response.text();
  } catch {
    body = '<body already read>';
  }
  console.log(`${r.status.toUpperCase()} ${r.id} ${r.name}`);
  console.log(`  reason: ${r.reason}`);
  console.log(`  response: ${r.response.status} ${r.response.headers.get('content-type') ?? ''} ${body.slice(0, 500)}`);
}
console.log(`audits: ${results.length}, ok: ${counts.ok}, errors: ${counts.error}, warnings: ${counts.warn}, notices: ${counts.notice}`);
process.exit(counts.ok === results.length ? 0 : 1);
