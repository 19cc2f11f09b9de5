/**
 * H.264 + AAC renditions. Quality is constant (CRF) with a bitrate cap, so simple slides cost little
 * and busy scenes cannot blow up a segment. Sources smaller than the preset are not upscaled.
 */
export interface Preset {
  height: number;
  crf: number;
  maxrateKbps: number;
  audioKbps: number;
}

export const PRESETS = {
  '240p': { height: 240, crf: 28, maxrateKbps: 400, audioKbps: 64 },
  '360p': { height: 360, crf: 26, maxrateKbps: 800, audioKbps: 96 },
  '540p': { height: 540, crf: 24, maxrateKbps: 1800, audioKbps: 128 },
  '720p': { height: 720, crf: 23, maxrateKbps: 3000, audioKbps: 128 },
  '1080p': { height: 1080, crf: 22, maxrateKbps: 6000, audioKbps: 160 },
} as const satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;

export const PRESET_NAMES = Object.keys(PRESETS) as [PresetName, ...PresetName[]];

export const DEFAULT_PRESET: PresetName = '720p';
