// Cross-language check of `ramp serve`: evaluates cases with the stock
// OpenFeature Node.js server SDK and its OFREP provider, and compares each
// answer with what `ramp eval` said.
//
//   RAMP_URL=http://127.0.0.1:8080 RAMP_KEY=ramp_sdk_… node check.mjs cases.jsonl
//
// Each line of cases.jsonl: {"flag", "type" (boolean|string|number|object),
// "default", "context", "want": {"value", "variant", "reason", "errorCode"}}.
// Exits 0 when every case agrees.
import { readFileSync } from 'node:fs';
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const [, , casesFile] = process.argv;
const baseUrl = process.env.RAMP_URL;
const key = process.env.RAMP_KEY;
if (!casesFile || !baseUrl) {
  console.error('usage: RAMP_URL=… RAMP_KEY=… node check.mjs cases.jsonl');
  process.exit(2);
}

const headers = key ? [['Authorization', `Bearer ${key}`]] : [];
await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl, headers }));
const client = OpenFeature.getClient('ramp-check');

const lookups = {
  boolean: (f, d, c) => client.getBooleanDetails(f, d, c),
  string: (f, d, c) => client.getStringDetails(f, d, c),
  number: (f, d, c) => client.getNumberDetails(f, d, c),
  object: (f, d, c) => client.getObjectDetails(f, d, c),
};

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
let passed = 0;
let failed = 0;
const lines = readFileSync(casesFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
for (const [i, line] of lines.entries()) {
  const c = JSON.parse(line);
  const got = await lookups[c.type](c.flag, c.default, c.context);
  const problems = [];
  if (!same(got.value, c.want.value)) problems.push(`value ${JSON.stringify(got.value)} != ${JSON.stringify(c.want.value)}`);
  if ((got.variant ?? '') !== (c.want.variant ?? '')) problems.push(`variant ${got.variant} != ${c.want.variant}`);
  if (got.reason !== c.want.reason) problems.push(`reason ${got.reason} != ${c.want.reason}`);
  if ((got.errorCode ?? '') !== (c.want.errorCode ?? '')) problems.push(`errorCode ${got.errorCode} != ${c.want.errorCode}`);
  if (problems.length > 0) {
    failed++;
    if (failed <= 20) console.log(`case ${i + 1} ${c.flag} ${JSON.stringify(c.context)}: ${problems.join('; ')}`);
  } else {
    passed++;
  }
}
await OpenFeature.close();
console.log(`node OFREP check: ${passed} agree, ${failed} disagree`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
