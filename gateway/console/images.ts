/**
 * Where evidence images come from. The console does not own image storage (camera intake does,
 * issue 5); it serves an image only through a source registered here, and only to a logged-in
 * user, writing each view to the audit log. Events point at an image with `payload.imageId`.
 */
export interface ImageSource {
  get(id: string): Promise<{ contentType: string; data: Buffer } | null>;
}

export class ImageSources {
  private source: ImageSource | null = null;

  use(source: ImageSource): void {
    this.source = source;
  }

  get(id: string): Promise<{ contentType: string; data: Buffer } | null> {
    return this.source ? this.source.get(id) : Promise.resolve(null);
  }
}
