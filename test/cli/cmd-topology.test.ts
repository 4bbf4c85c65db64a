import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const BIN = new URL('../../bin/ddplab.js', import.meta.url).pathname;

async function ddplab(args: string[]): Promise<{ code: number | undefined; stderr: string; stdout: string }> {
  const r = await execa(process.execPath, [BIN, ...args], { reject: false });
  return { code: r.exitCode, stderr: r.stderr, stdout: r.stdout };
}

describe('ddplab up / down / status', () => {
  it('down needs exactly one of --id and --all, said in one line', async () => {
    for (const args of [['down'], ['down', '--id', 'a1', '--all']]) {
      const r = await ddplab(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('ddplab: ddplab down needs exactly one of --id <id> or --all');
    }
    const r = await ddplab(['down', '--id', 'a1', '--force']);
    expect(r.stderr).toBe('ddplab: ddplab down: --force goes with --all');
  });

  it('up refuses a bad MTU and a bad id before touching anything', async () => {
    expect((await ddplab(['up', '--mtu', 'big'])).stderr).toBe('ddplab: bad --mtu "big": use a number 68..65535');
    expect((await ddplab(['up', '--id', 'Bad_Id'])).stderr).toBe('ddplab: bad run id "Bad_Id": use 1 to 8 characters from [a-z0-9]');
  });

  it('names the veth segmentation offloads --veth-offloads; --offloads still works, with a one-line notice', async () => {
    const help = (await ddplab(['up', '--help'])).stdout;
    expect(help).toMatch(/--veth-offloads\b/);
    expect(help).not.toMatch(/--offloads\b/);
    const r = await ddplab(['up', '--offloads', '--id', 'Bad_Id']);
    expect(r.stderr.split('\n')).toEqual([
      "ddplab: --offloads is deprecated, use --veth-offloads (the kernel's segmentation offloads on the veth pair)",
      'ddplab: bad run id "Bad_Id": use 1 to 8 characters from [a-z0-9]',
    ]);
    expect((await ddplab(['up', '--veth-offloads', '--id', 'Bad_Id'])).stderr).toBe('ddplab: bad run id "Bad_Id": use 1 to 8 characters from [a-z0-9]');
  });

  it('lists the three commands in the help', async () => {
    const r = await ddplab(['--help']);
    for (const cmd of ['up', 'down', 'status']) expect(r.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
  });
});
