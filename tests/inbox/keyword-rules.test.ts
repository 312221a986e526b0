import { describe, expect, it } from 'vitest';
import { compiledRules, matchRules } from '../../server/src/modules/inbox/message-writes';
import { matchPhrase } from '../../server/src/modules/inbox/rules';

/** Keyword rules compiled once per workspace: the same matches as matchPhrase, recompiled when the rules change. */
describe('compiled keyword rules', () => {
  const W = '00000000-0000-4000-8000-0000000000aa';

  it('matches as matchPhrase does, rule by rule', () => {
    const rules = [
      { id: 'r1', phrases: ['refund', 'money back'] },
      { id: 'r2', phrases: ['Café crème'] },
      { id: 'r3', phrases: ['lawyer'] },
    ];
    const texts = ['I want my MONEY back!', 'un cafe creme svp', 'refunds are not refund', 'no match here', 'call my lawyer about the refund'];
    for (const text of texts) {
      const expected = rules.flatMap((r) => {
        const matched = matchPhrase(text, r.phrases);
        return matched ? [{ ruleId: r.id, matched }] : [];
      });
      expect(matchRules(compiledRules(W, rules), text)).toEqual(expected);
    }
  });

  it('is compiled once while the rules stay the same, and again when they change', () => {
    const first = compiledRules(W, [{ id: 'r1', phrases: ['refund'] }]);
    expect(compiledRules(W, [{ id: 'r1', phrases: ['refund'] }])).toBe(first);
    // A rule edited elsewhere (any process) reaches the next message: its phrases are part of the key.
    const edited = compiledRules(W, [{ id: 'r1', phrases: ['chargeback'] }]);
    expect(edited).not.toBe(first);
    expect(matchRules(edited, 'a refund please')).toEqual([]);
    expect(matchRules(edited, 'a chargeback please')).toEqual([{ ruleId: 'r1', matched: 'chargeback' }]);
    // Deactivated (no longer read): nothing matches.
    expect(matchRules(compiledRules(W, []), 'a chargeback please')).toEqual([]);
  });
});
