// Prints Plex items (a /library/metadata/{ids} JSON answer on stdin) as a compact table.
const title = process.argv[2] ?? 'Plex items';
let input = '';
process.stdin.on('data', (d) => { input += d; }).on('end', () => {
  const items = JSON.parse(input).MediaContainer.Metadata ?? [];
  const cut = (s, n) => { s = String(s ?? ''); return s.length > n ? s.slice(0, n - 1) + '…' : s.padEnd(n); };
  const tags = (list) => (list ?? []).map((t) => t.tag).join(', ');
  console.log(`\n${title} (${items.length} items, first 12 shown)`);
  console.log(`${'key'.padEnd(6)} ${'title'.padEnd(40)} ${'date'.padEnd(10)} ${'genres'.padEnd(30)} ${'actors'.padEnd(28)} locked`);
  for (const m of items.slice(0, 12)) {
    console.log(`${cut(m.ratingKey, 6)} ${cut(m.title, 40)} ${cut(m.originallyAvailableAt, 10)} ${cut(tags(m.Genre), 30)} ${cut(tags(m.Role), 28)} ${(m.Field ?? []).length}`);
  }
});
