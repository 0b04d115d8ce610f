// Unit tests render the built pages (dist/) with miniprogram-simulate in jsdom; `wx` is a fake from test/helpers.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "jsdom",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.test.json" }] },
  globalSetup: "<rootDir>/test/helpers/require-build.js",
  testTimeout: 15000,
};
