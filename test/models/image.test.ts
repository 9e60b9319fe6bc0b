import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, decodeRegion, ImageDecodeError, imageSize, type RgbImage } from '../../models/image.ts';

/** A 1080p JPEG with detail everywhere (a colour gradient under a fine checker), so a misplaced region shows. */
async function frame(): Promise<Buffer> {
  const width = 1920, height = 1080;
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const checker = ((x >> 3) + (y >> 3)) % 2 ? 40 : 0;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = 100 + checker;
    }
  return sharp(data, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

const pixel = (image: RgbImage, x: number, y: number) => [...image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3)];

describe('decodeRegion: a part of a frame at its working size', () => {
  let jpeg: Buffer;
  let whole: RgbImage;
  beforeAll(async () => {
    jpeg = await frame();
    whole = await decodeImage(jpeg, 960);
  });

  it('gives the pixels the whole working-size decode has there, and maps working-size points into them', async () => {
    const at = { width: whole.width, height: whole.height };
    const { image, toRegion } = await decodeRegion(jpeg, { xmin: 301.4, ymin: 120.2, xmax: 420.7, ymax: 260.9 }, at);
    expect(image.width).toBeGreaterThanOrEqual(120);
    expect(image.width).toBeLessThanOrEqual(122);
    let diff = 0, n = 0;
    for (const [x, y] of [[310, 130], [350, 200], [400, 250], [305, 255]] as const) {
      const rx = Math.round(x * toRegion.kx - toRegion.ox), ry = Math.round(y * toRegion.ky - toRegion.oy);
      const a = pixel(image, rx, ry), b = pixel(whole, x, y);
      for (let c = 0; c < 3; c++) (diff += Math.abs(a[c]! - b[c]!)), n++;
    }
    expect(diff / n).toBeLessThan(2);
  });

  it('clamps an area reaching past the frame to the frame', async () => {
    const at = { width: whole.width, height: whole.height };
    const { image, toRegion } = await decodeRegion(jpeg, { xmin: -40, ymin: 500, xmax: 60, ymax: 700 }, at);
    expect(image.width).toBe(60);
    expect(image.height).toBe(40);
    expect(toRegion.ox).toBe(0);
    expect(pixel(image, 10, 10)).toEqual(pixel(whole, 10, Math.round(10 + toRegion.oy / toRegion.ky)));
  });

  it('extracts without resampling when the working size is the frame size', async () => {
    const full = await decodeImage(jpeg, 1920);
    const { image, toRegion } = await decodeRegion(jpeg, { xmin: 1000, ymin: 600, xmax: 1010, ymax: 605 }, { width: 1920, height: 1080 });
    expect([image.width, image.height, toRegion.kx, toRegion.ox, toRegion.oy]).toEqual([10, 5, 1, 1000, 600]);
    expect(image.data.equals(Buffer.concat(Array.from({ length: 5 }, (_, r) => full.data.subarray(((600 + r) * 1920 + 1000) * 3, ((600 + r) * 1920 + 1010) * 3))))).toBe(true);
  });
});

describe('imageSize: a frame\'s size from its header, as decodeImage orients it', () => {
  it('reads JPEG and PNG headers, swaps the sides for EXIF orientations 5–8, and refuses what is not an image', async () => {
    const jpeg = await sharp({ create: { width: 320, height: 200, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    expect(await imageSize(jpeg)).toEqual({ width: 320, height: 200 });
    const turned = await sharp(jpeg).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const decoded = await decodeImage(turned, 1000);
    expect(await imageSize(turned)).toEqual({ width: decoded.width, height: decoded.height });
    expect(await imageSize(turned)).toEqual({ width: 200, height: 320 });
    const png = await sharp(jpeg).png().toBuffer();
    expect(await imageSize(png)).toEqual({ width: 320, height: 200 });
    await expect(imageSize(Buffer.from('not an image at all'))).rejects.toBeInstanceOf(ImageDecodeError);
  });
});
