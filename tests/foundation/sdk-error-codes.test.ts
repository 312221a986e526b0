import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../server/src/shared/errors';
import { ROOT } from '../support/build';

/** The SDK's list of server error codes is generated from the ErrorCode enum (`npm run codegen`), never copied. */
describe('the SDK error codes', () => {
  it('client-sdk/src/generated/error-codes.ts is what `npm run codegen` writes from the enum (run it when this fails)', async () => {
    const { ERROR_CODE_SOURCES, errorCodesModule } = (await import(path.join(ROOT, 'client-sdk/scripts/error-codes.mjs'))) as {
      ERROR_CODE_SOURCES: string[];
      errorCodesModule: (sources: Array<{ name: string; text: string }>) => string;
    };
    const expected = errorCodesModule(ERROR_CODE_SOURCES.map((name) => ({ name, text: fs.readFileSync(path.join(ROOT, name), 'utf8') })));
    expect(fs.readFileSync(path.join(ROOT, 'client-sdk/src/generated/error-codes.ts'), 'utf8')).toBe(expected);
  });

  it('lists every value of the enum', async () => {
    const { SERVER_ERROR_CODES } = await import('../../client-sdk/src/generated/error-codes.js');
    expect(SERVER_ERROR_CODES).toEqual(expect.arrayContaining(Object.values(ErrorCode)));
  });
});
