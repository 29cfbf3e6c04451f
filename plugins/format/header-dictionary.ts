/**
 * The zlib preset dictionary of .slim headers (format 1.1, RFC 1950 §2.2):
 * JSON fragments that tfjs topologies and slimlab's tensor tables repeat,
 * rarest first (deflate reaches the end of a dictionary most cheaply).
 * A header compressed with it sets zlib's FDICT flag and names it by its
 * Adler-32 (HEADER_DICTIONARY_ID). docs/slim-format.md lists these lines
 * verbatim (a test compares them); they are part of the format and never
 * change: a new dictionary would get a new id and a new minor version.
 *
 * Part of the decode core: no imports.
 */
export const HEADER_DICTIONARY_LINES: readonly string[] = [
  `{"class_name":"Functional","config":{"name":"model","layers":[{"class_name":"InputLayer","config":{"batch_input_shape":[null,28,28,1],"dtype":"float32","sparse":false,"name":"input1"},"name":"input1","inbound_nodes":[]},`,
  `{"class_name":"Add","config":{"name":"add","trainable":true},"name":"add","inbound_nodes":[[["conv",0,0,{}],["input1",0,0,{}]]]},`,
  `{"class_name":"Concatenate","config":{"axis":-1,"name":"concat","trainable":true},"name":"concat","inbound_nodes":[[["conv",0,0,{}]]]}],"input_layers":[["input1",0,0]],"output_layers":[["fc",0,0]]}`,
  `{"class_name":"BatchNormalization","config":{"axis":-1,"momentum":0.99,"epsilon":0.001,"center":true,"scale":true,"beta_initializer":{"class_name":"Zeros","config":{}},"gamma_initializer":{"class_name":"Ones","config":{}},"moving_mean_initializer":{"class_name":"Zeros","config":{}},"moving_variance_initializer":{"class_name":"Ones","config":{}},"beta_regularizer":null,"gamma_regularizer":null,"beta_constraint":null,"gamma_constraint":null,"name":"bn","trainable":true}},`,
  `{"class_name":"DepthwiseConv2D","config":{"kernel_size":[3,3],"depth_multiplier":1,"depthwise_initializer":{"class_name":"VarianceScaling","config":{"scale":1,"mode":"fan_avg","distribution":"normal","seed":null}},"depthwise_regularizer":null,"depthwise_constraint":null,`,
  `{"class_name":"SeparableConv2D","config":{"filters":32,"pointwise_initializer":{"class_name":"VarianceScaling","config":{"scale":1,"mode":"fan_avg","distribution":"uniform","seed":null}},"pointwise_regularizer":null,"pointwise_constraint":null,`,
  `{"class_name":"GlobalAveragePooling2D","config":{"data_format":"channels_last","name":"gap","trainable":true}},`,
  `{"class_name":"AveragePooling2D","config":{"pool_size":[2,2],"padding":"valid","strides":[2,2],"data_format":"channels_last","name":"pool","trainable":true}},`,
  `{"class_name":"MaxPooling2D","config":{"pool_size":[2,2],"padding":"valid","strides":[2,2],"data_format":"channels_last","name":"pool","trainable":true}},`,
  `{"class_name":"Reshape","config":{"target_shape":[28,28,1],"name":"reshape","trainable":true}},`,
  `{"class_name":"Activation","config":{"activation":"relu","name":"relu","trainable":true}},`,
  `{"class_name":"Dropout","config":{"rate":0.5,"noise_shape":null,"seed":null,"name":"dropout","trainable":true}},`,
  `{"class_name":"Flatten","config":{"name":"flatten","trainable":true}},`,
  `{"class_name":"Conv2D","config":{"filters":32,"kernel_initializer":{"class_name":"VarianceScaling","config":{"scale":1,"mode":"fan_avg","distribution":"normal","seed":null}},"kernel_regularizer":null,"kernel_constraint":null,"kernel_size":[5,5],"strides":[1,1],"padding":"same","data_format":"channels_last","dilation_rate":[1,1],"activation":"relu","use_bias":true,"bias_initializer":{"class_name":"Zeros","config":{}},"bias_regularizer":null,"activity_regularizer":null,"bias_constraint":null,"name":"conv","trainable":true,"batch_input_shape":[null,28,28,1],"dtype":"float32"}},`,
  `{"class_name":"Dense","config":{"units":10,"activation":"softmax","use_bias":true,"kernel_initializer":{"class_name":"VarianceScaling","config":{"scale":1,"mode":"fan_avg","distribution":"uniform","seed":null}},"bias_initializer":{"class_name":"Zeros","config":{}},"kernel_regularizer":null,"bias_regularizer":null,"activity_regularizer":null,"kernel_constraint":null,"bias_constraint":null,"name":"fc","trainable":true,"batch_input_shape":[null,784],"dtype":"float32"}}`,
  `{"generator":"slimlab","modelTopology":{"class_name":"Sequential","config":{"name":"model","layers":[]},"keras_version":"tfjs-layers 4.22.0","backend":"tensor_flow.js"},"tensors":[`,
  `{"name":"conv/kernel","shape":[5,5,1,32],"scheme":"affine","offset":0,"length":0,"values":{"type":"linear","bits":8,"axes":[3,4],"params":"scale-zero"},"layout":{"type":"dense-huffman"}},`,
  `{"name":"fc/kernel","shape":[784,300],"scheme":"kmeans","offset":0,"length":0,"values":{"type":"codebook","bits":6,"size":64},"layout":{"type":"csr-huffman","rows":1,"entries":0,"gapBits":5,"pointerBits":15}},`,
  `{"name":"fc/bias","shape":[10],"scheme":"none","offset":0,"length":40,"values":{"type":"float32"},"layout":{"type":"dense"}}],"userDefinedMetadata":{"slimlab":{"masks":["fc/kernel"]}}}`,
];

/** The dictionary's bytes: the lines above, UTF-8, concatenated without separators. */
export const HEADER_DICTIONARY: Uint8Array = new TextEncoder().encode(HEADER_DICTIONARY_LINES.join(""));

/** Adler-32 of the bytes (RFC 1950 §9), as zlib stores it to name a dictionary. */
export function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length; i++) {
    a = (a + bytes[i]) % 65521;
    b = (b + a) % 65521;
  }
  return (b * 65536 + a) >>> 0;
}

/** The id a zlib stream compressed with HEADER_DICTIONARY carries (bytes 2–5, big-endian). */
export const HEADER_DICTIONARY_ID = adler32(HEADER_DICTIONARY);
