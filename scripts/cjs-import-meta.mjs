// Injected into the CommonJS bundle of the CLI (scripts/bundle-cli.mjs), which has no import.meta:
// the url is the bundle's own, as import.meta.url is a module's.
import { pathToFileURL } from 'node:url';

export const importMeta = { url: pathToFileURL(__filename).href };
