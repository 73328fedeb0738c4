// Required by the CommonJS modules whose top-level requires scripts/build.mjs makes lazy (see there): a stand-in for a
// module that requires it the first time it is used. Good for modules used as `x.name(...)`, `x.Name`,
// `new x.Name()`, `x()`; not for `new x()` or `class extends x`, which the build never makes lazy.
'use strict';

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
