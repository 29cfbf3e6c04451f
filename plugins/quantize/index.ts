/**
 * The quantize plugin's public functions (the magic lives in magics.ts).
 */
export { quantize } from "./quantize";
export type { QuantizeOptions, QuantizeResult, CommonOptions as QuantizeCommonOptions, SchemeOptions, Target } from "./quantize";
export { SCHEMES, BITS, checkBits } from "./scheme";
export type { Scheme, BitRange } from "./scheme";
export type { QuantizedTensor, Decoding } from "./quantized";
export { decode, halfToFloat } from "./quantized";
export { quantizeLinear, linearParams } from "./linear";
export { quantizeFloat16, floatToHalf } from "./float16";
export { quantizeKmeans, kmeansCodebook, codebookMse, assignCodes } from "./kmeans";
export { quantizePow2 } from "./pow2";
export { quantizeBinary, quantizeTernary } from "./binary";
export { quantizeTensor } from "./quantizer";
export type { LayerConfig } from "./quantizer";
export { QuantizeRegistry, builtinQuantizables } from "./registry";
export { applyQuantized, quantizedWeights, staleQuantized } from "./apply";
export { saveQuantized, loadCompact, packCodes, unpackCodes } from "./export";
export { huffmanCode, huffmanLengths } from "./huffman";
export { errorStats, tensorBits } from "./metrics";
export { FakeQuant, fakeQuantize, registerQuantizeLayers } from "./fake-quant";
export { calibrate } from "./calibrate";
export type { Observer } from "./calibrate";
export { quantizationAwareTrain } from "./qat";
export { fineTuneCentroids, clusterGradients } from "./centroids";
export { sparseBits, storageBits, csrStreams, csrEntropyBits } from "./sparse-size";
export type { SparseBits, CsrEntropy } from "./sparse-size";
export { survivorMask } from "./quantized";
export { clusteredValues } from "./kmeans";
export { chooseBits } from "./mixed";
export { displayQuantizeResult } from "./magics";
