import { registerDifferentialTests } from './differential.js';

// Part 2 of 3 of the differential test against bash (test/policy/differential.ts).
registerDifferentialTests(2, 3);
