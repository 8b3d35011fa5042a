// Parse Mermaid files with mermaid's own parser (it needs a DOM: jsdom).
// usage: node mermaid.mjs FILE.mmd...   (run with node_modules next to it)
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");

let failed = false;
for (const path of process.argv.slice(2)) {
  try {
    await mermaid.parse(readFileSync(path, "utf8"));
  } catch (error) {
    failed = true;
    console.log(`${path}: ${error.message}`);
  }
}
process.exit(failed ? 1 : 0);
