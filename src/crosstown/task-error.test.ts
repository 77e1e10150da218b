import { describe, expect, it } from 'vitest';
import { TASK_ERROR_CODES, serializeError, taskError, toError } from './task-error.js';

describe('toError', () => {
  it('rebuilds the class by name, with the remote message, stack and props', () => {
    for (const Class of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]) {
      const error = toError({ name: Class.name, message: 'm', stack: `${Class.name}: m\n    at remote (/x.mjs:1:1)`, code: 'E_X', extra: { n: 1 } });
      expect(error).toBeInstanceOf(Class);
      expect(error).toMatchObject({ name: Class.name, message: 'm', code: 'E_X', extra: { n: 1 } });
      expect(error.stack).toBe(`${Class.name}: m\n    at remote (/x.mjs:1:1)`);
    }
  });

  it('keeps an unknown class name on a plain Error, and rebuilds causes', () => {
    const error = toError({ name: 'QuotaError', message: 'over', cause: { name: 'TypeError', message: 'inner' } });
    expect(error.constructor).toBe(Error);
    expect(error.name).toBe('QuotaError');
    expect(String(error)).toBe('QuotaError: over');
    expect(error.cause).toBeInstanceOf(TypeError);
    expect(toError({ name: 'Error', message: 'x', cause: 42 }).cause).toBe(42);
  });

  it('passes real Errors through and wraps anything else', () => {
    const real = new RangeError('r');
    expect(toError(real)).toBe(real);
    expect(toError('oops')).toMatchObject({ message: 'task failed with a non-error value: "oops"' });
    expect(toError({ message: 1 })).toBeInstanceOf(Error);
    expect(toError(null).message).toBe('task failed with a non-error value: null');
  });
});

describe('serializeError', () => {
  it('keeps name, message, stack, own props and the cause chain (to a depth of five)', () => {
    let error: Error = new Error('e0');
    for (let i = 1; i <= 7; i++) error = new Error(`e${i}`, { cause: error });
    let serialized: unknown = serializeError(Object.assign(error, { code: 'E_TOP' }));
    expect(serialized).toMatchObject({ name: 'Error', message: 'e7', code: 'E_TOP', stack: expect.stringMatching(/^Error: e7\n/) });
    const messages: string[] = [];
    while (serialized) {
      messages.push((serialized as { message: string }).message);
      serialized = (serialized as { cause?: unknown }).cause;
    }
    expect(messages).toEqual(['e7', 'e6', 'e5', 'e4', 'e3', 'e2']);
  });

  it('describes thrown non-errors and props that cannot be cloned', () => {
    expect(serializeError(undefined)).toEqual({ name: 'Error', message: 'task threw a non-error value: undefined', thrown: undefined });
    expect(serializeError(Object.assign(new Error('x'), { socket: () => 1 }))).toMatchObject({ socket: '[not cloneable: function socket]' });
  });
});

describe('taskError', () => {
  it('makes a plain Error with a pool code, details and a cause', () => {
    const cause = new Error('inner');
    const error = taskError(TASK_ERROR_CODES.crashed, 'child 1 exited', { exitCode: 9 }, cause);
    expect(error).toMatchObject({ message: 'child 1 exited', code: 'HX_TASK_CRASHED', exitCode: 9, cause });
  });
});
