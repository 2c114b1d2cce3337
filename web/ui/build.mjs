// Builds the console into dist/ (committed, embedded by go:embed): one
// script and one stylesheet with content-hashed names, and index.html that
// names them. With --tests, bundles the unit tests for Node's runner.
import * as esbuild from 'esbuild';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const here = new URL('.', import.meta.url).pathname;

// --tests bundles test/*.test.ts, --e2e e2e/*.e2e.ts, each into its own
// folder for `node --test`; packages stay imports.
for (const [flag, dir, suffix] of [['--tests', 'test', '.test.ts'], ['--e2e', 'e2e', '.e2e.ts']]) {
  if (!process.argv.includes(flag)) continue;
  const out = join(here, `.${dir}-out`);
  rmSync(out, { recursive: true, force: true });
  const entries = readdirSync(join(here, dir)).filter((f) => f.endsWith(suffix)).map((f) => join(here, dir, f));
  await esbuild.build({ entryPoints: entries, bundle: true, platform: 'node', format: 'esm', packages: 'external', outdir: out, outExtension: { '.js': '.mjs' }, logLevel: 'warning' });
  process.exit(0);
}

const dist = join(here, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'assets'), { recursive: true });
const result = await esbuild.build({
  entryPoints: { app: join(here, 'src/main.ts') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: join(dist, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((p) => p.slice(p.lastIndexOf('/assets/') + 1));
const js = outputs.find((p) => p.endsWith('.js'));
const css = outputs.find((p) => p.endsWith('.css'));
const icon =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='4' cy='8' r='3' fill='%230066cc'/%3E%3Ccircle cx='12' cy='4' r='3' fill='%233e8635'/%3E%3Ccircle cx='12' cy='12' r='3' fill='%23f0ab00'/%3E%3C/svg%3E";
writeFileSync(
  join(dist, 'index.html'),
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<base href="/">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meshlens</title>
<link rel="icon" href="${icon}">
${css ? `<link rel="stylesheet" href="${css}">\n` : ''}<script type="module" src="${js}"></script>
</head>
<body><noscript>meshlens's console needs JavaScript.</noscript></body>
</html>
`,
);
console.log(`built ${outputs.join(', ')} and index.html into dist/`);
