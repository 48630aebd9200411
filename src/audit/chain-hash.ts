import { hash } from 'node:crypto';

/** prev_hash of seq 1. */
export const GENESIS_HASH = '0'.repeat(64);

/** `hash = sha256_hex(prev_hash + "\n" + body)` over UTF-8, as the audit spec defines. */
export function chainHash(prevHash: string, body: string): string {
  return hash('sha256', prevHash + '\n' + body, 'hex'); // one-shot: strings hash as UTF-8
}

/** RFC 3339 UTC with milliseconds (`2026-01-02T03:04:05.678Z`). */
export function auditTimestamp(date: Date = new Date()): string {
  return date.toISOString();
}

export const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
