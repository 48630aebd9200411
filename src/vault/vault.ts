import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { VaultError } from '../errors.js';

export type CredentialKind = 'private-key' | 'password';

interface SealedEntry {
  kind: CredentialKind;
  iv: string;
  tag: string;
  data: string;
  createdAt: string;
}

interface VaultFile {
  version: 1;
  entries: Record<string, SealedEntry>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Upstream credentials encrypted at rest with AES-256-GCM (NIST SP 800-38D): a fresh
 * 96-bit IV per entry, the entry's name and kind as additional authenticated data so
 * an entry cannot be swapped for another. The master key comes from config or the
 * environment and is never written beside the vault. Values are never logged or printed.
 */
export class Vault {
  private constructor(
    readonly file: string,
    private readonly key: Buffer,
  ) {
    if (key.length !== 32) throw new TypeError('vault master key must be 32 bytes');
  }

  static open(file: string, masterKey: Buffer | null): Vault {
    if (!masterKey) throw new VaultError('no vault master key configured (vault.masterKey or vault.masterKeyFile)');
    return new Vault(file, masterKey);
  }

  private read(): VaultFile {
    if (!existsSync(this.file)) return { version: 1, entries: {} };
    let doc: VaultFile;
    try {
      doc = JSON.parse(readFileSync(this.file, 'utf8')) as VaultFile;
    } catch {
      throw new VaultError(`vault file ${this.file} is not valid JSON`);
    }
    if (doc?.version !== 1 || typeof doc.entries !== 'object') throw new VaultError(`vault file ${this.file} has an unknown format`);
    return doc;
  }

  private write(doc: VaultFile): void {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  list(): { name: string; kind: CredentialKind; createdAt: string }[] {
    return Object.entries(this.read().entries)
      .map(([name, e]) => ({ name, kind: e.kind, createdAt: e.createdAt }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  add(name: string, kind: CredentialKind, value: Buffer): void {
    if (!NAME.test(name)) throw new VaultError('a vault entry name is 1-64 letters, digits, ".", "_" or "-"');
    if (value.length === 0) throw new VaultError('the credential is empty');
    const doc = this.read();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(aad(name, kind));
    const data = Buffer.concat([cipher.update(value), cipher.final()]);
    doc.entries[name] = {
      kind,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
      createdAt: new Date().toISOString(),
    };
    this.write(doc);
  }

  remove(name: string): boolean {
    const doc = this.read();
    if (!(name in doc.entries)) return false;
    delete doc.entries[name];
    this.write(doc);
    return true;
  }

  get(name: string): { kind: CredentialKind; value: Buffer } {
    const e = this.read().entries[name];
    if (!e) throw new VaultError(`no vault entry named ${JSON.stringify(name)}`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(e.iv, 'base64'));
      decipher.setAAD(aad(name, e.kind));
      decipher.setAuthTag(Buffer.from(e.tag, 'base64'));
      return { kind: e.kind, value: Buffer.concat([decipher.update(Buffer.from(e.data, 'base64')), decipher.final()]) };
    } catch {
      // Same message for a wrong key and a tampered entry: GCM cannot tell them apart.
      throw new VaultError(`vault entry ${JSON.stringify(name)} cannot be decrypted (wrong master key or tampered entry)`);
    }
  }
}

function aad(name: string, kind: CredentialKind): Buffer {
  return Buffer.from(`shellgate-vault-v1\0${name}\0${kind}`);
}
