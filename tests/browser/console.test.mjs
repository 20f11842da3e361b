// The console in a real browser: headless Chromium (Debian's) driven by
// playwright-core, against a wordgate that tests/browser.rs started on a
// port of its own. Each step asserts what a moderator would see; any
// failure exits non-zero with the step's name.
//
//   WORDGATE_URL           http://127.0.0.1:PORT (the server)
//   WORDGATE_DICTIONARIES  its dictionary directory (this script breaks and mends a file)
//   WORDGATE_SDKAPPID      the app the webhook accepts
//   CONSOLE_SCREENSHOTS   optional: write docs-ready screenshots here
//   CHROMIUM               optional: the browser (default /usr/bin/chromium)

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const base = process.env.WORDGATE_URL;
const dictionaries = process.env.WORDGATE_DICTIONARIES;
const app = process.env.WORDGATE_SDKAPPID;
const shots = process.env.CONSOLE_SCREENSHOTS || "";
assert.ok(base && dictionaries && app, "WORDGATE_URL, WORDGATE_DICTIONARIES and WORDGATE_SDKAPPID are set");

// Waits are on events (a selector's state, a text appearing), bounded so a
// broken console fails instead of hanging.
const PATIENCE = 15000;

let step = "launch";
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

async function shoot(page, name) {
  if (!shots) return;
  await page.screenshot({ path: path.join(shots, name), fullPage: true });
}

/// Every request a page makes, to check none leaves the server.
function watchRequests(page) {
  const seen = [];
  page.on("request", (request) => seen.push(request.url()));
  return seen;
}

async function callback(text) {
  const query = `SdkAppid=${app}&CallbackCommand=C2C.CallbackBeforeSendMsg&contenttype=json`;
  const body = { CallbackCommand: "C2C.CallbackBeforeSendMsg", From_Account: "a", To_Account: "b",
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: text } }] };
  const response = await fetch(`${base}/?${query}`, { method: "POST", body: JSON.stringify(body) });
  assert.equal(response.status, 200);
  return response.json();
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const requests = watchRequests(page);

  step = "the console opens on the live dictionaries";
  await page.goto(`${base}/console`);
  await page.waitForFunction(() => document.getElementById("live").textContent.startsWith("Generation 1"), null, { timeout: PATIENCE });

  step = "try a message with the keyboard: the live room's list rejects it, the hit is highlighted";
  await page.focus("#try-input");
  await page.keyboard.type("快来加群聊，加群 傻逼 f u c k");
  await page.selectOption("#try-callback", "group");
  await page.selectOption("#try-group-type", "AVChatRoom");
  await page.focus("#try-submit");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#try-result:not([hidden])", { timeout: PATIENCE });
  assert.equal(await page.textContent("#try-verdict"), "reject");
  assert.equal(await page.textContent("#try-code"), "ErrorCode 10120");
  const marks = await page.$$eval("#try-highlighted mark", (nodes) =>
    nodes.map((node) => ({ text: node.textContent, className: node.className, category: node.dataset.category || "" })));
  assert.deepEqual(marks, [
    { text: "加群", className: "suppressed", category: "ads" },
    { text: "加群", className: "reject", category: "ads" },
    { text: "傻逼", className: "mask", category: "rude" },
    { text: "f u c k", className: "mask", category: "rude" },
  ]);
  const rows = await page.$$eval("#try-hits tbody tr", (trs) => trs.map((tr) => Array.from(tr.cells, (td) => td.textContent)));
  assert.deepEqual(rows.find((cells) => cells[1] === "fuck"), ["rude", "fuck", "mask", "f u c k", "noise"]);
  assert.match(await page.textContent("#try-suppressed"), /加群 — ads entry 加群, excused by zz-allow \(加群聊\)/);
  assert.match(await page.textContent("#try-answer"), /"ErrorCode": 10120/);
  await shoot(page, "console-try.png");

  step = "the same message one-to-one: the ad list is out of scope, the answer is the masked body";
  await page.selectOption("#try-callback", "c2c");
  await page.click("#try-submit");
  await page.waitForFunction(() => document.getElementById("try-verdict").textContent === "mask", null, { timeout: PATIENCE });
  assert.match(await page.textContent("#try-answer"), /"Text": "快来加群聊，加群 \*\* \*\*\*\*\*\*\*"/);
  assert.equal(await page.textContent("#try-out-of-scope"), "Out of scope here: ads");

  step = "the dictionaries panel lists each category with its scope";
  await page.click("#tab-dictionaries");
  await page.waitForSelector("#categories tbody tr", { timeout: PATIENCE });
  const categories = await page.$$eval("#categories tbody tr", (trs) => trs.map((tr) => Array.from(tr.cells, (td) => td.textContent)));
  assert.deepEqual(categories.map((cells) => [cells[0], cells[1], cells[3]]), [
    ["ads", "reject", "group:AVChatRoom"], ["rude", "mask", "everywhere"], ["zz-allow", "allow", "everywhere"],
  ]);

  step = "a broken file: after a reload the error appears with its file and line";
  fs.writeFileSync(path.join(dictionaries, "bad.txt"), "@action reject\n@scope live\nword\n");
  await page.click("#reload");
  await page.waitForSelector("#reload-errors-box:not([hidden])", { timeout: PATIENCE });
  const errors = await page.$$eval("#reload-errors li", (items) => items.map((item) => item.textContent));
  assert.equal(errors.length, 1);
  assert.ok(errors[0].endsWith("bad.txt:2: unknown scope selector `live` (expected oa, c2c, group, group:<Type> (Public, Private, ChatRoom, AVChatRoom, Community; Work and Meeting name Private and ChatRoom) or app:<SDKAppID>)"), errors[0]);
  assert.match(await page.textContent("#dict-last"), /^failed/);
  assert.equal(await page.textContent("#dict-generation"), "1");
  await shoot(page, "console-dictionaries.png");

  step = "mended, the reload succeeds and the error goes";
  fs.rmSync(path.join(dictionaries, "bad.txt"));
  await page.click("#reload");
  await page.waitForSelector("#reload-errors-box", { state: "hidden", timeout: PATIENCE });
  assert.match(await page.textContent("#dict-last"), /^unchanged/);

  step = "now: counts move after callbacks";
  await page.click("#tab-now");
  await page.waitForSelector("#verdict-totals tbody tr", { timeout: PATIENCE });
  const before = await page.$$eval('#category-totals tr[data-name="rude"] td', (cells) => Number(cells[1]?.textContent || 0));
  for (const text of ["傻逼", "fuck you", "hello", "傻逼 again"]) await callback(text);
  await page.waitForFunction(
    (expected) => Number(document.querySelector('#category-totals tr[data-name="rude"] td:nth-child(2)')?.textContent || 0) >= expected,
    before + 3, { timeout: PATIENCE });
  assert.ok(await page.$("#chart rect"), "the chart draws a bar");
  await shoot(page, "console-now.png");

  step = "nothing was fetched from anywhere but the server";
  const foreign = requests.filter((url) => !url.startsWith(base));
  assert.deepEqual(foreign, []);

  step = "a phone-sized screen: one column, nothing wider than the screen";
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const small = await phone.newPage();
  await small.goto(`${base}/console`);
  await small.fill("#try-input", "一起去赌博吧 傻逼");
  await small.tap("#try-submit");
  await small.waitForSelector("#try-result:not([hidden])", { timeout: PATIENCE });
  const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the screen`);
  await shoot(small, "console-phone.png");

  console.log("console browser tests: all steps passed");
} catch (error) {
  console.error(`console browser tests: failed at "${step}":\n${error.stack || error}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
