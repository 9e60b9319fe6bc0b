import { ggFrameCodec } from './gg-frame.ts';
import type { ReaderCodec } from './reader-codec.ts';

/** Reader codecs by protocol name (the device's serial.protocol). */
export const READER_CODECS: Record<string, ReaderCodec> = {
  [ggFrameCodec.name]: ggFrameCodec,
};
