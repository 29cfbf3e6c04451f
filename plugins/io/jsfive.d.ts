/**
 * The part of jsfive (a pure-JS HDF5 reader, which ships no typings) that
 * keras-h5.ts uses. jsfive throws strings as well as Errors.
 */
declare module "jsfive" {
  /** An attribute's value: a number or string for a scalar, an array otherwise. */
  export type AttrValue = unknown;

  export class Group {
    readonly name: string;
    readonly keys: string[];
    readonly attrs: Record<string, AttrValue>;
    /** A member by path ("a/b/c"); throws when a part is missing. */
    get(path: string): Group | Dataset | null;
  }

  export class File extends Group {
    constructor(buffer: ArrayBuffer, filename?: string);
  }

  export class Dataset {
    readonly name: string;
    readonly shape: number[];
    /** numpy-style, e.g. "<f4"; an array for strings and references. */
    readonly dtype: string | unknown[];
    readonly attrs: Record<string, AttrValue>;
    /** Every element in row-major order. */
    readonly value: ArrayLike<number | bigint | string>;
  }
}
