// Runs the page's script in Node against a live server with a minimal
// stand-in for the DOM, asks one question and prints what the page showed
// as JSON. Usage: node page_harness.js BASE_URL QUESTION SEED < index.html
"use strict";
const vm = require("vm");
const fs = require("fs");

const [base, question, seed] = process.argv.slice(2);
const html = fs.readFileSync(0, "utf8");
const script = html.match(/<script>([\s\S]*)<\/script>/)[1];

let spans = 0;
class El {
  constructor(tag) {
    this.tag = tag;
    this.children = [];
    this.value = "";
    this._text = "";
    this.className = "";
    this.listeners = {};
    this.after = (e) => { this.nextSibling = e; bubbles.push(e); };
    const cls = new Set();
    this.classList = { add: (c) => cls.add(c), has: (c) => cls.has(c) };
  }
  set textContent(t) { this._text = t; this.children = []; }
  get textContent() { return this._text + this.children.map((c) => c.textContent).join(""); }
  appendChild(c) { this.children.push(c); if (this.tag === "log") bubbles.push(c); }
  addEventListener(ev, f) { this.listeners[ev] = f; }
}
const bubbles = [];
const ids = {};
const document = {
  getElementById: (id) => (ids[id] = ids[id] || new El(id)),
  createElement: (tag) => { if (tag === "span") spans++; return new El(tag); },
};
const ctx = vm.createContext({
  document, console, TextDecoder, JSON, Math, Set, String, Error, parseInt, parseFloat,
  fetch: (url, opts) => fetch(base + url, opts),
});
vm.runInContext(script, ctx);
const set = (id, v) => { document.getElementById(id).value = v; };
set("seed", seed);
set("max_tokens", "16");
set("steps", "8");
set("block_size", "4");
set("temperature", "0");
set("threshold", "0");
set("cfg", "0");
set("remasking", "low_confidence");
set("input", question);
ids.form.listeners.submit({ preventDefault() {} });

const deadline = Date.now() + 30000;
(function wait() {
  const hist = vm.runInContext("history", ctx);
  const failed = bubbles.some((b) => b.classList.has("error"));
  if (hist.length === 2 || failed || Date.now() > deadline) {
    const answer = bubbles[1] ? bubbles[1].textContent : null;
    const meta = bubbles[2] ? bubbles[2].textContent : null;
    process.stdout.write(JSON.stringify({ answer, meta, spans, failed, history: hist.length }));
    return;
  }
  setTimeout(wait, 20);
})();
