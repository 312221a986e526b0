import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { printSdl } from '../../server/src/graphql/schema';

const SDL_PATH = path.resolve(__dirname, '../../schema/schema.graphql');

describe('schema/schema.graphql', () => {
  it('is the SDL the code declares (run `npm run schema` when this fails)', () => {
    expect(fs.readFileSync(SDL_PATH, 'utf8')).toBe(printSdl());
  });

  it('declares the @auth directive', () => {
    expect(printSdl()).toContain('directive @auth(requires: [Permission!]!) on FIELD_DEFINITION | INTERFACE | OBJECT');
  });
});
