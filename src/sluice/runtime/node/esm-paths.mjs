// A module resolve hook (registered by index.mjs before an ES module handler is imported): a bare
// specifier that Node's ES module resolution cannot find from the importing file is looked up in
// the runtime's node_modules folders (layers, then the SDK), which ES modules otherwise ignore
// because they do not read NODE_PATH. Lambda's Node runtimes resolve these the same way.

import path from 'node:path';
import { pathToFileURL } from 'node:url';

let parents = [];

export async function initialize(data) {
  // Resolving "x" from a file inside folder F looks in F/node_modules/x first.
  parents = (data?.folders ?? []).map((folder) => pathToFileURL(path.join(path.dirname(folder), 'index.mjs')).href);
}

function isBare(specifier) {
  return !(
    specifier.startsWith('./') ||
    specifier.startsWith('../') ||
    specifier.startsWith('/') ||
    specifier.includes(':')
  );
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !isBare(specifier)) throw error;
    for (const parentURL of parents) {
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch (again) {
        if (again?.code !== 'ERR_MODULE_NOT_FOUND') throw again;
      }
    }
    throw error;
  }
}
