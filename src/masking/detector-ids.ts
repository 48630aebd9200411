/** The built-in detectors, in priority order (a finding contained in an earlier detector's finding is not reported twice). */
export const DETECTOR_IDS: readonly string[] = Object.freeze([
  'vaulted-secret',
  'private-key',
  'aws-access-key-id',
  'aws-secret-access-key',
  'github-token',
  'gitlab-token',
  'slack-token',
  'stripe-key',
  'google-api-key',
  'jwt',
  'url-credentials',
  'bearer-token',
  'password-assignment',
  'credit-card',
  'us-ssn',
]);

/** The one detector a policy can never turn off. */
export const ALWAYS_ON = 'vaulted-secret';
