// The page tests render dist/: say how to make it rather than fail on a missing file.
const { existsSync } = require("node:fs");
const { join } = require("node:path");

module.exports = async () => {
  if (!existsSync(join(__dirname, "..", "..", "dist", "app.json"))) {
    throw new Error("dist/ is missing: run `npm run build` before `npm test`");
  }
};
