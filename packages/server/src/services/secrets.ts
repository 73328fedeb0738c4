// The instance's master secret (JWT signing, CSRF) and the hashes we keep instead of secrets.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Constant-time comparison of two hex digests (or any equal-length strings). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

export function hmac(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('base64url');
}

export interface InstanceKeys {
  jwt: Uint8Array;
  csrf: Buffer;
  /** AES-256-GCM key for secrets the hub must read back (webhook signing secrets). */
  data: Buffer;
}

/** Encrypts a secret for storage: `v1.<iv>.<tag>.<ciphertext>`, base64url parts. */
export function encryptSecret(key: Buffer, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
}

export function decryptSecret(key: Buffer, sealed: string): string {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('unknown secret format');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}

/** Derives purpose-bound keys from GCORP_SECRET_KEY, or from a 0600 file generated once in the data directory. */
export async function loadInstanceKeys(secretKey: string | undefined, dataDir: string): Promise<InstanceKeys> {
  let master = secretKey;
  if (!master) {
    const file = join(dataDir, 'secret.key');
    try {
      master = (await readFile(file, 'utf8')).trim();
    } catch {
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      master = randomBytes(32).toString('base64url');
      await writeFile(file, master + '\n', { mode: 0o600, flag: 'wx' }).catch(async () => {
        master = (await readFile(file, 'utf8')).trim(); // another process won the race
      });
      await chmod(file, 0o600);
    }
  }
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', master!, 'gcorp', info, 32));
  return { jwt: new Uint8Array(derive('jwt-hs256')), csrf: derive('csrf'), data: derive('data-aes-256-gcm') };
}
