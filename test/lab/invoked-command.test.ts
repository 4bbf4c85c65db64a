import { afterEach, describe, expect, it } from 'vitest';
import { commandForMessage, setInvokedCommand } from '../../src/lab/invoked-command.js';
import { requireNetAdmin } from '../../src/lab/privileges.js';

describe('the command a refusal names', () => {
  afterEach(() => setInvokedCommand(undefined));

  it('is the step when no command was recorded (a library caller)', () => {
    expect(commandForMessage('ddplab up')).toBe('ddplab up');
  });

  it('is the command the user ran when the step is part of its work', () => {
    setInvokedCommand('ddplab run');
    expect(commandForMessage('ddplab up')).toBe('ddplab run');
    expect(commandForMessage('ddplab status')).toBe('ddplab run');
    setInvokedCommand('ddplab bench');
    expect(commandForMessage('ddplab up')).toBe('ddplab bench');
  });

  it('keeps the step when it spells out the command run', () => {
    setInvokedCommand('ddplab down');
    expect(commandForMessage('ddplab down --all')).toBe('ddplab down --all');
    setInvokedCommand('ddplab run');
    expect(commandForMessage('ddplab run --target')).toBe('ddplab run --target');
  });

  it.runIf(process.getuid?.() === 0)('root passes whatever the command', () => {
    setInvokedCommand('ddplab run');
    expect(() => requireNetAdmin('ddplab up')).not.toThrow();
  });
});
