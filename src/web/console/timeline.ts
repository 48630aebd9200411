import type { AuditRow } from './session-data.js';

export interface TimelineItem {
  seq: number;
  ts: string;
  type: string;
  /** Seconds into the session's playback (clicking seeks here). */
  time: number;
  kind: 'start' | 'allow' | 'deny' | 'approve' | 'approval' | 'result' | 'end' | 'other';
  label: string;
  command: string | null;
  detail: string | null;
}

const str = (v: unknown) => (typeof v === 'string' ? v : null);

/** The events a reviewer reads, in order, each with its place in the playback. */
export function buildTimeline(events: AuditRow[], times: Map<number, number>): TimelineItem[] {
  const out: TimelineItem[] = [];
  for (const e of events) {
    const b = e.body;
    const base = { seq: e.seq, ts: e.ts, type: e.type, time: times.get(e.seq) ?? 0, command: null as string | null, detail: null as string | null };
    switch (e.type) {
      case 'session.start':
        out.push({ ...base, kind: 'start', label: 'session started', detail: [str(b.client) ?? str(b.clientAddress), str(b.channelKind)].filter(Boolean).join(' ') || null });
        break;
      case 'command.decision': {
        const d = str(b.decision) ?? '?';
        out.push({
          ...base,
          kind: d === 'allow' ? 'allow' : d === 'deny' ? 'deny' : 'approve',
          label: d === 'allow' ? 'allowed' : d === 'deny' ? 'denied' : 'approval required',
          command: str(b.command),
          detail: [b.rule ? `rule ${String(b.rule)}` : null, str(b.reason)].filter(Boolean).join(' · ') || null,
        });
        break;
      }
      case 'shell.start':
        out.push({ ...base, kind: 'allow', label: 'shell opened', detail: b.pty ? 'with a terminal' : null });
        break;
      case 'approval.requested':
        out.push({ ...base, kind: 'approval', label: `approval #${String(b.approval)} requested`, command: str(b.command), detail: b.approvers ? `needs ${String(b.approvers)} approver(s)` : null });
        break;
      case 'approval.decided':
        out.push({
          ...base,
          kind: 'approval',
          label: `${b.decision === 'approve' ? 'approved' : 'denied'} by ${String(b.approver ?? '?')}`,
          detail: [b.via ? `via ${String(b.via)}` : null, str(b.reason)].filter(Boolean).join(' · ') || null,
        });
        break;
      case 'approval.resolved':
        out.push({ ...base, kind: 'approval', label: `approval #${String(b.approval)} ${String(b.decision)}`, detail: null });
        break;
      case 'command.result': {
        const det = b.detectors && typeof b.detectors === 'object' ? Object.entries(b.detectors as Record<string, unknown>) : [];
        out.push({
          ...base,
          kind: 'result',
          label: exitLabel(b),
          detail: [det.length ? 'masked: ' + det.map(([k, v]) => `${k}×${String(v)}`).join(', ') : null, str(b.error), provenance(b)].filter(Boolean).join(' · ') || null,
        });
        break;
      }
      case 'shell.end':
        out.push({ ...base, kind: 'end', label: `shell ended, ${exitLabel(b)}`, detail: [str(b.reason), provenance(b)].filter(Boolean).join(' · ') || null });
        break;
      case 'recording.sealed':
        break;
      case 'session.terminated':
        out.push({ ...base, kind: 'end', label: `terminated by ${String(b.actor ?? '?')}`, detail: str(b.reason) });
        break;
      case 'session.end':
        out.push({ ...base, kind: 'end', label: 'session ended', detail: [str(b.reason), provenance(b)].filter(Boolean).join(' · ') || null });
        break;
      default:
        out.push({ ...base, kind: 'other', label: e.type, detail: null });
    }
  }
  return out;
}

/** `exit N`, `signal NAME`, or no status at all (the upstream vanished, or the gateway stopped first). */
function exitLabel(b: Record<string, unknown>): string {
  if (b.signal) return `signal ${String(b.signal)}`;
  return typeof b.exit === 'number' ? `exit ${b.exit}` : 'no exit status';
}

/** Events not written when they happened: at the next start (recovered) or once the log could be written again (late). */
function provenance(b: Record<string, unknown>): string | null {
  if (b.recovered === true) return 'written when the gateway restarted';
  if (b.late === true) return 'logged late (the audit log could not be written at the time)';
  return null;
}
