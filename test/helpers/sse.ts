/** A minimal SSE reader over fetch, for tests: collects events with their ids. */
export interface SseEvent {
  id: string | null;
  event: string | null;
  data: string;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  private controller = new AbortController();
  private done: Promise<void> | null = null;

  constructor(
    private readonly url: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  async open(): Promise<void> {
    const res = await fetch(this.url, { headers: { accept: 'text/event-stream', ...this.headers }, signal: this.controller.signal });
    if (!res.ok || !res.body) throw new Error(`SSE ${this.url}: HTTP ${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    this.done = (async () => {
      let buffer = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += value;
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const ev: SseEvent = { id: null, event: null, data: '' };
            let hasData = false;
            for (const line of block.split('\n')) {
              if (line.startsWith('id: ')) ev.id = line.slice(4);
              else if (line.startsWith('event: ')) ev.event = line.slice(7);
              else if (line.startsWith('data: ')) {
                ev.data += line.slice(6);
                hasData = true;
              }
            }
            if (hasData) this.events.push(ev);
          }
        }
      } catch {
        /* aborted */
      }
    })();
  }

  close(): void {
    this.controller.abort();
  }
}
