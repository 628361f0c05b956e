// FlowMate code step: what every sandbox context runs once, when it is made. It hardens the context so that runs
// sharing it cannot see one another (no code from strings, every intrinsic frozen, the global object restored after
// each run) and returns the harness that runs one step and the reset that follows it. Runs call neither directly:
// both stay outside the global object, held by the engine.
(function () {
  'use strict';
  const g = globalThis;
  const { getOwnPropertyNames, getOwnPropertySymbols, getOwnPropertyDescriptor, getPrototypeOf, defineProperty,
          freeze, isExtensible } = Object;
  const isArray = Array.isArray;
  const parse = JSON.parse;
  const stringify = JSON.stringify;
  const NativeDate = Date;
  const NativeMap = Map;
  const NativeSet = Set;
  const NativeTypeError = TypeError;
  const ownKeys = (o) => [...getOwnPropertyNames(o), ...getOwnPropertySymbols(o)];

  // 1. No code from strings: indirect eval and the Function constructors would evaluate their text as a global
  // script, whose declarations outlive the run.
  delete g.eval;
  const refuse = (what) => function () {
    throw new EvalError(what + ' is not available in a code step (no code from strings)');
  };
  const kinds = [function () {}, async function () {}, function* () {}, async function* () {}];
  const fakeFunction = refuse('Function()');
  for (const f of kinds) {
    const proto = getPrototypeOf(f);
    const fake = f === kinds[0] ? fakeFunction : refuse('the ' + proto[Symbol.toStringTag] + ' constructor');
    fake.prototype = proto;
    defineProperty(proto, 'constructor', { value: fake, writable: false, enumerable: false, configurable: false });
  }
  defineProperty(g, 'Function', { value: fakeFunction, writable: true, enumerable: false, configurable: true });

  // 2. Assigning a property that a frozen built-in prototype has (toString, name, message, constructor) makes it
  // the object's own property instead of failing ("the override mistake"), so `err.name = 'MyError'` works.
  const tame = (proto, name) => {
    const d = getOwnPropertyDescriptor(proto, name);
    if (!d || !('value' in d) || !d.configurable) return;
    const value = d.value;
    defineProperty(proto, name, {
      get() { return value; },
      set(v) {
        if (this === proto) {
          throw new NativeTypeError('Cannot assign to read only property ' + String(name) + ' of a built-in prototype');
        }
        defineProperty(this, name, { value: v, writable: true, enumerable: true, configurable: true });
      },
      enumerable: d.enumerable,
      configurable: false,
    });
  };
  for (const name of getOwnPropertyNames(Object.prototype)) tame(Object.prototype, name);
  const errors = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError];
  if (typeof AggregateError === 'function') errors.push(AggregateError);
  for (const E of errors) for (const name of ['name', 'message', 'constructor', 'toString']) tame(E.prototype, name);
  for (const name of ['toString', 'constructor']) tame(Function.prototype, name);

  // 3. Freeze every object reachable from the global object, and the intrinsics that are reachable only through
  // syntax (iterator, generator and async function prototypes).
  const hidden = [
    ...kinds.map((f) => getPrototypeOf(f)),
    getPrototypeOf([][Symbol.iterator]()), getPrototypeOf(getPrototypeOf([][Symbol.iterator]())),
    getPrototypeOf(new Map().entries()), getPrototypeOf(new Set().values()), getPrototypeOf(''[Symbol.iterator]()),
    getPrototypeOf(/a/[Symbol.matchAll]('')), getPrototypeOf(Int8Array),
    getPrototypeOf((function* () {})()), getPrototypeOf((async function* () {})()),
  ];
  const seen = new NativeSet();
  const todo = [g, ...hidden];
  while (todo.length) {
    const o = todo.pop();
    if ((typeof o !== 'object' && typeof o !== 'function') || o === null || seen.has(o)) continue;
    seen.add(o);
    for (const key of ownKeys(o)) {
      const d = getOwnPropertyDescriptor(o, key);
      if ('value' in d) todo.push(d.value); else todo.push(d.get, d.set);
    }
    todo.push(getPrototypeOf(o));
  }
  seen.delete(g);
  for (const o of seen) freeze(o);

  // 4. The global object takes new properties during a run, and `reset` deletes them afterwards; what it has now
  // (the built-ins) cannot be changed or deleted. `reset` answers false when it cannot put the global object back
  // (a run froze it, or defined a property that cannot be deleted): the engine then throws the context away.
  for (const k of ownKeys(g)) {
    const d = getOwnPropertyDescriptor(g, k);
    if (d.configurable) {
      if ('value' in d) d.writable = false;
      d.configurable = false;
      defineProperty(g, k, d);
    }
  }
  const baseline = new NativeSet(ownKeys(g));
  const count = baseline.size;
  const reset = function () {
    if (!isExtensible(g)) return false;
    const keys = ownKeys(g);
    if (keys.length === count) return true;
    for (const k of keys) {
      if (!baseline.has(k) && !delete g[k]) return false;
    }
    return true;
  };

  // 5. The harness: one step's run. Console lines are kept up to `maxLines` and `maxBytes`; the result must be
  // JSON (no functions, symbols, BigInts or cycles) and at most `maxResult` characters of it.
  const show = (v) => {
    if (typeof v === 'string') return v;
    if (v instanceof Error) return String(v.name) + ': ' + String(v.message);
    if (typeof v === 'function') return '[Function ' + (v.name || 'anonymous') + ']';
    if (typeof v === 'symbol' || typeof v === 'bigint' || v === undefined) return String(v);
    try {
      return stringify(v, (k, x) => (typeof x === 'bigint' ? String(x) + 'n' : typeof x === 'function' ? '[Function]' : x)) ?? String(v);
    } catch (e) {
      return '[unprintable: ' + String(e && e.message) + ']';
    }
  };
  const toJson = (v, maxResult) => {
    let bad = null;
    let text;
    try {
      text = stringify(v === undefined ? null : v, function (key, x) {
        const t = typeof x;
        if (bad === null && (t === 'function' || t === 'symbol' || t === 'bigint')) {
          bad = 'the result is not JSON: it holds a ' + (t === 'bigint' ? 'BigInt' : t) +
            (key === '' ? '' : ' (under "' + key + '")') + '; return plain data';
        }
        return t === 'function' || t === 'symbol' || t === 'bigint' ? null : x;
      });
    } catch (e) {
      if (e instanceof NativeTypeError && /circular/i.test(String(e.message))) {
        return { codeError: 'the result is not JSON: it holds a cycle (an object that contains itself)' };
      }
      throw e;
    }
    if (bad !== null) return { codeError: bad };
    if (text.length > maxResult) {
      return { codeError: 'the result is ' + text.length + ' characters of JSON, more than the ' + maxResult +
        ' a code step may return (FLOWMATE_CODE_MAX_RESULT_BYTES)' };
    }
    return { out: text };
  };
  // The console writes to the current run's sink ({lines: [], dropped: 0}), which belongs to the engine: it reads
  // the lines whether the run succeeds or not. One console object serves every run; it is frozen.
  let sink = null;
  let bytes = 0;
  let maxLines = 0;
  let maxBytes = 0;
  const line = (level) => (...args) => {
    if (sink === null) return;
    let message = '';
    for (let i = 0; i < args.length; i++) message += (i ? ' ' : '') + show(args[i]);
    const logs = sink.lines;
    if (logs.length >= maxLines || bytes + message.length > maxBytes) {
      sink.dropped++;
      return;
    }
    bytes += message.length;
    logs[logs.length] = { level, message, at: new NativeDate().toISOString() };
  };
  const console = freeze({
    log: line('info'), info: line('info'), warn: line('warn'), error: line('error'), debug: line('debug'),
    trace: line('debug'),
  });
  const harness = async function (fn, input) {
    const { each, maxResult } = input;
    sink = input.sink;
    bytes = 0;
    maxLines = input.maxLines;
    maxBytes = input.maxBytes;
    // `$msg` and `$steps` come as null when the code does not name them (nor `arguments`): nothing else can reach
    // them, and parsing them would cost every run.
    const data = parse(input.data);
    const $msg = parse(input.msg);
    const $steps = parse(input.steps);
    const $flow = freeze(parse(input.flow));
    const $execution = freeze(parse(input.execution));
    let result;
    if (each && isArray(data)) {
      result = [];
      for (let i = 0; i < data.length; i++) result[i] = await fn(data[i], $msg, $steps, $flow, $execution, console);
    } else {
      result = await fn(data, $msg, $steps, $flow, $execution, console);
    }
    const json = toJson(result, maxResult);
    sink = null;
    return json;
  };
  return { harness, reset };
})()
