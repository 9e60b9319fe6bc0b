/**
 * Evaluated before onnxruntime-node (models/onnxruntime.ts imports it first): the runtime reads
 * this once, when its native library initialises, and it must be set by then.
 */
process.env.ORT_DISABLE_TELEMETRY = '1';
