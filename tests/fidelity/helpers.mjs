// Starts a simulator binary on a free loopback port and stops it again; every wait is bounded.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export async function startSim(binary, args) {
  const dir = mkdtempSync(join(tmpdir(), 'plexsync-fidelity-'));
  const portFile = join(dir, 'port');
  const child = spawn(binary, ['--port', '0', '--port-file', portFile, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 10000;
  while (!existsSync(portFile)) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${binary} did not start within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const port = Number(readFileSync(portFile, 'utf8').trim());
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 5000);
      child.once('exit', () => { clearTimeout(timer); resolve(); });
      child.kill('SIGTERM');
    }),
  };
}

// tests/data/: every fixture and schema these checks read lives in the repository. A missing one
// fails the test with the path it looked for.
export const dataDir = fileURLToPath(new URL('../data', import.meta.url));
export const dataPath = (...parts) => {
  const path = join(dataDir, ...parts);
  if (!existsSync(path)) throw new Error(`test data missing: ${path} (every file a test reads lives in tests/data/)`);
  return path;
};
