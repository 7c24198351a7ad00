// validate_card.mjs: checks Adaptive Cards the way Teams needs them, with the official
// `adaptivecards` library (v3, the renderer Web Chat bundles). No DOM, no network.
//
//   NODE_PATH=<dir holding node_modules> node tests/tools/validate_card.mjs FILE|-
//
// FILE holds a card or any JSON containing cards (a list of cards, an activity, an
// expectReplies body: every {"type": "AdaptiveCard"} and every card attachment is checked).
// Each card is parsed for schema 1.5 (Teams renders 1.5 at most; a lower declared version
// lowers the target), so an element or property newer than 1.5 is a parse error. Then the
// library's own validation runs. Everything is an error, including what the library only
// calls a warning: a required input without a label or error message, and a property the
// library does not know (a misspelt `palceholder` is ignored by every renderer).
// Prints one line per problem and a total; exit 0 valid, 1 problems, 2 unreadable input.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// lib/ of adaptivecards is ESM with extension-less imports, which Node refuses; the UMD
// bundle in dist/ loads in plain Node. require() honours NODE_PATH, import does not.
const require = createRequire(import.meta.url);
const AC = require('adaptivecards/dist/adaptivecards.js');

const TARGET = AC.Version.parse('1.5', new AC.SerializationContext());
const CARD_MIME = 'application/vnd.microsoft.card.adaptive';
// Keys that no element's property schema lists: the containers' child lists, which the
// library parses itself, and what hosts read outside the schema (msteams) or templating.
const STRUCTURAL_KEYS = new Set(['type', '$schema', 'fallback', 'requires', 'body', 'items',
  'actions', 'columns', 'rows', 'cells', 'images', 'facts', 'choices', 'inlines', 'card',
  'msteams', '$data', '$when', 'metadata', 'authentication', 'refresh']);

function fail(message) {
  console.error(message);
  process.exit(2);
}

function findCards(node, where, found) {
  if (Array.isArray(node)) {
    node.forEach((item, i) => findCards(item, `${where}[${i}]`, found));
  } else if (node && typeof node === 'object') {
    if (node.type === 'AdaptiveCard') found.push([where, node]);
    else if (node.contentType === CARD_MIME) found.push([`${where}.content`, node.content]);
    else for (const [key, value] of Object.entries(node)) findCards(value, `${where}.${key}`, found);
  }
  return found;
}

// Collects the keys of each parsed object that its class's schema does not consume.
let unknown = [];
const parseObject = AC.SerializableObject.prototype.internalParse;
AC.SerializableObject.prototype.internalParse = function (source, context) {
  parseObject.call(this, source, context);
  if (!source || typeof source !== 'object' || Array.isArray(source)) return;
  const schema = this.getSchema();
  const known = new Set();
  for (let i = 0; i < schema.getCount(); i++) known.add(schema.getItemAt(i).name);
  for (const key of Object.keys(source)) {
    if (!known.has(key) && !STRUCTURAL_KEYS.has(key)) {
      const owner = (source.type || this.constructor.name) + (source.id ? `#${source.id}` : '');
      unknown.push(`unknown property "${key}" on ${owner}: renderers ignore it`);
    }
  }
};

function check(json) {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return ['the card is not a JSON object'];
  const context = new AC.SerializationContext();
  const declared = AC.Version.parse(json.version, context);
  if (!declared || !declared.isValid) return [`"version" ${JSON.stringify(json.version)} is not a version`];
  context.targetVersion = declared.compareTo(TARGET) < 0 ? declared : TARGET;
  unknown = [];
  const card = new AC.AdaptiveCard();
  try {
    card.parse(json, context);
  } catch (e) {
    return [`cannot be parsed: ${e.message}`];
  }
  const problems = [];
  if (declared.compareTo(TARGET) > 0) problems.push(`declares version ${json.version}; Teams renders ${TARGET} at most`);
  const events = [];
  for (let i = 0; i < context.eventCount; i++) events.push(context.getEventAt(i));
  events.push(...card.validateProperties().validationEvents);
  for (const event of events) {
    problems.push(`${AC.ValidationPhase[event.phase]}/${AC.ValidationEvent[event.event]}: ${event.message}`);
  }
  return problems.concat(unknown);
}

const file = process.argv[2];
if (!file || process.argv.length > 3) fail('usage: node validate_card.mjs FILE|-');
let doc;
try {
  doc = JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8'));
} catch (e) {
  fail(`${file}: not readable JSON: ${e.message}`);
}
const cards = findCards(doc, '$', []);
if (!cards.length) fail(`${file}: no Adaptive Card in it`);
let total = 0;
for (const [where, json] of cards) {
  for (const problem of check(json)) {
    total++;
    console.log(`${where}: ${problem}`);
  }
}
console.log(`${cards.length} card(s) checked for Teams (schema ${TARGET}), ${total} problem(s)`);
process.exit(total ? 1 : 0);
