import { describe, expect, it } from 'vitest';
import { checkAddress, parseCidr } from '../../src/runtimes/index.js';

describe('webhook target address checks', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['0.0.0.0', '"this network"'],
    ['0.1.2.3', '"this network"'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456:789a::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'IPv4-embedded loopback'],
    ['::ffff:7f00:1', 'IPv4-embedded loopback'],
    ['::ffff:10.1.2.3', 'IPv4-embedded private'],
    ['::ffff:169.254.169.254', 'IPv4-embedded link-local'],
    ['64:ff9b::a00:1', 'IPv4-embedded private'],
    ['2002:c0a8:0101::1', 'IPv4-embedded private'],
    ['[::1]', 'loopback'],
  ])('refuses %s (%s)', (address, reason) => {
    expect(checkAddress(address)).toEqual({ forbidden: true, reason });
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '172.15.255.255', '100.128.0.1', '192.169.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '2a00:1450:4001:80b::200e'])(
    'allows public address %s',
    (address) => {
      expect(checkAddress(address)).toEqual({ forbidden: false });
    },
  );

  it('refuses what is not an IP address', () => {
    expect(checkAddress('localhost').forbidden).toBe(true);
    expect(checkAddress('1.2.3').forbidden).toBe(true);
    expect(checkAddress('1.2.3.256').forbidden).toBe(true);
  });

  it('lets the operator allow specific private ranges', () => {
    const allowed = ['10.1.2.0/24', 'fd00:1::/32', '127.0.0.2'].map((c) => parseCidr(c)!);
    expect(checkAddress('10.1.2.77', allowed)).toEqual({ forbidden: false });
    expect(checkAddress('::ffff:10.1.2.77', allowed)).toEqual({ forbidden: false });
    expect(checkAddress('10.1.3.1', allowed).forbidden).toBe(true);
    expect(checkAddress('fd00:1:2::9', allowed)).toEqual({ forbidden: false });
    expect(checkAddress('fd00:2::9', allowed).forbidden).toBe(true);
    expect(checkAddress('127.0.0.2', allowed)).toEqual({ forbidden: false });
    expect(checkAddress('127.0.0.1', allowed).forbidden).toBe(true);
  });

  it('parses CIDRs and rejects malformed ones', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ v6: false, net: 0x0a000000n, prefix: 8 });
    expect(parseCidr('::1')).toEqual({ v6: true, net: 1n, prefix: 128 });
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'fd00::/129', 'x/1', '10.0.0.0/8/1', '']) expect(parseCidr(bad), bad).toBeNull();
  });
});
