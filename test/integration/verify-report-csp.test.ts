// verify.html as Jenkins serves an archived artifact (issue 10, defect 7): with exactly Jenkins'
// Content-Security-Policy, in a real browser (Debian's chromium, driven by playwright-core). The
// page must cause no CSP violation, and its charts must be drawn: computed styles, not just the DOM.
// A control page in the old form (inline <style>, no presentation attributes) shows the test can
// say no: it violates the policy and draws black bars without grid lines.
import { strict as assert } from "node:assert";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, it } from "vitest";
import { REPORT_CSS } from "../../harness/verify/report-style.ts";
import { writeReports } from "../../harness/verify/report.ts";
import { sampleReport, sampleService, withLayers } from "../support/verify-report-fixtures.ts";

/** Jenkins' default for archived artifacts and HTML Publisher pages ("Configuring Content Security Policy"). */
const JENKINS_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'self';";
/**
 * The same policy with `sandbox allow-scripts`: Chromium fires no securitypolicyviolation events in
 * a document whose scripts the sandbox disables (it only logs the refusals), so the event count is
 * taken under this variant. Its fetch directives are Jenkins' exactly; the page has no script.
 */
const EVENTS_CSP = "sandbox allow-scripts; default-src 'none'; img-src 'self'; style-src 'self';";
const CHROMIUM = "/usr/bin/chromium";

const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8" };

/**
 * Serves the files of `dir` on 127.0.0.1 with a CSP header on every answer, as Jenkins does:
 * /jenkins/<file> with JENKINS_CSP, /events/<file> with EVENTS_CSP.
 */
async function serve(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const csp = path.startsWith("/events/") ? EVENTS_CSP : JENKINS_CSP;
    const name = basename(path);
    const type = TYPES[name.slice(name.lastIndexOf("."))];
    readFile(join(dir, name)).then(
      (body) => {
        res.writeHead(200, { "content-type": type ?? "application/octet-stream", "content-security-policy": csp });
        res.end(body);
      },
      () => {
        res.writeHead(404, { "content-security-policy": csp });
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

interface Violation {
  directive: string;
  blocked: string;
}

interface Rendered {
  /** securitypolicyviolation events seen by a listener installed before the page's own content. */
  violations: Violation[];
  /** Whether that listener ran at all (so that 0 violations means something). */
  listening: boolean;
  /** Console lines of CSP refusals, Chromium's second account of the same. */
  refusals: string[];
  barFills: string[];
  gridStrokes: string[];
  fairDasharrays: string[];
  passColour: string;
  tableBorder: string;
  /** The L4-versus-L7 table as a person reads it (rendered text, tab-separated cells). */
  layersText: string | null;
  layersBorder: string | null;
}

/**
 * The few browser globals the page functions below use. The project compiles without the DOM
 * library (it is Node code); these functions run in Chromium, where the globals exist.
 */
interface PageElement {
  readonly __brand?: "element";
  readonly innerText: string;
}
interface PageGlobals {
  __violations?: Violation[];
  __listening?: boolean;
  document: {
    body: PageElement;
    querySelector(selector: string): PageElement | null;
    querySelectorAll(selector: string): ArrayLike<PageElement>;
    addEventListener(type: "securitypolicyviolation", listener: (e: { violatedDirective: string; blockedURI: string }) => void): void;
  };
  getComputedStyle(element: PageElement): { color: string; borderTopStyle: string; getPropertyValue(property: string): string };
}

async function render(browser: Browser, url: string, csp: string): Promise<Rendered> {
  const page: Page = await browser.newPage();
  try {
    const refusals: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) refusals.push(message.text());
    });
    // An init script (the DevTools protocol's, not the page's) collects the violation events.
    await page.addInitScript(() => {
      const w = globalThis as unknown as PageGlobals;
      const seen: Violation[] = [];
      w.__violations = seen;
      w.__listening = true;
      w.document.addEventListener("securitypolicyviolation", (e) => seen.push({ directive: e.violatedDirective, blocked: e.blockedURI }));
    });
    const response = await page.goto(url, { waitUntil: "load" });
    assert.equal(response?.headers()["content-security-policy"], csp);
    return await page
      .evaluate(() => {
        const w = globalThis as unknown as PageGlobals;
        const { document, getComputedStyle } = w;
        const all = (selector: string, property: string): string[] =>
          Array.from(document.querySelectorAll(selector)).map((el) => getComputedStyle(el).getPropertyValue(property));
        return {
          violations: w.__violations ?? [],
          listening: w.__listening === true,
          refusals: [],
          barFills: all("svg rect.bar", "fill"),
          gridStrokes: all("svg line.grid", "stroke"),
          fairDasharrays: all("svg line.fair", "stroke-dasharray"),
          passColour: getComputedStyle(document.querySelector(".pass") ?? document.body).color,
          tableBorder: getComputedStyle(document.querySelector("td") ?? document.body).borderTopStyle,
          // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point (what a person sees, cells tab-separated)
          layersText: document.querySelector("table.layers")?.innerText ?? null,
          layersBorder: ((cell) => (cell ? getComputedStyle(cell).borderTopStyle : null))(document.querySelector("table.layers td")),
        };
      })
      .then((r) => ({ ...r, refusals }));
  } finally {
    await page.close();
  }
}

describe("verify.html under Jenkins' Content-Security-Policy, in Chromium", () => {
  let dir: string;
  let browser: Browser;
  let site: { server: Server; url: string };

  beforeAll(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/ensure-chromium.sh installs it (npm test runs it)`);
    dir = await mkdtemp(join(tmpdir(), "verify-csp-"));
    const report = sampleReport([withLayers(sampleService("service1", true)), sampleService("service2", false)]);
    await writeReports(report, dir);
    // The control: the same report in the old form, one inline <style> and no presentation attributes.
    const html = await readFile(join(dir, "verify.html"), "utf8");
    const old = html
      .replace('<link rel="stylesheet" href="verify.css">', `<style>${REPORT_CSS}</style>`)
      .replace(/ (fill|stroke|stroke-width|stroke-dasharray|font-size|font-weight)="[^"]*"(?= [^>]*class=)/g, "");
    assert.notEqual(old, html);
    await writeFile(join(dir, "old.html"), old);
    // verify.html archived without its stylesheet (a Jenkinsfile that archives only the page).
    await writeFile(join(dir, "alone.html"), html.replace('href="verify.css"', 'href="not-archived.css"'));
    site = await serve(dir);
    // --no-sandbox: Chromium's own process sandbox cannot run as root in a container. It has
    // nothing to do with the CSP sandbox directive, which the page still gets.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (site ? site.server.close(() => resolve()) : resolve()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("renders under Jenkins' exact policy with nothing refused, the stylesheet applied and the charts drawn", async () => {
    const r = await render(browser, `${site.url}jenkins/verify.html`, JENKINS_CSP);

    assert.deepEqual(r.refusals, []);
    // Bars in their colours (a fill the browser dropped would compute to black).
    assert.ok(r.barFills.length >= 4, `bars: ${r.barFills.length}`);
    for (const fill of r.barFills) assert.notEqual(fill, "rgb(0, 0, 0)");
    assert.ok(r.barFills.includes("rgb(74, 127, 193)"), r.barFills.join(", "));
    // Grid lines and the dashed fair-share lines are visible (a line without stroke is not drawn).
    assert.ok(r.gridStrokes.length > 0);
    for (const stroke of r.gridStrokes) assert.equal(stroke, "rgb(238, 238, 238)");
    assert.ok(r.fairDasharrays.length > 0);
    for (const dash of r.fairDasharrays) assert.match(dash, /^5(px)?,? 3(px)?$/);
    // The page itself is styled from verify.css.
    assert.equal(r.passColour, "rgb(23, 107, 44)");
    assert.equal(r.tableBorder, "solid");
    // Envoy's two layers side by side, as rendered: L4 connections and L7 requests per replica.
    assert.ok(r.layersText, "no layers table on the page");
    assert.match(r.layersText, /L4 tcp_proxy: connections \(of 6, 0 on >1 replica\)\tL7 HTTP: requests of one connection \(of 4\)/);
    assert.match(r.layersText, /s-1\t4\t2\ns-2\t2\t2/);
    assert.equal(r.layersBorder, "solid");
  }, 60_000);

  it("raises 0 securitypolicyviolation events", async () => {
    const r = await render(browser, `${site.url}events/verify.html`, EVENTS_CSP);

    assert.equal(r.listening, true, "the violation listener did not run: 0 violations would mean nothing");
    assert.deepEqual(r.violations, []);
    assert.deepEqual(r.refusals, []);
  }, 60_000);

  it("still draws the charts when verify.css was not archived (presentation attributes)", async () => {
    const r = await render(browser, `${site.url}jenkins/alone.html`, JENKINS_CSP);

    assert.deepEqual(r.refusals, []);
    assert.ok(r.barFills.includes("rgb(74, 127, 193)"), r.barFills.join(", "));
    for (const stroke of r.gridStrokes) assert.equal(stroke, "rgb(238, 238, 238)");
    for (const dash of r.fairDasharrays) assert.match(dash, /^5(px)?,? 3(px)?$/);
  }, 60_000);

  it("says no to the old inline-style page: refusals and events, black bars, no grid lines", async () => {
    const jenkins = await render(browser, `${site.url}jenkins/old.html`, JENKINS_CSP);
    assert.ok(jenkins.refusals.length > 0, "the inline <style> should have been refused");
    assert.ok(jenkins.barFills.length >= 4);
    for (const fill of jenkins.barFills) assert.equal(fill, "rgb(0, 0, 0)");
    for (const stroke of jenkins.gridStrokes) assert.equal(stroke, "none");

    const events = await render(browser, `${site.url}events/old.html`, EVENTS_CSP);
    assert.equal(events.listening, true);
    assert.ok(
      events.violations.some((v) => v.directive.startsWith("style-src")),
      JSON.stringify(events.violations),
    );
  }, 60_000);
});
