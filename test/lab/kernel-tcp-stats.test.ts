import { describe, expect, it } from 'vitest';
import { kernelTcpDelta, parseKernelTcpCounters } from '../../src/lab/kernel-tcp-stats.js';

const SNMP = `Ip: Forwarding DefaultTTL InReceives
Ip: 2 64 100
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 0 2 0 0 2 1000 2000 17 0 0 3
Udp: InDatagrams NoPorts
Udp: 0 0
TcpExt: SyncookiesSent TCPFastRetrans TCPTimeouts
TcpExt: 0 12 1
IpExt: InNoRoutes
IpExt: 0
`;

describe('kernel TCP counters', () => {
  it('reads the Tcp and TcpExt groups under their nstat names', () => {
    const c = parseKernelTcpCounters(SNMP);
    expect(c['TcpRetransSegs']).toBe(17);
    expect(c['TcpInCsumErrors']).toBe(3);
    expect(c['TcpMaxConn']).toBe(-1);
    expect(c['TcpExtTCPFastRetrans']).toBe(12);
    expect(c['IpInReceives']).toBeUndefined();
    expect(c['UdpInDatagrams']).toBeUndefined();
  });

  it('keeps only the counters that moved', () => {
    const a = parseKernelTcpCounters(SNMP);
    const b = parseKernelTcpCounters(SNMP.replace('1000 2000 17', '1500 2600 40'));
    expect(kernelTcpDelta(a, b)).toEqual({ TcpInSegs: 500, TcpOutSegs: 600, TcpRetransSegs: 23 });
  });
});
