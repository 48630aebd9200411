import { registerDifferentialTests } from './differential.js';

// Part 3 of 3 of the differential test against bash (test/policy/differential.ts).
registerDifferentialTests(3, 3);
