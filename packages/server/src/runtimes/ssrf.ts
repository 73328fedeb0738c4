// Address checks for outbound calls a tenant points the hub at (SSRF: webhooks, provider base URLs).
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';

type Range = { v6: boolean; net: bigint; prefix: number; reason: string };

function parseIPv4(s: string): bigint | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseIPv6(input: string): bigint | null {
  let s = input;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (isIP(s) !== 6) return null;
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hextets.
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseIPv4(tail);
    if (v4 === null) return null;
    s = `${s.slice(0, lastColon + 1)}${((v4 >> 16n) & 0xffffn).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? head.length !== 8 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  return v;
}

/** An IP address as a number and its family, or null when the string is not an IP address. */
export function parseIp(address: string): { v6: boolean; value: bigint } | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const v4 = parseIPv4(bare);
  if (v4 !== null) return { v6: false, value: v4 };
  const v6 = parseIPv6(bare);
  return v6 === null ? null : { v6: true, value: v6 };
}

function range(cidr: string, reason: string): Range {
  const parsed = parseCidr(cidr);
  if (!parsed) throw new Error(`bad CIDR ${cidr}`);
  return { ...parsed, reason };
}

/** `10.0.0.0/8`, `fd00::/8`, or a bare address (a /32 or /128). Null when malformed. */
export function parseCidr(cidr: string): { v6: boolean; net: bigint; prefix: number } | null {
  const [addr, bits, ...extra] = cidr.trim().split('/');
  if (!addr || extra.length > 0) return null;
  const ip = parseIp(addr);
  if (!ip) return null;
  const width = ip.v6 ? 128 : 32;
  const prefix = bits === undefined ? width : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > width) return null;
  return { v6: ip.v6, net: ip.value, prefix };
}

function inRange(ip: { v6: boolean; value: bigint }, r: { v6: boolean; net: bigint; prefix: number }): boolean {
  if (ip.v6 !== r.v6) return false;
  const shift = BigInt((ip.v6 ? 128 : 32) - r.prefix);
  return ip.value >> shift === r.net >> shift;
}

const FORBIDDEN: Range[] = [
  range('0.0.0.0/8', '"this network"'),
  range('10.0.0.0/8', 'private'),
  range('100.64.0.0/10', 'carrier-grade NAT'),
  range('127.0.0.0/8', 'loopback'),
  range('169.254.0.0/16', 'link-local'),
  range('172.16.0.0/12', 'private'),
  range('192.0.0.0/24', 'IETF protocol assignments'),
  range('192.168.0.0/16', 'private'),
  range('198.18.0.0/15', 'benchmarking'),
  range('224.0.0.0/4', 'multicast'),
  range('240.0.0.0/4', 'reserved'),
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('fe80::/10', 'link-local'),
  range('fec0::/10', 'site-local'),
  range('fc00::/7', 'unique-local'),
  range('ff00::/8', 'multicast'),
  range('64:ff9b:1::/48', 'local-use NAT64'),
  range('2001::/32', 'Teredo'),
];

/** IPv6 forms that carry an IPv4 address: mapped, compatible, NAT64 and 6to4. */
function embeddedIPv4(ip: { v6: boolean; value: bigint }): { v6: false; value: bigint } | null {
  if (!ip.v6) return null;
  const v = ip.value;
  if (v >> 32n === 0xffffn) return { v6: false, value: v & 0xffffffffn }; // ::ffff:a.b.c.d
  if (v >> 32n === 0n && v > 1n) return { v6: false, value: v & 0xffffffffn }; // ::a.b.c.d (deprecated)
  if (v >> 32n === 0x64ff9b0000000000000000n) return { v6: false, value: v & 0xffffffffn }; // 64:ff9b::/96
  if (v >> 112n === 0x2002n) return { v6: false, value: (v >> 80n) & 0xffffffffn }; // 6to4 2002:aabb:ccdd::/48
  return null;
}

export interface AddressVerdict {
  forbidden: boolean;
  reason?: string;
}

/**
 * Whether an outbound call may connect to `address`: loopback, private, link-local, unique-local, CGNAT, "this
 * network", multicast and reserved ranges are refused (also when embedded in IPv6), unless `allowed` (parsed CIDRs)
 * covers the address. A string that is not an IP address is refused.
 */
export function checkAddress(address: string, allowed: ReadonlyArray<{ v6: boolean; net: bigint; prefix: number }> = []): AddressVerdict {
  const ip = parseIp(address);
  if (!ip) return { forbidden: true, reason: 'not an IP address' };
  const v4 = embeddedIPv4(ip);
  if (allowed.some((r) => inRange(ip, r) || (v4 !== null && inRange(v4, r)))) return { forbidden: false };
  for (const candidate of v4 ? [ip, v4] : [ip]) {
    const hit = FORBIDDEN.find((r) => inRange(candidate, r));
    if (hit) return { forbidden: true, reason: candidate === v4 ? `IPv4-embedded ${hit.reason}` : hit.reason };
  }
  return { forbidden: false };
}

export type Cidr = { v6: boolean; net: bigint; prefix: number };
export type ResolveHost = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

/** Every address the system resolver gives for a host name, in its order. */
export const defaultResolve: ResolveHost = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** A URL's hostname without the brackets of an IPv6 literal. */
export function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/** The addresses a URL host leads to: the host itself when it is an IP literal, else its DNS answers (may throw). */
export async function hostAddresses(hostname: string, resolve: ResolveHost = defaultResolve): Promise<Array<{ address: string; family: number }>> {
  const host = bareHost(hostname);
  const family = isIP(host);
  return family ? [{ address: host, family }] : resolve(host);
}

/** The first of `addresses` an outbound call may not connect to, with why (see checkAddress). */
export function firstForbidden(addresses: ReadonlyArray<{ address: string }>, allowed: ReadonlyArray<Cidr> = []): { address: string; reason: string } | undefined {
  for (const { address } of addresses) {
    const verdict = checkAddress(address, allowed);
    if (verdict.forbidden) return { address, reason: verdict.reason ?? 'private' };
  }
  return undefined;
}
