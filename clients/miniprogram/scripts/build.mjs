// Builds the mini-program into dist/ as WeChat DevTools opens it: tsc's JavaScript, the pages' wxml/wxss/json, and
// miniprogram_npm packed from the dependencies by miniprogram-ci's packNpmManually (what DevTools' 构建 npm does).
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const SOURCE = join(ROOT, "miniprogram");
const DIST = join(ROOT, "dist");
const COPIED = new Set([".json", ".wxml", ".wxss", ".wxs", ".png", ".jpg", ".svg"]);
const PAGE_FILES = [".js", ".json", ".wxml", ".wxss"];
const require = createRequire(import.meta.url);

function compileTypeScript() {
  const tsc = require.resolve("typescript/bin/tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.json")], { stdio: "inherit" });
  if (result.status !== 0) throw new Error(`tsc failed (exit ${result.status})`);
}

function copyAssets(folder) {
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) copyAssets(path);
    else if (COPIED.has(extname(name))) {
      const target = join(DIST, relative(SOURCE, path));
      mkdirSync(dirname(target), { recursive: true });
      cpSync(path, target);
    }
  }
}

async function packNpm() {
  // miniprogram-ci logs through console.log at load: keep the build's output about the build.
  const ci = require("miniprogram-ci");
  const result = await ci.packNpmManually({
    packageJsonPath: join(ROOT, "package.json"),
    miniprogramNpmDistDir: DIST,
  });
  if (result.warnList.length > 0) throw new Error(`packNpm warned: ${JSON.stringify(result.warnList)}`);
  return result;
}

// Every page app.json names must be complete, or DevTools refuses to open the project.
function checkPages() {
  const app = JSON.parse(readFileSync(join(DIST, "app.json"), "utf8"));
  const missing = ["app.js", "app.json", "app.wxss"].filter((file) => !existsSync(join(DIST, file)));
  for (const page of app.pages) {
    for (const ext of PAGE_FILES) if (!existsSync(join(DIST, page + ext))) missing.push(page + ext);
  }
  if (missing.length > 0) throw new Error(`dist/ lacks ${missing.join(", ")}`);
  return app.pages.length;
}

rmSync(DIST, { recursive: true, force: true });
compileTypeScript();
copyAssets(SOURCE);
const packed = await packNpm();
const pages = checkPages();
console.log(
  `built dist/: ${pages} pages, ${packed.miniProgramPackNum} mini-program npm package(s) in miniprogram_npm/`,
);
