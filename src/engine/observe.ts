/**
 * A point of the forward pass where INT8 quantises: the input of a GEMM (by its role, [rows, K]),
 * or `attention`, the qkv GEMM's output that feeds attention ([rows, 3D]: q | k | v). The float
 * engine declares the hook; the INT8 calibration supplies it.
 */
export type ObservedPoint = 'qkv' | 'proj' | 'fc1' | 'fc2' | 'attention';

/** Called with every tensor at an observed point as float32, valid until the next call. */
export type Observe = (layer: number, point: ObservedPoint, x: Float32Array) => void;
