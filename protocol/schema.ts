/**
 * A tiny schema language for wire messages. The operation table (ops.ts) is written in it, and everything else is
 * derived from it: the TypeScript types, the JSON validator, the binary encoder and decoder.
 */

export interface UintS { readonly kind: 'uint' }
export interface StrS { readonly kind: 'str' }
export interface BytesS { readonly kind: 'bytes' }
export interface BoolS { readonly kind: 'bool' }
export interface OptS<T extends Schema> { readonly kind: 'opt'; readonly of: T }
export interface NullableS<T extends Schema> { readonly kind: 'nullable'; readonly of: T }
export interface ArrS<T extends Schema> { readonly kind: 'arr'; readonly of: T }
export interface ObjS<F extends Fields> { readonly kind: 'obj'; readonly fields: F }

export type Schema =
  | UintS
  | StrS
  | BytesS
  | BoolS
  | OptS<Schema>
  | NullableS<Schema>
  | ArrS<Schema>
  | ObjS<Fields>;
export type Fields = { readonly [name: string]: Schema };

/** A non-negative safe integer (varint on the binary wire). */
export const uint: UintS = { kind: 'uint' };
/** A UTF-8 string. */
export const str: StrS = { kind: 'str' };
/** Raw bytes: base64 in JSON, length-prefixed bytes in binary. */
export const bytes: BytesS = { kind: 'bytes' };
export const bool: BoolS = { kind: 'bool' };
/** A field that may be absent. Only meaningful inside obj(). */
export const opt = <T extends Schema>(of: T): OptS<T> => ({ kind: 'opt', of });
/** A value that is present but may be null. */
export const nullable = <T extends Schema>(of: T): NullableS<T> => ({ kind: 'nullable', of });
export const arr = <T extends Schema>(of: T): ArrS<T> => ({ kind: 'arr', of });
export const obj = <F extends Fields>(fields: F): ObjS<F> => ({ kind: 'obj', fields });

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type RequiredKeys<F extends Fields> = { [K in keyof F]: F[K] extends OptS<Schema> ? never : K }[keyof F];
type OptionalKeys<F extends Fields> = { [K in keyof F]: F[K] extends OptS<Schema> ? K : never }[keyof F];

/** The TypeScript type of a value described by schema S. */
export type Infer<S extends Schema> = S extends UintS
  ? number
  : S extends StrS
    ? string
    : S extends BytesS
      ? Uint8Array
      : S extends BoolS
        ? boolean
        : S extends NullableS<infer T>
          ? Infer<T> | null
          : S extends OptS<infer T>
            ? Infer<T> | undefined
            : S extends ArrS<infer T>
              ? Infer<T>[]
              : S extends ObjS<infer F>
                ? Simplify<
                    { [K in RequiredKeys<F>]: Infer<F[K]> } & {
                      [K in OptionalKeys<F>]?: F[K] extends OptS<infer T> ? Infer<T> : never;
                    }
                  >
                : never;

/**
 * Memoizes a function of a schema, per schema object. The codecs compile each schema of the table once into the
 * functions that read, write or check its values, instead of interpreting the schema for every message.
 */
export function perSchema<T>(compile: (s: Schema) => T): (s: Schema) => T {
  const done = new WeakMap<Schema, T>();
  return (s) => {
    let v = done.get(s);
    if (v === undefined) done.set(s, (v = compile(s)));
    return v;
  };
}

/** True when a value of this schema contains bytes somewhere (so JSON needs a base64 conversion). */
export const hasBytes = perSchema((s): boolean => {
  switch (s.kind) {
    case 'bytes':
      return true;
    case 'opt':
    case 'nullable':
    case 'arr':
      return hasBytes(s.of);
    case 'obj':
      return Object.values(s.fields).some(hasBytes);
    default:
      return false;
  }
});

/*
 * Generated code, for what the codecs do with each field of an object. A loop of `o[name]` over the objects of every
 * schema makes each access site megamorphic: V8 looks every property up in a shared cache, and objects built by
 * adding properties one by one change shape with each. An object literal and `o.name` with fixed names get one shape
 * per schema and sites V8 specialises: a binary message event decodes in a third less time than with such a loop.
 * Only the table's field names, checked to be plain identifiers, are ever written into the code.
 */

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** The field names of an obj schema, in table order, checked to be safe as `o.name` and `{ name: … }` in code. */
export function fieldNames(s: ObjS<Fields>): string[] {
  const names = Object.keys(s.fields);
  for (const k of names)
    if (!IDENTIFIER.test(k) || k === '__proto__') throw new Error(`the field name "${k}" cannot be compiled`);
  return names;
}

/**
 * Compiles `(params) => { body }`, in which each name of `bindings` refers to its value: for instance
 * generate({ f: [g, h] }, 'v', 'f[0](v.a); f[1](v.b);') is `(v) => { g(v.a); h(v.b); }`.
 */
export function generate<T>(bindings: Record<string, unknown>, params: string, body: string): T {
  const outer = new Function(...Object.keys(bindings), `'use strict'; return (${params}) => { ${body} };`);
  return (outer as (...values: unknown[]) => T)(...Object.values(bindings));
}

/**
 * The statements that build and return an object of an obj schema, its fields in table order, from one JavaScript
 * expression per field (`value(i, name)`); an optional field is left out when its value is undefined.
 */
export function buildObject(s: ObjS<Fields>, value: (i: number, name: string) => string): string {
  const names = fieldNames(s);
  // The leading required fields go into the literal; from the first optional field on, properties are added in
  // order, so the object's properties (and so its JSON) keep the table's order.
  let lead = names.findIndex((k) => s.fields[k]!.kind === 'opt');
  if (lead < 0) lead = names.length;
  const literal = names.slice(0, lead).map((k, i) => `${k}: ${value(i, k)}`);
  const rest = names.slice(lead).map((k, j) => {
    const i = lead + j;
    return s.fields[k]!.kind === 'opt'
      ? `x = ${value(i, k)}; if (x !== undefined) o.${k} = x;`
      : `o.${k} = ${value(i, k)};`;
  });
  const declare = lead < names.length ? ['let x;'] : [];
  return [`const o = { ${literal.join(', ')} };`, ...declare, ...rest, 'return o;'].join(' ');
}
