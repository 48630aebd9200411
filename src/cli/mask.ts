import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parse as parseYaml } from 'yaml';
import { parseFlags, type CliIO } from './io.js';
import { compileMasker, DETECTOR_IDS, MaskingConfigError, type Masker } from '../masking/index.js';

export const help = `usage: shellgate mask [--policy FILE] [--detectors id,id] [--report]  < in > out

Masks secrets in stdin and writes the result to stdout, streaming, with the
same masker the gateway uses (one * per character of a secret).

  --policy FILE      apply the policy's masking section (add: regexes, disable: ids)
  --detectors ids    only these built-in detectors (comma-separated)
  --report           write a JSON summary to stderr: counts per detector and
                     byte offsets of each finding (never the secret)

detectors: ${DETECTOR_IDS.join(', ')}
`;

/** Thrown for a bad policy file or flag: one line on stderr, exit 2. */
class MaskUsage extends Error {}

/** Only the policy's `masking: {add, disable}` section (the policy engine owns the rest). */
async function readPolicyMasking(file: string): Promise<{ add: string[]; disable: string[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new MaskUsage(`cannot read policy ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new MaskUsage(`${file}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return { add: [], disable: [] };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new MaskUsage(`${file}: a policy must be a mapping`);
  const section = (doc as Record<string, unknown>).masking;
  if (section === undefined || section === null) return { add: [], disable: [] };
  if (typeof section !== 'object' || Array.isArray(section)) throw new MaskUsage(`${file}: masking: must be a mapping with add and disable`);
  for (const key of Object.keys(section)) {
    if (key !== 'add' && key !== 'disable') throw new MaskUsage(`${file}: masking.${key}: unknown key (expected add, disable)`);
  }
  const list = (key: 'add' | 'disable'): string[] => {
    const v = (section as Record<string, unknown>)[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new MaskUsage(`${file}: masking.${key}: must be a list of strings`);
    return v as string[];
  };
  return { add: list('add'), disable: list('disable') };
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      policy: { type: 'string' },
      detectors: { type: 'string' },
      report: { type: 'boolean' },
    },
    false,
  );
  let masker: Masker;
  try {
    const policy = values.policy ? await readPolicyMasking(path.resolve(io.cwd, values.policy)) : { add: [], disable: [] };
    const only = values.detectors === undefined ? undefined : values.detectors.split(',').map((s) => s.trim()).filter(Boolean);
    if (only && only.length === 0) throw new MaskUsage('--detectors: give at least one detector id');
    const where = values.policy ? `${values.policy}: ` : '';
    try {
      masker = compileMasker({ add: policy.add, disable: policy.disable, ...(only ? { only } : {}) });
    } catch (err) {
      // name the source of the bad option: the policy file or the flag
      if (err instanceof MaskingConfigError) {
        const msg = err.message.replace(/^masking: /, '');
        throw new MaskUsage(msg.startsWith('only:') ? `--detectors: ${msg.slice(6)}` : `${where}masking.${msg}`);
      }
      throw err;
    }
  } catch (err) {
    if (err instanceof MaskUsage || err instanceof TypeError) {
      io.stderr.write(`shellgate mask: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const stream = masker.createStream();
  await pipeline(io.stdin, stream, io.stdout, { end: io.stdout !== process.stdout });
  if (values.report) {
    const counts = stream.counts();
    const findings = stream.findings();
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    io.stderr.write(JSON.stringify({ total, counts, findings }) + '\n');
  }
  return 0;
}
