import { describe, expect, it } from 'vitest';
import { normalizeOcrPlate, pickPlate, plateKind } from '../../models/plates.ts';
import type { TextLine } from '../../models/ppocr.ts';

const line = (text: string, score: number): TextLine => ({ text, score, box: { points: [[0, 0], [1, 0], [1, 1], [0, 1]], score: 1 } });

describe('Chinese plate formats', () => {
  it.each([
    ['闽A·12345', 'regular'],
    ['京B·AB123', 'regular'],
    ['粤Z·1234港', 'regular'],
    ['闽A·1234警', 'regular'],
    ['闽a 12345', 'regular'],
    ['闽A·D12345', 'new-energy-small'],
    ['沪A·FA1234', 'new-energy-small'],
    ['苏E·12345D', 'new-energy-large'],
  ])('%s is a %s plate', (text, kind) => expect(plateKind(text)).toBe(kind));

  it.each(['闽A·1234', '闽I·12345', '闽A·O2345', 'XA·12345', '闽A·1234567', '出口', '停车场入口', '12345', '闽·A12345X', '港A·12345'])('%s is not a plate', (text) =>
    expect(plateKind(text)).toBeNull(),
  );

  it('normalises the separators OCR may produce', () => {
    expect(normalizeOcrPlate('闽A.12345')).toBe('闽A12345');
    expect(normalizeOcrPlate('闽a·d12345')).toBe('闽AD12345');
  });

  it('picks the most confident valid line at or above the threshold, in canonical form', () => {
    expect(pickPlate([line('欢迎光临', 0.99), line('闽A12345', 0.93), line('闽A·12346', 0.91)], 0.9)?.plate).toBe('闽A·12345');
    expect(pickPlate([line('闽A12345', 0.85)], 0.9)).toBeNull();
    expect(pickPlate([line('闽AD12345', 0.95)], 0.9)).toMatchObject({ plate: '闽A·D12345', kind: 'new-energy-small' });
  });
});
