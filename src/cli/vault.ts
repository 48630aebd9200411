import { readFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { Vault } from '../vault/vault.js';
import { configFromFlag } from './config-flag.js';
import { parseFlags, print, type CliIO } from './io.js';

export const help = `usage: shellgate vault add NAME (--key FILE | --password-stdin) [--config FILE]
       shellgate vault list [--json] [--config FILE]
       shellgate vault remove NAME [--config FILE]

Manage upstream credentials, encrypted at rest (AES-256-GCM) under the master key from
vault.masterKey / vault.masterKeyFile. Values are never printed.
`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    config: { type: 'string' },
    key: { type: 'string' },
    'password-stdin': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const [action, name, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument ${extra[0]}`);
  const config = configFromFlag(values.config, io);
  const vault = Vault.open(config.vault.file, config.vault.masterKey);
  switch (action) {
    case 'add': {
      if (!name) throw new UsageError('vault add needs a NAME');
      if (!!values.key === !!values['password-stdin']) throw new UsageError('give exactly one of --key FILE or --password-stdin');
      let value: Buffer;
      if (values.key) value = readFileSync(path.resolve(io.cwd, values.key));
      else {
        const chunks: Buffer[] = [];
        for await (const c of io.stdin) chunks.push(Buffer.from(c as Buffer));
        value = Buffer.from(Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, ''), 'utf8');
      }
      vault.add(name, values.key ? 'private-key' : 'password', value);
      value.fill(0);
      print(io.stdout, `stored ${name} (${values.key ? 'private key' : 'password'})`);
      return 0;
    }
    case 'list': {
      const list = vault.list();
      if (values.json) print(io.stdout, JSON.stringify(list));
      else if (list.length === 0) print(io.stdout, '(no credentials)');
      else for (const e of list) print(io.stdout, `${e.name}\t${e.kind}\t${e.createdAt}`);
      return 0;
    }
    case 'remove': {
      if (!name) throw new UsageError('vault remove needs a NAME');
      if (!vault.remove(name)) {
        io.stderr.write(`shellgate vault: no entry named ${name}\n`);
        return 1;
      }
      print(io.stdout, `removed ${name}`);
      return 0;
    }
    default:
      throw new UsageError('vault needs one of: add, list, remove');
  }
}
