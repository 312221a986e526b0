import fs from 'node:fs';
import path from 'node:path';
import { renderPermissionsDoc } from './permissions-doc';

/** `npm run docs:permissions`: writes docs/PERMISSIONS.md from the catalogue. */
const target = path.resolve(process.cwd(), 'docs/PERMISSIONS.md');
fs.writeFileSync(target, renderPermissionsDoc());
console.log(`wrote ${path.relative(process.cwd(), target)}`);
