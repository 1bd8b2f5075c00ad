// @ctrl/plex (a TypeScript port of python-plexapi, written by others) against plexsim:
// connect, list sections, page a section, read an item, edit it, and compare shapes with the
// constructed PMS responses in tests/data/fixtures/plex.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PlexServer } from '@ctrl/plex';
import { startSim, dataPath } from './helpers.mjs';

const TOKEN = 'fidelity-token';
let sim;
let server;

before(async () => {
  sim = await startSim(process.env.PLEXSIM, ['--generate', '120', '--token', TOKEN]);
  server = new PlexServer(sim.url, TOKEN);
  await server.connect();
});
after(async () => { await sim?.stop(); });

const fixture = (name) => JSON.parse(readFileSync(dataPath('fixtures/plex', name), 'utf8')).MediaContainer;

function keysOf(obj) {
  return Object.keys(obj).filter((k) => !Array.isArray(obj[k]) && typeof obj[k] !== 'object');
}

test('connect reads the server root like a real PMS', () => {
  assert.equal(server.machineIdentifier, '5e1f0c9a7b3d42e8a6c4f19d08b2e7a3c6d5f401');
  assert.equal(server.friendlyName, 'plexsim');
});

test('sections list with locations, as in the fixture', async () => {
  const library = await server.library();
  const sections = await library.sections();
  assert.deepEqual(sections.map((s) => s.title), ['Adult', 'Home Videos']);
  const adult = await library.section('Adult');
  assert.equal(adult.key, '1');
  assert.equal(adult.type, 'movie');
  assert.deepEqual(adult.locations.map((l) => l.path), ['/media/adult', '/mnt/nas2/Adult Archive']);
  // Every scalar attribute the fixture's section carries, plexsim carries too.
  const raw = await server.query('/library/sections');
  const simKeys = new Set(keysOf(raw.MediaContainer.Directory[0]));
  for (const key of keysOf(fixture('get_library_sections.response.json').Directory[0])) {
    if (['composite', 'filters', 'thumb', 'art', 'contentChangedAt'].includes(key)) continue; // cosmetic
    assert.ok(simKeys.has(key), `section attribute ${key} missing`);
  }
});

test('a section lists every item and pages like PMS', async () => {
  const adult = await (await server.library()).section('Adult');
  const all = await adult.all();
  assert.equal(all.length, 120);
  const first = all[0];
  assert.equal(typeof first.ratingKey, 'string');
  assert.ok(first.media[0].parts[0].file.startsWith('/'));
  const page = await server.query('/library/sections/1/all?type=1&X-Plex-Container-Start=100&X-Plex-Container-Size=50');
  assert.equal(page.MediaContainer.size, 20);
  assert.equal(page.MediaContainer.totalSize, 120);
  assert.equal(page.MediaContainer.offset, 100);
  const fixtureItem = fixture('get_section_1_all_page0.response.json').Metadata[0];
  const simItem = page.MediaContainer.Metadata[0];
  for (const key of ['ratingKey', 'key', 'guid', 'type', 'title', 'duration', 'addedAt', 'updatedAt', 'thumb', 'art']) {
    assert.equal(typeof simItem[key], typeof fixtureItem[key], `listing item ${key} type`);
  }
  assert.equal(typeof simItem.Media[0].Part[0].size, typeof fixtureItem.Media[0].Part[0].size);
});

test('an item is read, edited through the client API, and reads back', async () => {
  const adult = await (await server.library()).section('Adult');
  const [item] = await adult.search({ title: 'Scene 3' });
  assert.ok(item, 'title search found the item');
  await item.reload();
  assert.equal(item.librarySectionID, 1);
  await item.edit({ 'title.value': 'Edited by @ctrl/plex & friends', 'title.locked': 1 });
  await item.addGenre(['Golden Hour', 'Q&A, Extended']);
  const [reread] = await server.query(`/library/metadata/${item.ratingKey}`).then((r) => r.MediaContainer.Metadata);
  assert.equal(reread.title, 'Edited by @ctrl/plex & friends');
  assert.deepEqual(reread.Genre.map((g) => g.tag), ['Golden Hour', 'Q&A, Extended']);
  assert.ok(reread.Field.some((f) => f.name === 'title' && f.locked === true));
  const full = fixture('get_metadata_1001_full.response.json');
  for (const key of ['size', 'allowSync', 'identifier', 'librarySectionID']) {
    assert.ok(key in (await server.query(`/library/metadata/${item.ratingKey}`)).MediaContainer, `container ${key}`);
    assert.ok(key in full);
  }
});

test('a wrong token is refused with 401', async () => {
  const bad = new PlexServer(sim.url, 'wrong');
  await assert.rejects(() => bad.connect(), (err) => String(err).includes('401'));
});
