// A module hook for tests: the optional npm packages resolve as if `npm install --omit=optional` had
// left them out (ERR_MODULE_NOT_FOUND), so that a child process shows what a library-only install does.
import { register } from 'node:module';

const hook = `
const MISSING = new Set(['@thi.ng/malloc', 'vega', 'vega-lite', 'webgpu']);
export async function resolve(specifier, context, next) {
  const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
  if (MISSING.has(name)) {
    const error = new Error(\`Cannot find package '\${name}' imported from \${context.parentURL}\`);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
