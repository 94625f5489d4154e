#!/usr/bin/env node
// The `kmem` command, from the compiled library in dist/ (npm run build; the setup step builds it).
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
