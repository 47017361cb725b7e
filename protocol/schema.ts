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

/** True when a value of this schema contains bytes somewhere (so JSON needs a base64 conversion). */
export function hasBytes(s: Schema): boolean {
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
}
