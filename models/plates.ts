import type { TextLine } from './ppocr.ts';

const PROVINCES = '京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼';
const LETTER = 'A-HJ-NP-Z'; // I and O are not used on plates

/** Chinese plate layouts (edge-models.md §3): GA 36 regular, and the two new-energy layouts. */
export const PLATE_PATTERNS: Record<PlateKind, RegExp> = {
  regular: new RegExp(`^[${PROVINCES}][${LETTER}][${LETTER}0-9]{4}[${LETTER}0-9挂学警港澳]$`),
  'new-energy-small': new RegExp(`^[${PROVINCES}][${LETTER}][DF][${LETTER}0-9][0-9]{4}$`),
  'new-energy-large': new RegExp(`^[${PROVINCES}][${LETTER}][0-9]{5}[DF]$`),
};

export type PlateKind = 'regular' | 'new-energy-small' | 'new-energy-large';

export interface PlateReading {
  /** Canonical form with the separator dot, e.g. 闽A·12345, as the registry writes plates. */
  plate: string;
  kind: PlateKind;
  confidence: number;
  line: TextLine;
}

/** Uppercase, without the separator dot and spaces (OCR reads "·" as "·", "." or nothing). */
export function normalizeOcrPlate(text: string): string {
  return text.replace(/[\s·•.\-_:]/g, '').toUpperCase();
}

/** The layout a string matches, or null when it is not a plate (scene text, signs, partial reads). */
export function plateKind(text: string): PlateKind | null {
  const plain = normalizeOcrPlate(text);
  for (const [kind, pattern] of Object.entries(PLATE_PATTERNS) as [PlateKind, RegExp][]) if (pattern.test(plain)) return kind;
  return null;
}

export function formatPlate(plain: string): string {
  return `${plain.slice(0, 2)}·${plain.slice(2)}`;
}

/** The best valid plate among recognised lines, at or above the confidence threshold. */
export function pickPlate(lines: TextLine[], minConfidence: number): PlateReading | null {
  let best: PlateReading | null = null;
  for (const line of lines) {
    if (line.score < minConfidence) continue;
    const kind = plateKind(line.text);
    if (!kind) continue;
    if (!best || line.score > best.confidence) best = { plate: formatPlate(normalizeOcrPlate(line.text)), kind, confidence: line.score, line };
  }
  return best;
}
