import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { printSdl } from './schema';

/** `npm run schema`: writes schema/schema.graphql from the type-graphql schema. */
const target = path.resolve(process.cwd(), 'schema/schema.graphql');
mkdirSync(path.dirname(target), { recursive: true });
writeFileSync(target, printSdl());
console.log(`wrote ${path.relative(process.cwd(), target)}`);
