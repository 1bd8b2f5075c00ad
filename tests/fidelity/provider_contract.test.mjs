// The metadata provider's contract (specs/plex-metadata-provider.md 7.2), checked with a JSON
// Schema validator nobody here wrote (ajv): Plex's own example payloads validate against the
// schemas written from section 2, and every answer PlexSync's built binary gives for every scene of
// the sample library validates too, with PlexSync's own promises (guid, key, signed image URLs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { startSim, dataPath } from './helpers.mjs';

const here = new URL('.', import.meta.url).pathname;
const schema = (name) => JSON.parse(readFileSync(join(here, 'provider-schemas', `${name}.schema.json`), 'utf8'));
const fixture = (name) => JSON.parse(readFileSync(dataPath('fixtures', 'plex-provider', name), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
const validate = {
  root: ajv.compile(schema('root')),
  metadata: ajv.compile(schema('metadata')),
  images: ajv.compile(schema('images')),
};
// A match answer: the metadata objects, where Plex's own season example leaves out ratingKey and key.
const matchSchema = structuredClone(schema('metadata'));
matchSchema.$defs.metadata.required = ['guid', 'type', 'title'];
validate.match = ajv.compile(matchSchema);

const check = (kind, doc, what) => {
  const ok = validate[kind](doc);
  assert.ok(ok, `${what}: ${ajv.errorsText(validate[kind].errors)}`);
};

test("Plex's own examples follow the schemas; the docs' example without the custom prefix does not", () => {
  check('root', fixture('provider_root.example.json'), 'provider_root.example.json');
  assert.equal(validate.root(fixture('provider_root.repo-docs.example.json')), false);
  for (const f of ['metadata_movie.response.json', 'metadata_show.response.json', 'metadata_episode.response.json',
    'metadata_season_with_children.response.json', 'metadata_movie_with_collection.repo-docs.response.json']) {
    check('metadata', fixture(f), f);
  }
  check('images', fixture('images.response.json'), 'images.response.json');
  check('match', fixture('match_season.response.json'), 'match_season.response.json');
});

const freePort = () => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

test('every answer of the built provider validates, for every sample scene', { timeout: 120000 }, async () => {
  const bin = process.env.PLEXSYNC_BIN;
  assert.ok(bin, 'PLEXSYNC_BIN names the built plexsync');
  const scenes = 12;
  const stash = await startSim(process.env.STASHSIM, ['--generate', String(scenes)]);
  const dir = mkdtempSync(join(tmpdir(), 'plexsync-provider-contract-'));
  const port = await freePort();
  const env = {
    ...process.env, PLEXSYNC_DATA_DIR: dir, PLEXSYNC_PROVIDER_ENABLED: 'true',
    PLEXSYNC_PROVIDER_LISTEN: `127.0.0.1:${port}`, PLEXSYNC_STASH_URL: stash.url, PLEXSYNC_WORKER_AUTOSTART: '0',
    PLEXSYNC_CONTENT_RATING: 'XXX',
  };
  const worker = spawn(bin, ['worker', '--forever', '--data-dir', dir], { env, stdio: 'ignore' });
  try {
    const root = execFileSync(bin, ['provider', 'url', '--data-dir', dir], { env, encoding: 'utf8' }).split('\n')[0];
    const base = root.slice(0, -'/movie'.length);
    const origin = new URL(root).origin;
    let doc;
    for (const deadline = Date.now() + 30000; Date.now() < deadline;) {
      const r = await fetch(root).catch(() => null);
      if (r && r.status === 200) { doc = await r.json(); break; }
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(doc, 'the provider answered its root within 30 s');
    check('root', doc, 'root');
    const id = doc.MediaProvider.identifier;
    const plexsyncPromises = (answer, what) => {
      for (const m of answer.MediaContainer.Metadata ?? []) {
        assert.equal(m.guid, `${id}://movie/${m.ratingKey}`, what);
        assert.equal(m.key, `/library/metadata/${m.ratingKey}`, what);
        for (const url of [m.thumb, m.art, ...(m.Image ?? []).map((i) => i.url), ...(m.Role ?? []).map((r) => r.thumb)]) {
          // Image URLs leave PMS (clients, Plex's image proxy), so they sit outside the secret path.
          if (url !== undefined) assert.ok(url.startsWith(`${origin}/img/v1/`), `${what}: ${url}`);
        }
      }
      const mc = answer.MediaContainer;
      assert.equal(mc.size, (mc.Metadata ?? mc.Image).length, `${what}: size`);
    };
    const scenesJson = await (await fetch(`${stash.url}/graphql`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ query: '{ findScenes(filter: {per_page: -1}) { scenes { id files { path } } } }' }),
    })).json();
    const list = scenesJson.data.findScenes.scenes;
    assert.equal(list.length, scenes);
    for (const s of list) {
      const path = s.files[0].path;
      const rel = path.replace(/^\/media\/adult\//, '').replace(/^\/mnt\/nas2\/Adult Archive\//, '');
      const match = await (await fetch(`${base}/movie/library/metadata/matches`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        // The full path: with no Plex here the library folders stay unknown, and a name relative
        // to them is never a certain match (issue #31).
        body: JSON.stringify({ type: 1, title: 'x', filename: path }),
      })).json();
      check('match', match, `match ${rel}`);
      plexsyncPromises(match, `match ${rel}`);
      assert.equal(match.MediaContainer.Metadata.length, 1, rel);
      assert.equal(match.MediaContainer.Metadata[0].ratingKey, `scene-${s.id}`);
      const meta = await (await fetch(`${base}/movie/library/metadata/scene-${s.id}`)).json();
      check('metadata', meta, `metadata scene-${s.id}`);
      plexsyncPromises(meta, `metadata scene-${s.id}`);
      assert.equal(meta.MediaContainer.Metadata[0].contentRating, 'XXX');
      const images = await (await fetch(`${base}/movie/library/metadata/scene-${s.id}/images`)).json();
      check('images', images, `images scene-${s.id}`);
      plexsyncPromises(images, `images scene-${s.id}`);
      const extras = await (await fetch(`${base}/movie/library/metadata/scene-${s.id}/extras`)).json();
      check('metadata', extras, `extras scene-${s.id}`);
    }
  } finally {
    try { execFileSync(bin, ['worker', '--stop', '--data-dir', dir], { env, stdio: 'ignore', timeout: 60000 }); } catch { worker.kill('SIGKILL'); }
    await stash.stop();
  }
});
