#!/usr/bin/env node
// The `slimlab` command; the code is in kernel/cli/main.ts (built to dist/ by `npm install`).
require("../dist/kernel/cli/main").run(process.argv.slice(2));
