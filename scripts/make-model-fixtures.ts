/**
 * Builds the committed image fixtures of test/fixtures/images once; the tests never run it.
 *
 *   apt-get download python3-skimage && dpkg -x python3-skimage_*.deb /tmp/sk
 *   npx tsx scripts/make-model-fixtures.ts /tmp/sk/usr/lib/python3/dist-packages/skimage/data
 *
 * Photos: scikit-image's astronaut.png (Eileen Collins, NASA, public domain) and chelsea.png
 * (Stefan van der Walt, CC0), re-encoded as small JPEGs. Plates: rendered with the
 * WenQuanYi Micro Hei font (Debian fonts-wqy-microhei) through sharp's SVG renderer.
 */
import { join } from 'node:path';
import sharp from 'sharp';

const out = join(import.meta.dirname, '..', 'test', 'fixtures', 'images');

interface PlateStyle {
  text: string;
  file: string;
  background: string;
  ink: string;
}

/** A front plate at 440×140 (GA 36 proportions; the longer green plate is 520×140). */
function plateSvg({ text, background, ink }: PlateStyle): string {
  const width = text.length >= 9 ? 520 : 440;
  const size = text.length >= 9 ? 76 : 80;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="140">
  <defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">
    <stop offset="0" stop-color="#f4fff6"/><stop offset="1" stop-color="${background}"/></linearGradient></defs>
  <rect width="${width}" height="140" rx="10" fill="${background === '#2fb255' ? 'url(#g)' : background}"/>
  <rect x="6" y="6" width="${width - 12}" height="128" rx="8" fill="none" stroke="${ink}" stroke-width="3"/>
  <text x="${width / 2}" y="100" font-family="WenQuanYi Micro Hei" font-size="${size}" fill="${ink}" text-anchor="middle" letter-spacing="2">${text}</text>
</svg>`;
}

const plates: PlateStyle[] = [
  { text: '闽A·12345', file: 'plate-blue-12345.png', background: '#1146a8', ink: '#ffffff' },
  { text: '闽A·D12345', file: 'plate-green-D12345.png', background: '#2fb255', ink: '#111111' },
  { text: '闽A·88888', file: 'plate-blue-88888.png', background: '#1146a8', ink: '#ffffff' },
];

async function main(): Promise<void> {
  const skimage = process.argv[2];
  if (skimage) {
    await sharp(join(skimage, 'astronaut.png')).jpeg({ quality: 85, mozjpeg: true }).toFile(join(out, 'astronaut.jpg'));
    await sharp(join(skimage, 'chelsea.png')).jpeg({ quality: 85, mozjpeg: true }).toFile(join(out, 'chelsea.jpg'));
  } else {
    console.warn('no scikit-image data folder given: photos not rebuilt');
  }
  for (const plate of plates) await sharp(Buffer.from(plateSvg(plate))).png().toFile(join(out, plate.file));
  console.log(`fixtures written to ${out}`);
}

await main();
