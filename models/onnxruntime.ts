/**
 * onnxruntime-node with its telemetry off; every module loads the runtime through this one.
 *
 * ONNX Runtime 1.29 and later ship Microsoft's 1DS telemetry on Linux. Loaded as published, the
 * runtime writes a persistent device id and an offline event cache under
 * `$XDG_CACHE_HOME/Microsoft/DeveloperTools/.onnxruntime`, a debug log and a session file in TMPDIR,
 * and uploads to mobile.events.data.microsoft.com. A gateway of the police grid sends nothing to a
 * third party. `ORT_DISABLE_TELEMETRY=1`, read when the native library initialises, turns all of it
 * off (test/models/telemetry.test.ts checks both ways), so it is set by the module imported first.
 */
import './telemetry-off.ts';
import ort from 'onnxruntime-node';

export default ort;
export type { InferenceSession, Tensor } from 'onnxruntime-node';
