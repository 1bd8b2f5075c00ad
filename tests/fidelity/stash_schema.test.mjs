// Every GraphQL document plexsync sends validates against Stash's real schema, and every
// response stashsim produces for them is a value of that schema (re-executed through graphql-js).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, parse, validate, execute } from 'graphql';
import { startSim, shared } from './helpers.mjs';

const schemaDir = join(shared, 'stash-schema');
const sdl = [readFileSync(join(schemaDir, 'schema.graphql'), 'utf8'),
  ...readdirSync(join(schemaDir, 'types')).sort().map((f) => readFileSync(join(schemaDir, 'types', f), 'utf8'))].join('\n');
const schema = buildSchema(sdl);
const queries = JSON.parse(execFileSync(process.env.DUMP_QUERIES, { encoding: 'utf8' }));
const variables = {
  findScene: { id: '3' },
  findScenes: { f: { updated_at: { value: '2020-01-01T00:00:00+01:00', modifier: 'GREATER_THAN' } }, p: { page: 1, per_page: 5, sort: 'updated_at', direction: 'ASC' } },
  pluginSettings: { ids: ['PlexSync'] },
  jobQueue: {},
  sceneVersions: { f: { updated_at: { value: '2020-01-01', modifier: 'GREATER_THAN' } }, p: { page: 2, per_page: 4, sort: 'updated_at', direction: 'ASC' } },
};

let sim;
before(async () => { sim = await startSim(process.env.STASHSIM, ['--generate', '12', '--settings', '{"plex_url":"http://127.0.0.1:32400","sync_title":false}']); });
after(async () => { await sim?.stop(); });

for (const { name, query } of queries) {
  test(`${name}: the query is valid for Stash's schema`, () => {
    const errors = validate(schema, parse(query));
    assert.deepEqual(errors.map((e) => e.message), []);
  });

  test(`${name}: stashsim's answer is a value of the schema`, async () => {
    const res = await fetch(`${sim.url}/graphql`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ query, variables: variables[name] }),
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    // Re-execute the same document over the answer: graphql-js checks nullability, enums and
    // scalar types of every field, and must reproduce the answer unchanged.
    const again = await execute({ schema, document: parse(query), rootValue: body.data, variableValues: variables[name] });
    assert.deepEqual(again.errors?.map((e) => e.message) ?? [], []);
    assert.deepEqual(JSON.parse(JSON.stringify(again.data)), body.data);
  });
}

test('a query for a field Stash does not have fails validation', () => {
  assert.ok(validate(schema, parse('query { findScene(id: 1) { colour } }')).length > 0);
});
