// Helpers that scripts/build.mjs puts into the bundled CommonJS packages it rewrites (see there).
'use strict';

/**
 * A stand-in for a module that requires it the first time it is used. Good for modules used as `x.name(...)`,
 * `x.Name`, `new x.Name()`, `x()`; not for `new x()` or `class extends x`, which the build never makes lazy.
 */
exports.__gcorpLazy = function __gcorpLazy(load) {
  let loaded;
  const target = () => (loaded ??= load());
  return new Proxy(() => {}, {
    get: (_, key) => target()[key],
    set: (_, key, value) => {
      target()[key] = value;
      return true;
    },
    has: (_, key) => key in target(),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(target(), key);
      // A proxy may not report a property the stand-in lacks as non-configurable.
      if (descriptor) descriptor.configurable = true;
      return descriptor;
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(target()),
    apply: (_, self, args) => Reflect.apply(target(), self, args),
  });
};

// Lower-case letters, `:` and `-`: what command ids are made of, and where `localeCompare` orders as the code points do.
const PLAIN_ID = /^[a-z:-]*$/;

/**
 * `a.localeCompare(b)` for command ids, without building an ICU collator (the first `localeCompare` of a process
 * costs ~7 ms) when both are plain ids, for which the order is the same.
 */
exports.__gcorpCompareIds = function __gcorpCompareIds(a, b) {
  if (PLAIN_ID.test(a) && PLAIN_ID.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return a.localeCompare(b);
};
