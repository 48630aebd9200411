import { registerDifferentialTests } from './differential.js';

// Part 1 of 3 of the differential test against bash (test/policy/differential.ts).
registerDifferentialTests(1, 3);
