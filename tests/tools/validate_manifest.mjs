// validate_manifest.mjs: checks a Teams app manifest against Microsoft's published JSON
// schema for the version it declares. No network: the schema is the file shipped in the
// `@microsoft/app-manifest` npm package,
//   @microsoft/app-manifest/build/json-schemas/teams/v<manifestVersion>/MicrosoftTeams.schema.json
// (the same file as https://developer.microsoft.com/json-schemas/teams/v<manifestVersion>/...).
// Those schemas are JSON Schema draft-04, so the validator is Ajv with ajv-draft-04, and
// ajv-formats for the `uri` and `email` formats they use.
//
//   NODE_PATH=<dir holding node_modules> node tests/tools/validate_manifest.mjs MANIFEST.json
//
// Prints the schema file used, then one line per problem. Exit 0 valid, 1 invalid,
// 2 unreadable input or no schema for that version.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// require() honours NODE_PATH, import does not.
const require = createRequire(import.meta.url);
const Ajv = require('ajv-draft-04');
const addFormats = require('ajv-formats');

function fail(message) {
  console.error(message);
  process.exit(2);
}

const [file] = process.argv.slice(2);
if (!file) fail('usage: node validate_manifest.mjs MANIFEST.json');
let manifest;
try {
  manifest = JSON.parse(readFileSync(file, 'utf8'));
} catch (error) {
  fail(`can't read ${file}: ${error.message}`);
}
const version = manifest && manifest.manifestVersion;
if (typeof version !== 'string' || !/^\d+\.\d+$/.test(version)) {
  fail(`${file}: manifestVersion must be a version like "1.24", not ${JSON.stringify(version)}`);
}

const packageDir = dirname(require.resolve('@microsoft/app-manifest/package.json'));
const schemaFile = join(packageDir, 'build', 'json-schemas', 'teams', `v${version}`, 'MicrosoftTeams.schema.json');
if (!existsSync(schemaFile)) fail(`@microsoft/app-manifest has no schema for manifest version ${version}`);
const schema = JSON.parse(readFileSync(schemaFile, 'utf8'));
console.log(`schema: @microsoft/app-manifest/build/json-schemas/teams/v${version}/MicrosoftTeams.schema.json`);

// allErrors: report every problem, not the first. strictTypes off as in the package's own
// validator: the schemas use type-less `enum`s that strict mode would refuse to compile.
const ajv = new Ajv({ allErrors: true, strictTypes: false });
addFormats(ajv, ['uri', 'email', 'regex']);
const validate = ajv.compile(schema);
if (validate(manifest)) {
  console.log('valid');
  process.exit(0);
}
for (const error of validate.errors) {
  console.log(`${error.instancePath || '/'} ${error.message} ${JSON.stringify(error.params)}`);
}
console.log(`${validate.errors.length} problem(s)`);
process.exit(1);
