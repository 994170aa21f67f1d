// Running a fake as a child process (the C tests, the benchmark): one home for what every
// fake's "node tests/fakes/<name>.mjs" does.
//
//   runAsProcess(import.meta.url, async (opt, args) => {
//     const fake = await startFakeX({ port: Number(opt('--port') ?? 0) });
//     return { fake, line: { url: fake.url, ... } };
//   });
//
// When the module is the process's main script: starts the fake, prints `line` as one JSON
// line on stdout, and stops it (fake.close(), exit 0) on SIGTERM, SIGINT and - with
// --exit-on-stdin-close - when stdin closes, so a test that dies takes its fake with it.
// Imported as a module, it does nothing.
import { fileURLToPath } from 'node:url';

export async function runAsProcess(metaUrl, start) {
  if (!process.argv[1] || fileURLToPath(metaUrl) !== process.argv[1]) return;
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const { fake, line } = await start(opt, args);
  const stop = async () => {
    await fake.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (args.includes('--exit-on-stdin-close')) {
    process.stdin.on('end', stop);
    process.stdin.on('error', stop);
    process.stdin.resume();
  }
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
