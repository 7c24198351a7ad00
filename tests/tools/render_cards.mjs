// render_cards.mjs: renders Adaptive Cards in headless Chromium at a given width, the way a
// narrow Teams-like client does, and reports what does not fit.
//
//   NODE_PATH=<dir holding node_modules> node tests/tools/render_cards.mjs IN.json CHROMIUM
//
// IN.json is {"width": 450, "cards": {"<name>": <card>, ...}}. Each card is rendered by the
// official `adaptivecards` renderer with its stock stylesheet, a host config close to
// Teams' (fonts, sizes, spacing), and markdown-it with inline HTML on as the markdown step,
// like Teams and Web Chat, which read `<word>` as a tag. Prints one JSON object:
// {"<name>": {"text": <the card's visible text>, "problems": [...]}} where a problem is
//   - "cut": an element clips its content (a button title ending in "...", a cell's text);
//   - "outside": an element or text reaches out of its table cell or out of the card;
//   - "broken": a word split over two lines: anywhere but after a hyphen, or at all when it
//     is shown alone (a MAC ID or a code in its own line of a table cell).
// Exit 0 when it rendered (problems or not), 2 when it could not (no browser, bad input).
// Downloads nothing: it drives the Chromium it is given, with a throwaway profile.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const SCRIPTS = ['adaptivecards/dist/adaptivecards.min.js', 'markdown-it/dist/markdown-it.min.js']
  .map((name) => require.resolve(name));
const STYLESHEET = require.resolve('adaptivecards/dist/adaptivecards.css');
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Close to Teams' light theme. Segoe UI and Consolas are absent on Linux; Liberation Sans
// and Liberation Mono have Arial's and Courier New's widths, a little wider than Teams'.
const SANS = "'Segoe UI', 'Liberation Sans', Arial, sans-serif";
const MONO = "Consolas, 'Liberation Mono', 'Courier New', monospace";
const SIZES = { small: 12, default: 14, medium: 14, large: 18, extraLarge: 24 };
const HOST_CONFIG = {
  fontFamily: SANS,
  fontTypes: {
    default: { fontFamily: SANS, fontSizes: SIZES, fontWeights: { lighter: 300, default: 400, bolder: 600 } },
    monospace: { fontFamily: MONO, fontSizes: SIZES, fontWeights: { lighter: 300, default: 400, bolder: 600 } },
  },
  spacing: { small: 8, default: 12, medium: 16, large: 20, extraLarge: 24, padding: 16 },
  actions: { maxActions: 6, buttonSpacing: 8, actionsOrientation: 'horizontal', actionAlignment: 'stretch' },
  supportsInteractivity: true,
};

function inPage({ width, cards, hostConfig }) {
  const AC = window.AdaptiveCards;
  const markdown = window.markdownit({ html: true });
  AC.AdaptiveCard.onProcessMarkdown = (text, result) => {
    result.outputHtml = markdown.render(text);
    result.didProcess = true;
  };
  const results = {};
  for (const [name, json] of Object.entries(cards)) {
    const frame = document.createElement('div');
    frame.style.width = `${width}px`;
    document.body.appendChild(frame);
    const card = new AC.AdaptiveCard();
    card.hostConfig = new AC.HostConfig(hostConfig);
    card.parse(json);
    frame.appendChild(card.render());
    results[name] = { text: frame.innerText, problems: check(frame) };
    frame.remove();
  }
  return results;

  function describe(node) {
    const text = (node.innerText ?? node.textContent ?? '').trim().replace(/\s+/g, ' ');
    return text.length > 60 ? text.slice(0, 57) + '...' : text;
  }

  function lineCount(node, start, end) {
    const range = document.createRange();
    range.setStart(node, start);
    range.setEnd(node, end);
    return new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size;
  }

  function splitsOnlyAtHyphens(node, start, word) {
    let at = start;
    for (const part of word.split('-')) {
      if (part && lineCount(node, at, at + part.length) > 1) return false;
      at += part.length + 1;
    }
    return true;
  }

  function check(frame) {
    const problems = [];
    const box = frame.getBoundingClientRect();
    for (const el of frame.querySelectorAll('*')) {
      const style = getComputedStyle(el);
      const clips = ['hidden', 'clip', 'auto', 'scroll'].includes(style.overflowX);
      if (clips && el.scrollWidth > el.clientWidth + 1 && describe(el)) {
        problems.push(`cut: ${el.tagName.toLowerCase()}.${el.className || '-'} "${describe(el)}" needs ` +
          `${el.scrollWidth}px, has ${el.clientWidth}px`);
      }
    }
    const textNodes = [];
    const walker = document.createTreeWalker(frame, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) if (walker.currentNode.textContent.trim()) textNodes.push(walker.currentNode);
    for (const node of textNodes) {
      const cell = node.parentElement.closest('[role="cell"], [role="columnheader"]');
      const limit = cell ? cell.getBoundingClientRect() : box;
      for (const match of node.textContent.matchAll(/\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const rects = [...range.getClientRects()].filter((r) => r.width > 0);
        const lines = new Set(rects.map((r) => Math.round(r.top)));
        // Prose may wrap after a hyphen ("2026-11-27" in a sentence); a value shown on its
        // own (a MAC ID, a code) may not, and no word may break anywhere else.
        const alone = node.textContent.trim() === match[0];
        if (lines.size > 1 && (alone || !splitsOnlyAtHyphens(node, match.index, match[0]))) {
          problems.push(`broken: "${match[0]}" is split over ${lines.size} lines`);
        }
        if (rects.some((r) => r.right > limit.right + 1 || r.left < limit.left - 1)) {
          problems.push(`outside: "${match[0]}" reaches out of its ${cell ? 'table cell' : 'card'}`);
        }
      }
    }
    for (const cell of frame.querySelectorAll('[role="cell"], [role="columnheader"]')) {
      const limit = cell.getBoundingClientRect();
      for (const el of cell.querySelectorAll('*')) {
        const r = el.getBoundingClientRect();
        if (r.width > 0 && (r.right > limit.right + 1 || r.left < limit.left - 1)) {
          problems.push(`outside: ${el.tagName.toLowerCase()} "${describe(el)}" reaches out of its table cell`);
        }
      }
    }
    return [...new Set(problems)];
  }
}

async function main() {
  const [input, executablePath] = process.argv.slice(2);
  if (!input || !executablePath) throw new Error('usage: node render_cards.mjs IN.json CHROMIUM');
  const { width, cards } = JSON.parse(readFileSync(input, 'utf8'));
  const profile = mkdtempSync(join(tmpdir(), 'render-cards-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath, headless: true, args: FLAGS, viewport: { width: width + 200, height: 900 },
    });
    const page = context.pages()[0] ?? await context.newPage();
    await page.route('**/*', (route) => route.abort());  // nothing leaves the machine
    await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head>' +
      '<body style="margin:0;background:#fff"></body></html>');
    await page.addStyleTag({ path: STYLESHEET });
    for (const path of SCRIPTS) await page.addScriptTag({ path });
    const results = await page.evaluate(inPage, { width, cards, hostConfig: HOST_CONFIG });
    process.stdout.write(JSON.stringify(results));
  } finally {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`render_cards.mjs: ${e.stack || e}`);
  process.exit(2);
});
