// Every GraphQL document plexsync sends validates against Stash's real schema, and every
// response stashsim produces for them is a value of that schema (re-executed through graphql-js).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, parse, validate, execute } from 'graphql';
import { startSim, dataPath } from './helpers.mjs';

const schemaDir = dataPath('stash-schema');
const schemaOf = (dir) => buildSchema([readFileSync(join(dir, 'schema.graphql'), 'utf8'),
  ...readdirSync(join(dir, 'types')).sort().map((f) => readFileSync(join(dir, 'types', f), 'utf8'))].join('\n'));
const schema = schemaOf(schemaDir);
// What plexsync sends to a Stash reporting this version (its own choice of movies or groups).
const queriesFor = (version) => JSON.parse(execFileSync(process.env.DUMP_QUERIES, [version], { encoding: 'utf8' }));
// develop reports a `git describe` version after its last tag; '' is a Stash whose version is unknown.
const developVersion = 'v0.30.1-44-gcf3489efd';
const queries = queriesFor(developVersion);

// Every release users still run, and develop: each document validates against that release's SDL.
const releases = readdirSync(join(schemaDir, 'versions')).filter((d) => d.startsWith('v')).sort();
test('the schemas of seven Stash versions are checked', () => {
  assert.deepEqual(releases, ['v0.25.1', 'v0.26.2', 'v0.27.2', 'v0.28.1', 'v0.29.3', 'v0.30.1']);
});
for (const [release, dir, versions] of [...releases.map((r) => [r, join(schemaDir, 'versions', r), [r]]),
  ['develop', schemaDir, [developVersion, '']]]) {
  const releaseSchema = schemaOf(dir);
  for (const version of versions) {
    for (const { name, query } of queriesFor(version)) {
      test(`${release} (reported as "${version}"): ${name} is valid for its schema`, () => {
        assert.deepEqual(validate(releaseSchema, parse(query)).map((e) => e.message), []);
      });
    }
  }
}

// The check can fail: the v0.1 fragment (groups, stash_ids.updated_at) is refused before v0.28.
test('a document with fields a release lacks fails that release', () => {
  const old = 'query { findScene(id: 1) { groups { group { name } } stash_ids { updated_at } } }';
  assert.equal(validate(schemaOf(join(schemaDir, 'versions', 'v0.26.2')), parse(old)).length, 2);
  assert.equal(validate(schemaOf(join(schemaDir, 'versions', 'v0.27.2')), parse(old)).length, 1);
  assert.equal(validate(schemaOf(join(schemaDir, 'versions', 'v0.28.1')), parse(old)).length, 0);
});
const variables = {
  findScene: { id: '3' },
  findScenes: { f: { updated_at: { value: '2020-01-01T00:00:00+01:00', modifier: 'GREATER_THAN' } }, p: { page: 1, per_page: 5, sort: 'updated_at', direction: 'ASC' } },
  pluginSettings: { ids: ['PlexSync'] },
  jobQueue: {},
  version: {},
  apiKey: {},
  sceneVersions: { f: { updated_at: { value: '2020-01-01', modifier: 'GREATER_THAN' } }, p: { page: 2, per_page: 4, sort: 'updated_at', direction: 'ASC' } },
  sceneActivity: { ids: ['3', '4'] },
  addPlay: { id: '3', times: ['2026-11-30T20:15:00Z', '2026-12-01T21:00:05+01:00'] },
  saveActivity: { id: '3', resume: 125.5, duration: 600 },
  setRating: { id: '3', rating: 70 },
};

let sim;
before(async () => { sim = await startSim(process.env.STASHSIM, ['--generate', '12', '--settings', '{"plex_url":"http://127.0.0.1:32400","skip_title":true}']); });
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

// The mutations change what the scene then answers, as Stash's resolvers do (issue #27).
test('stashsim keeps the plays, resume point, play duration and rating PlexSync wrote', async () => {
  const send = async (name, variables) => {
    const { query } = queries.find((q) => q.name === name);
    const res = await fetch(`${sim.url}/graphql`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    const body = await res.json();
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    return body.data;
  };
  const before = (await send('sceneActivity', { ids: ['5'] })).findScenes.scenes[0];
  await send('addPlay', { id: '5', times: ['2026-12-01T20:00:00Z'] });
  await send('saveActivity', { id: '5', resume: 42, duration: 100 });
  await send('saveActivity', { id: '5', resume: null, duration: 50 });
  const updated = (await send('setRating', { id: '5', rating: 90 })).sceneUpdate.updated_at;
  const after = (await send('sceneActivity', { ids: ['5'] })).findScenes.scenes[0];
  assert.equal(after.play_history.length, before.play_history.length + 1);
  assert.equal(Date.parse(after.play_history.at(-1)), Date.parse('2026-12-01T20:00:00Z'));
  assert.equal(after.resume_time, 42);
  assert.equal(after.play_duration, before.play_duration + 150);
  assert.equal(after.rating100, 90);
  assert.equal(after.updated_at, updated);
  assert.notEqual(after.updated_at, before.updated_at);
});

test('a query for a field Stash does not have fails validation', () => {
  assert.ok(validate(schema, parse('query { findScene(id: 1) { colour } }')).length > 0);
});
