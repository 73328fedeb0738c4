// Type helpers shared by the resources: responses that tolerate values a newer server may add.

/**
 * A string that is none of the values this SDK version knows. `string & Record<never, never>` keeps editors offering
 * the known literals while accepting any string.
 */
export type UnknownString = string & Record<never, never>;

/**
 * A response type as a newer server may send it: every string enum also admits unknown values (so code that
 * handles `status` must allow for one it does not know), recursively. Request types stay exact.
 */
export type Tolerant<T> = T extends string
  ? string extends T
    ? T
    : T | UnknownString
  : T extends readonly (infer U)[]
    ? Tolerant<U>[]
    : T extends object
      ? { [K in keyof T]: Tolerant<T[K]> }
      : T;
