/**
 * The lazy command table (src/cli/commands.ts) and the grouped help
 * (src/cli/help-groups.ts): the table says what each module registers, and
 * `run --help` shows every option under a heading, with examples.
 */
import { describe, expect, it } from 'vitest';
import { buildProgram, COMMANDS, commandNameOf } from '../../src/cli/commands.js';
import { HELP_EXAMPLES, HELP_GROUPS } from '../../src/cli/help-groups.js';

describe('the command table', () => {
  it('finds the command a command line runs', () => {
    expect(commandNameOf(['run', '--size', '64k'])).toBe('run');
    expect(commandNameOf(['--help'])).toBeUndefined();
    expect(commandNameOf(['help', 'bench'])).toBe('bench');
    expect(commandNameOf(['peer', 'linux-host', '--help'])).toBe('peer');
  });

  for (const entry of COMMANDS) {
    it(`${entry.name}: the module registers it with the table's description`, async () => {
      const program = await buildProgram(entry.name);
      const cmd = program.commands.find((c) => c.name() === entry.name)!;
      expect(cmd.description()).toBe(entry.description);
      // Registered for real: it has an action or subcommands (a stub has neither).
      expect(cmd.options.length + cmd.commands.length).toBeGreaterThan(0);
      // Every command is still listed, in the table's order.
      expect(program.commands.map((c) => c.name())).toEqual(COMMANDS.map((c) => c.name));
    });
  }

  it('without a command: every command is a stub with its description', async () => {
    const program = await buildProgram(undefined);
    const help = program.helpInformation();
    for (const entry of COMMANDS) expect(help).toContain(`  ${entry.name}`);
    expect(program.commands.every((c) => c.options.length === 0)).toBe(true);
  });
});

describe('grouped help', () => {
  it('run: every option is under a heading of its table, none under "Options:", and examples end it', async () => {
    const program = await buildProgram('run');
    const run = program.commands.find((c) => c.name() === 'run')!;
    const headings = new Set(HELP_GROUPS.run!.map(([h]) => h));
    for (const o of run.options) expect(headings, `${o.long}`).toContain(o.helpGroupHeading);
    let out = '';
    run.configureOutput({ writeOut: (s) => (out += s) });
    run.outputHelp();
    expect(out).not.toMatch(/^Options:$/m);
    for (const h of headings) expect(out).toContain(`\n${h}\n`);
    expect(out).toMatch(/^ {2}-h, --help +display help for command$/m);
    expect(out).toMatch(/\nExamples:\n {2}# .+\n {2}ddplab run /);
    expect(out).toContain('ddplab run --target ');
  });

  for (const name of ['host', 'bench', 'replay'] as const) {
    it(`${name}: every option is in its table`, async () => {
      const program = await buildProgram(name);
      const cmd = program.commands.find((c) => c.name() === name)!;
      const headings = new Set(HELP_GROUPS[name]!.map(([h]) => h));
      for (const o of cmd.options) expect(headings, `${name} ${o.long}`).toContain(o.helpGroupHeading);
    });
  }

  it('the examples use only flags their command has', async () => {
    for (const [name, examples] of Object.entries(HELP_EXAMPLES)) {
      const program = await buildProgram(name);
      const cmd = program.commands.find((c) => c.name() === name)!;
      const flags = new Set(cmd.options.map((o) => o.long));
      for (const [, line] of examples) {
        for (const flag of line.match(/(?<=\s)--[a-z][a-z0-9_-]*/g) ?? []) expect(flags, `${name}: ${line}`).toContain(flag);
      }
    }
  });
});
