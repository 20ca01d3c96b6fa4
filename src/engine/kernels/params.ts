import { EngineError } from '../../errors.js';

/** The WGSL types a uniform param may have. */
export type ParamType = 'u32' | 'i32' | 'f32' | 'vec2<u32>' | 'vec2<f32>' | 'vec4<u32>' | 'vec4<f32>';

/** One field of a kernel's `struct Params`; `doc` becomes its WGSL comment. */
export interface ParamField {
  readonly name: string;
  readonly type: ParamType;
  readonly doc?: string;
}

type ValueOf<T extends ParamType> = T extends `vec${string}` ? readonly number[] : number;

/** The values of a params list, one per field, by name. */
export type ParamValues<F extends readonly ParamField[]> = {
  [P in F[number] as P['name']]: ValueOf<P['type']>;
};

/**
 * A kernel's uniform params, declared once: the WGSL `struct Params` (spliced into the kernel at
 * `// vitstream:params`) and the packing of its buffer both come from the same field list.
 */
export interface ParamsLayout<F extends readonly ParamField[] = readonly ParamField[]> {
  readonly fields: F;
  /** Byte offset of each field, by WGSL's uniform layout rules. */
  readonly offsets: Readonly<Record<string, number>>;
  /** Bytes of the packed buffer: the struct's size rounded up to 16 (a uniform binding's minimum). */
  readonly byteLength: number;
  /** `struct Params { ... }` as WGSL. */
  readonly wgsl: string;
  pack(values: ParamValues<F>): ArrayBuffer;
}

/** Size and alignment of each type in WGSL's host-shareable layout. */
const LAYOUT: Record<ParamType, { size: number; align: number; lanes: number }> = {
  u32: { size: 4, align: 4, lanes: 1 },
  i32: { size: 4, align: 4, lanes: 1 },
  f32: { size: 4, align: 4, lanes: 1 },
  'vec2<u32>': { size: 8, align: 8, lanes: 2 },
  'vec2<f32>': { size: 8, align: 8, lanes: 2 },
  'vec4<u32>': { size: 16, align: 16, lanes: 4 },
  'vec4<f32>': { size: 16, align: 16, lanes: 4 },
};

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

export function paramsLayout<const F extends readonly ParamField[]>(fields: F): ParamsLayout<F> {
  const offsets: Record<string, number> = {};
  let end = 0;
  let align = 4;
  for (const f of fields) {
    const { size, align: a } = LAYOUT[f.type];
    offsets[f.name] = roundUp(end, a);
    end = offsets[f.name] + size;
    align = Math.max(align, a);
  }
  const byteLength = roundUp(Math.max(roundUp(end, align), 16), 16);
  const wgsl = [
    'struct Params {',
    ...fields.map((f) => `  ${f.name}: ${f.type},${f.doc ? ` // ${f.doc}` : ''}`),
    '}',
  ].join('\n');
  return {
    fields,
    offsets,
    byteLength,
    wgsl,
    pack(values) {
      const view = new DataView(new ArrayBuffer(byteLength));
      const given = values as Record<string, number | readonly number[]>;
      for (const f of fields) {
        const v = given[f.name];
        const lanes = typeof v === 'number' ? [v] : v;
        if (lanes === undefined || lanes.length !== LAYOUT[f.type].lanes)
          throw new EngineError(
            `kernel params: ${f.name} (${f.type}) needs ${LAYOUT[f.type].lanes} value(s), got ${JSON.stringify(v)}`,
            { input: f.name },
          );
        lanes.forEach((x, i) => {
          const at = offsets[f.name] + 4 * i;
          if (f.type.includes('f32')) view.setFloat32(at, x, true);
          else if (f.type.includes('i32')) view.setInt32(at, x, true);
          else view.setUint32(at, x, true);
        });
      }
      return view.buffer;
    },
  };
}
