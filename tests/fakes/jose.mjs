// The fakes sign and verify with `jose`, installed by `npm ci` in tests/e2e (the one
// package.json of the test suites). Node resolves bare imports from the importing file's
// folder upwards, which never reaches tests/e2e/node_modules from here, so resolve it from
// tests/e2e explicitly: every fake then shares the e2e suite's exact, locked version.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const requireFromE2e = createRequire(new URL('../e2e/package.json', import.meta.url));
let resolved;
try {
  resolved = requireFromE2e.resolve('jose');
} catch (e) {
  throw new Error(`tests/fakes needs jose from tests/e2e: run "npm ci" in tests/e2e (${e.message})`);
}
const jose = await import(pathToFileURL(resolved).href);
export default jose;
