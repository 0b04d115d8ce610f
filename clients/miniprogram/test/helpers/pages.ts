// Renders a built page of dist/ with miniprogram-simulate and Vant's real components, as the mini-program would.

import { chmodSync, existsSync } from "node:fs";
import * as path from "node:path";
import simulate = require("miniprogram-simulate");

export const DIST = path.join(__dirname, "..", "..", "dist");

// miniprogram-simulate's readJson, patched to resolve npm component paths the way the mini-program runtime does:
// "@vant/weapp/button/index" is /miniprogram_npm/@vant/weapp/button/index.
const simulateUtils = require("miniprogram-simulate/src/utils") as { readJson: (file: string) => unknown };
const readJson = simulateUtils.readJson;
simulateUtils.readJson = (file: string) => {
  const json = readJson(file) as { usingComponents?: Record<string, string> } | null;
  for (const [tag, target] of Object.entries(json?.usingComponents ?? {})) {
    if (!target.startsWith(".") && !target.startsWith("/")) json!.usingComponents![tag] = `/miniprogram_npm/${target}`;
  }
  return json;
};

// The official WXML compiler (Vant's templates need it) ships in the npm package without its execute bit.
const PLATFORM_FOLDER: Record<string, string> = { linux: "linux", darwin: "mac" };
const WCC = path.join(
  __dirname,
  "..",
  "..",
  "node_modules",
  "miniprogram-compiler",
  "bin",
  PLATFORM_FOLDER[process.platform] ?? "",
);
for (const tool of ["wcc", "wcsc"]) if (existsSync(path.join(WCC, tool))) chmodSync(path.join(WCC, tool), 0o755);

/** What j-component renders: a page, or a custom component inside it. */
export interface Rendered {
  dom?: HTMLElement;
  data: Record<string, any>;
  instance: unknown;
  querySelector(selector: string): Rendered | undefined;
  querySelectorAll(selector: string): Rendered[];
  dispatchEvent(name: string, options?: { detail?: unknown }): void;
}

export interface Page extends Rendered {
  attach(parent: Element): void;
  detach(): void;
}

/** The page's methods (Component-built pages keep their lifecycle there). */
export function methodsOf<T>(page: Page): T {
  return page.instance as unknown as T;
}

// Under jest a module runs once per test file, so each page's definition is loaded once and rendered anew.
const loaded = new Map<string, string>();

/** A fresh instance of `pages/<name>/index`, attached to a document. */
export function renderPage(name: string): Page {
  let id = loaded.get(name);
  if (id === undefined) {
    id = simulate.load(path.join(DIST, "pages", name, "index"), { rootPath: DIST, compiler: "official" } as never);
    loaded.set(name, id);
  }
  const page = simulate.render(id) as unknown as Page;
  page.attach(document.createElement("parent-wrapper"));
  return page;
}

/** Lets pending promises and zero-delay timers run. */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i += 1) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** Waits for real time to pass (debounce, polling), then settles. */
export async function wait(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  await settle();
}

/** The visible text of an element of the page, spaces collapsed. */
export function textOf(page: Page, selector: string): string {
  const found = page.querySelector(selector);
  return found?.dom ? (found.dom.textContent ?? "").replace(/\s+/g, " ").trim() : "";
}

/** Loads a module of dist/ (the same instance the rendered pages use). */
export function distModule<T>(relative: string): T {
  return require(path.join(DIST, relative)) as T;
}
