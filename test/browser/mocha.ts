import { chai, JestAsymmetricMatchers, JestChaiExpect, JestExtend, getState, setState } from '@vitest/expect';
import type { ExpectStatic } from '@vitest/expect';
import type { TestApi } from '../conformance/harness.js';

// web-test-runner runs mocha, whose functions are globals. The shared suites are written against vitest's expect;
// this builds the same one from @vitest/expect, as vitest itself does.
declare const describe: TestApi['describe'];
declare const it: TestApi['it'];
declare const beforeEach: TestApi['beforeEach'];
declare const afterEach: TestApi['afterEach'];

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

const expect = ((value: unknown, message?: string) => {
  const { assertionCalls } = getState(expect);
  setState({ assertionCalls: assertionCalls + 1 }, expect);
  return chai.expect(value, message);
}) as unknown as ExpectStatic;
Object.assign(expect, chai.expect);
setState({ assertionCalls: 0, isExpectingAssertions: false, isExpectingAssertionsError: null, expectedAssertionsNumber: null, expectedAssertionsNumberErrorGen: null }, expect);

export const t: TestApi = { describe, it, expect, beforeEach, afterEach };
