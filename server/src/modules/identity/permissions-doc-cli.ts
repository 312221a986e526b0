import fs from 'node:fs';
import path from 'node:path';
import { renderPermissionsDoc } from './permissions-doc';
import { permissionChecks } from '../../graphql/permission-checks';
import { buildDeclaredSchema } from '../../graphql/schema';

/** `npm run docs:permissions`: writes docs/PERMISSIONS.md from the catalogue. */
const target = path.resolve(process.cwd(), 'docs/PERMISSIONS.md');
fs.writeFileSync(target, renderPermissionsDoc(permissionChecks(buildDeclaredSchema())));
console.log(`wrote ${path.relative(process.cwd(), target)}`);
